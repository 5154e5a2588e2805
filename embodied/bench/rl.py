"""Benchmark ``rl``: the RL stage's rollout and update throughput, and CartPole sample efficiency against
stable-baselines3. Ratios are measured in the same run; fp32 on the CPU, ``threads`` torch threads (default 1).

**Rollout vs evaluation path** (``rollout_vs_eval_ratio``, target ≥ 0.9). The same freshly initialised model
(``configs/model/pointer.yaml``, the quickstart's pointer preset) on the same ``N`` PickPlace envs (primitive
control, 64×64 top camera, sync vector env): env transitions/s of the ``Collector`` (sampling, log-probs, value
head, the observations kept for the update, explicit resets) against the evaluation path (``MMLLMAgent`` greedy
acting + ``envs.step``, what ``embodied eval`` runs). With gymnasium's NEXT_STEP autoreset the evaluation path's
step after an episode's end only resets that sub-env, so those steps are not counted as transitions (PickPlace
episodes last 1–4 steps: counting them would inflate the evaluation path by up to 2×). Interleaved rounds, medians.

**Update vs supervised step** (``update_vs_trainer_ratio``). On CartPole's state model (``configs/model/
cartpole.yaml``): samples/s of PPO updates (minibatches of ``BATCH`` stored steps: forward of the acting head with
teacher forcing, value head, clipped losses, backward, clip, AdamW through the stage's ``Trainer``) against the
supervised ``Trainer`` on batches of the same size with action-token targets.

**CartPole sample efficiency** (``cartpole_*``, skipped with ``quick``). PPO on ``CartPole-v1`` with
rl-baselines3-zoo's tuned hyper-parameters (``configs/experiment/cartpole-ppo.yaml``), evaluated every 10 iterations
(20 greedy episodes on held-out seeds): env steps until the mean return reaches 475. When stable-baselines3 is
installed (the ``bench`` extra), its PPO with the same hyper-parameters (MLP 64-64) runs the same protocol and
``cartpole_steps_ratio`` = ours ÷ theirs (target ≤ 1.5).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
PICKPLACE = {"control": "primitive", "image_size": 64, "cameras": ["top"]}
NUM_ENVS = 4
BATCH = 64
TARGET = 475.0


def _pointer_model() -> Any:
    from embodied.config import load_config
    from embodied.models import MMLLM, MMLLMConfig

    torch.manual_seed(0)
    config = load_config(ROOT / "configs/experiment/pickplace-grpo.yaml")
    return MMLLM(MMLLMConfig(spec=config.model.model_dump(mode="json")))


def _eval_path_steps_per_s(model: Any, steps: int) -> float:
    from embodied.agents.mmllm import MMLLMAgent
    from embodied.envs.vector import make_vector_env

    envs = make_vector_env("embodied/PickPlace-v0", NUM_ENVS, seed=0, **PICKPLACE)
    agent = MMLLMAgent(model, "pointer")
    agent.reset(NUM_ENVS)
    obs, info = envs.reset(seed=0)
    start, transitions = time.perf_counter(), 0
    resetting = np.zeros(NUM_ENVS, dtype=bool)
    for _ in range(steps):
        obs, _, terminated, truncated, info = envs.step(agent.act(obs, info))
        transitions += int((~resetting).sum())  # NEXT_STEP autoreset: a sub-env's step after its end only resets
        resetting = np.asarray(terminated) | np.asarray(truncated)
    elapsed = time.perf_counter() - start
    envs.close()
    return transitions / elapsed


def _rollout_steps_per_s(model: Any, steps: int) -> float:
    from embodied.agents.rl_envs import make_rl_envs
    from embodied.training.rl.policy import ActorCritic
    from embodied.training.rl.rollout import Collector
    from embodied.training.rl.settings import RLSpec

    spec = RLSpec(env="embodied/PickPlace-v0", env_kwargs=PICKPLACE, num_envs=NUM_ENVS)
    envs, decoder = make_rl_envs(spec, NUM_ENVS, model, "pointer")
    collector = Collector(envs, decoder, ActorCritic(model, "pointer", value_hidden=64), spec, "action")
    collector.start()
    start = time.perf_counter()
    collector.steps(steps)
    elapsed = time.perf_counter() - start
    envs.close()
    return NUM_ENVS * steps / elapsed


def rollout_vs_eval(rounds: int, steps: int) -> dict[str, float]:
    model = _pointer_model().eval()
    ours, theirs = [], []
    for _ in range(rounds):
        theirs.append(_eval_path_steps_per_s(model, steps))
        ours.append(_rollout_steps_per_s(model, steps))
    a, b = statistics.median(ours), statistics.median(theirs)
    return {
        "rollout_steps_per_s": round(a, 1),
        "eval_steps_per_s": round(b, 1),
        "rollout_vs_eval_ratio": round(a / b, 3),
    }


def update_vs_trainer(rounds: int, updates: int) -> dict[str, float]:
    """Samples/s of PPO minibatch updates vs supervised Trainer steps on the same model and batch size."""
    from embodied.agents.rl_envs import make_rl_envs
    from embodied.config import load_config
    from embodied.models import MMLLM, MMLLMConfig
    from embodied.training.rl.stage import build_rl_trainer
    from embodied.training.settings import LoopSettings
    from embodied.training.trainer import Trainer, TrainerSettings

    overrides = [f"stages.0.rl.rollout_steps={BATCH // 8}", f"stages.0.rl.algorithm.update_epochs={updates}"]
    config = load_config(ROOT / "configs/experiment/cartpole-ppo.yaml", overrides)
    stage = config.stages[0]
    ours, theirs = [], []
    for _ in range(rounds):
        with tempfile.TemporaryDirectory() as tmp:
            torch.manual_seed(0)
            model = MMLLM(MMLLMConfig(spec=config.model.model_dump(mode="json")))
            settings = TrainerSettings(**stage.model_dump(include=set(LoopSettings.model_fields)), stage="rl")
            rl = build_rl_trainer(stage, settings, model, Path(tmp) / "rl", make_rl_envs, None)
            rollout = rl.algorithm.collect(rl.collector)
            rl.algorithm.prepare(rollout)
            start = time.perf_counter()
            rl.algorithm.update(rollout, rl)
            ours.append(BATCH * updates / (time.perf_counter() - start))
            rl.collector.envs.close()
            head: Any = model.head_map["action"]
            ids = [head.encode(torch.tensor([[[0.5]]]))[0].tolist() for _ in range(BATCH)]
            batch = model.processor(rollout.observations[:BATCH], rollout.prompts[:BATCH], ids)
            sup = TrainerSettings(max_steps=updates, batch_size=1, progress_bar=False, tensorboard=False, stage="sft")
            trainer = Trainer(model, sup, [batch], Path(tmp) / "sft")
            start = time.perf_counter()
            trainer.train()
            theirs.append(BATCH * updates / (time.perf_counter() - start))
    a, b = statistics.median(ours), statistics.median(theirs)
    return {
        "update_samples_per_s": round(a, 1),
        "trainer_samples_per_s": round(b, 1),
        "update_vs_trainer_ratio": round(a / b, 3),
    }


def _ours_cartpole(max_iterations: int) -> int | None:
    """Env steps at which our PPO's greedy mean return (20 held-out episodes) first reaches ``TARGET``."""
    from embodied.agents.rl_envs import make_rl_envs
    from embodied.config import load_config
    from embodied.models import MMLLM, MMLLMConfig
    from embodied.training.rl.stage import build_rl_trainer
    from embodied.training.settings import LoopSettings
    from embodied.training.trainer import TrainerSettings

    config = load_config(ROOT / "configs/experiment/cartpole-ppo.yaml", ["stages.0.rl.eval_episodes=20"])
    stage = config.stages[0]
    torch.manual_seed(config.seed)
    model = MMLLM(MMLLMConfig(spec=config.model.model_dump(mode="json")))
    settings = TrainerSettings(**stage.model_dump(include=set(LoopSettings.model_fields)), stage="rl")
    with tempfile.TemporaryDirectory() as tmp:
        trainer = build_rl_trainer(stage, settings, model, Path(tmp), make_rl_envs, None)
        for iteration in range(1, max_iterations + 1):
            trainer.train(stop_at_step=iteration)
            if iteration % 10 == 0 and trainer._evaluate_episodes().get("episodic_return", 0.0) >= TARGET:
                return int(trainer.collector.env_steps)
    return None


