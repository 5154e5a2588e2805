"""RL algorithms, registered in ``ALGORITHMS`` where they are defined (``embodied list`` shows them)."""

from embodied.training.rl.algorithms import grpo, ppo, rloo  # noqa: F401  (imports register the algorithms)
from embodied.training.rl.algorithms.base import ALGORITHMS, Learner, Minibatch, RLAlgorithm, k3_kl

__all__ = ["ALGORITHMS", "Learner", "Minibatch", "RLAlgorithm", "k3_kl"]
