"""Build and run an ``rl`` stage: the parent model as an ``ActorCritic``, envs from the composition layer's
factory, the stage's algorithm, and the ``RLTrainer``.

The core never makes envs (``ARCHITECTURE.md`` §2): ``run_stages`` receives an ``EnvFactory`` —
``embodied.agents.rl_envs.make_rl_envs`` when the stage runs through ``embodied train`` — that returns a vector env
(autoreset disabled) and the ``ActionDecoder`` for the acting head. The value head, which ``save_pretrained``
does not know, is saved beside the model's weights as ``value_head.safetensors`` (and loaded from there when a
later rl stage continues from this model).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from embodied.config.rl_stage import default_head
from embodied.config.stages import StageSpec
from embodied.training.continual.base import HookSet
from embodied.training.distributed import process_state
from embodied.training.errors import TrainingError
from embodied.training.rl.algorithms import ALGORITHMS, RLAlgorithm
from embodied.training.rl.policy import VALUE_HEAD_FILE, ActorCritic
from embodied.training.rl.rollout import ActionDecoder, Collector
from embodied.training.rl.settings import RLSpec
from embodied.training.rl.trainer import RLTrainer
from embodied.training.settings import TrainerSettings

__all__ = ["EnvFactory", "build_rl_trainer", "load_value_head", "save_value_head"]

logger = logging.getLogger("embodied")

#: ``(spec, num_envs, model, head) → (vector env with autoreset disabled, ActionDecoder)``
EnvFactory = Callable[[RLSpec, int, Any, str], tuple[Any, ActionDecoder]]


def build_algorithm(spec: RLSpec) -> RLAlgorithm:
    entry, settings = ALGORITHMS.resolve(spec.algorithm)
    algorithm: RLAlgorithm = entry.target(settings, spec)  # type: ignore[call-arg]
    return algorithm


def _prompt_kind(spec: RLSpec, envs: Any, head_kind: str) -> str:
    """``rl.prompt``, with ``auto`` → ``vqa`` when the env's observations carry a question, ``plan`` for a text
    head otherwise, else ``action``."""
    if spec.prompt != "auto":
        return spec.prompt
    space = getattr(envs, "single_observation_space", None)
    if space is not None and hasattr(space, "spaces") and "question" in space.spaces:
        return "vqa"
    return "plan" if head_kind == "text" else "action"


def build_rl_trainer(
    stage: StageSpec,
    settings: TrainerSettings,
    model: Any,
    stage_dir: Path,
    env_factory: EnvFactory | None,
    parent: Path | None,
    hooks: HookSet | None = None,
) -> RLTrainer:
    """The ``RLTrainer`` of an ``rl`` stage (its envs made through ``env_factory``; ``hooks``: its
    continual-learning hooks, whose terms join every minibatch's loss)."""
    spec = stage.rl
    assert spec is not None
    if env_factory is None:
        raise TrainingError(
            f"stage {stage.name!r} is an rl stage and needs envs: run it with `embodied train`, or pass "
            "env_factory=embodied.agents.rl_envs.make_rl_envs to run_stages"
        )
    head = spec.head or default_head(model.config.model_spec, spec.prompt)
    if head is None:
        raise TrainingError(f"stage {stage.name!r}: the model has no head an rl stage can act with")
    algorithm = build_algorithm(spec)
    policy = ActorCritic(model, head, spec.temperature, algorithm.value_hidden)
    if policy.value_head is not None and parent is not None:
        load_value_head(policy, parent)
    kind = str(model.config.model_spec.heads[head]["kind"])
    proc = process_state()
    envs, decoder = env_factory(spec, spec.num_envs, model, head)
    prompt = _prompt_kind(spec, envs, kind)
    collector = Collector(envs, decoder, policy, spec, prompt, (proc.process_index, proc.num_processes))
    eval_collector = None
    if spec.eval_episodes > 0:
        eval_envs, eval_decoder = env_factory(spec, min(spec.num_envs, spec.eval_episodes), model, head)
        eval_collector = Collector(eval_envs, eval_decoder, policy, spec, prompt, (0, 1))
    reference = None
    if float(getattr(algorithm.settings, "kl_coef", 0.0)) > 0 or float(getattr(algorithm.settings, "beta", 0.0)) > 0:
        reference = _frozen_copy(model, parent)
    logger.info(
        "stage %r: %s on %s × %d (%s, head %r, prompt %r)",
        stage.name,
        spec.algorithm["kind"],
        spec.env,
        spec.num_envs,
        spec.vector,
        head,
        prompt,
    )
    return RLTrainer(
        policy,
        settings,
        stage_dir,
        algorithm,
        collector,
        reference,
        eval_collector,
        spec.eval_episodes,
        spec.eval_seed,
        hooks=hooks,
    )


def _frozen_copy(model: Any, parent: Path | None) -> Any:
    """The starting policy, frozen: the parent's saved model (or a copy of the fresh one)."""
    import copy

    reference = type(model).from_pretrained(parent) if parent is not None else copy.deepcopy(model)
    reference.eval()
    for p in reference.parameters():
        p.requires_grad_(False)
    return reference


def save_value_head(policy: ActorCritic, model_dir: Path) -> None:
    """Write the value head beside the saved model's weights and re-seal the model's manifest."""
    if policy.value_head is None:
        return
    from safetensors.torch import save_file

    from embodied.models.integrity import write_model_manifest

    state = {k: v.detach().contiguous() for k, v in policy.value_head.state_dict().items()}
    save_file(state, str(model_dir / VALUE_HEAD_FILE))
    write_model_manifest(model_dir)


def load_value_head(policy: ActorCritic, model_dir: Path) -> bool:
    """Load ``value_head.safetensors`` from a saved model when it is there and fits; whether it was loaded."""
    path = Path(model_dir) / VALUE_HEAD_FILE
    if policy.value_head is None or not path.is_file():
        return False
    from safetensors.torch import load_file

    state = load_file(str(path))
    shapes = {k: tuple(v.shape) for k, v in policy.value_head.state_dict().items()}
    if {k: tuple(v.shape) for k, v in state.items()} != shapes:
        logger.warning("%s does not fit this stage's value head (value_hidden changed?): a new one is trained", path)
        return False
    policy.value_head.load_state_dict(state)
    return True