def _sb3_cartpole(max_steps: int) -> int | None:
    """The same protocol with stable-baselines3's PPO and rl-baselines3-zoo's CartPole hyper-parameters."""
    import gymnasium as gym
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env

    class Probe(BaseCallback):
        reached: int | None = None

        def _on_rollout_end(self) -> None:
            if self.n_calls and (self.num_timesteps // 256) % 10 == 0 and self.reached is None:
                env = gym.make("CartPole-v1")
                returns = []
                for k in range(20):
                    obs, _ = env.reset(seed=1_000_000 + k)
                    total, done = 0.0, False
                    while not done:
                        action, _ = self.model.predict(obs, deterministic=True)
                        obs, r, term, trunc, _ = env.step(int(action))
                        total, done = total + float(r), term or trunc
                    returns.append(total)
                if np.mean(returns) >= TARGET:
                    self.reached = self.num_timesteps

        def _on_step(self) -> bool:
            return self.reached is None

    envs = make_vec_env("CartPole-v1", n_envs=8, seed=0)
    model = PPO(
        "MlpPolicy",
        envs,
        n_steps=32,
        batch_size=256,
        n_epochs=20,
        gamma=0.98,
        gae_lambda=0.8,
        learning_rate=lambda f: 1e-3 * f,
        clip_range=lambda f: 0.2 * f,
        ent_coef=0.0,
        seed=0,
        verbose=0,
    )
    probe = Probe()
    model.learn(total_timesteps=max_steps, callback=probe)
    return probe.reached


def run(quick: bool = False, threads: int = 1) -> dict[str, Any]:
    torch.set_num_threads(threads)
    out: dict[str, Any] = {"threads": threads}
    out |= rollout_vs_eval(rounds=1 if quick else 3, steps=3 if quick else 24)
    out |= update_vs_trainer(rounds=1 if quick else 3, updates=2 if quick else 10)
    if quick:
        return out
    ours = _ours_cartpole(max_iterations=780)
    out["cartpole_steps_to_475"] = ours
    try:
        theirs = _sb3_cartpole(max_steps=200_000)
    except ImportError:
        out["cartpole_sb3"] = "stable-baselines3 not installed (pip install -e '.[bench]')"
        return out
    out["cartpole_sb3_steps_to_475"] = theirs
    out["cartpole_steps_ratio"] = None if not (ours and theirs) else round(ours / theirs, 3)
    return out
