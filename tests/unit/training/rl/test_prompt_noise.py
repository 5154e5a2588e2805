"""``rl.prompt_noise``: the instruct stage's word noise on the prompts of sampled rollouts, deterministic per seed."""

from __future__ import annotations

from tests.unit.training.rl.support import collector_for


def test_prompt_noise_perturbs_sampled_prompts_only_and_repeats_per_seed() -> None:
    noisy, again = collector_for("pointer", num_envs=2, prompt_noise=0.6), collector_for("pointer", num_envs=2)
    try:
        rollout = noisy.episodes([7, 7], [0, 0])  # one group: both sub-envs from seed 7
        clean = again.episodes([7, 7], [0, 0], greedy=True)
        assert rollout.prompts[0] == rollout.prompts[1] != clean.prompts[0]  # a group shares its perturbed prompt
        assert noisy.episodes([7, 7], [0, 0]).prompts == rollout.prompts  # a function of the seed and step
        assert noisy.episodes([7, 7], [0, 0], greedy=True).prompts == clean.prompts  # evaluation sees clean prompts
    finally:
        noisy.envs.close()
        again.envs.close()
