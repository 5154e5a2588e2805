"""Continual-learning hooks (``HOOKS``) that guard earlier skills while a stage trains on a new task.

The contract is in ``base.py``; each built-in hook registers itself in its own file when this package is imported.
"""

from embodied.training.continual import adapters as adapters
from embodied.training.continual import ewc as ewc
from embodied.training.continual import lwf as lwf
from embodied.training.continual import replay as replay
from embodied.training.continual.base import HOOKS, Hook, HookSet, ReplayBatch, TaskContext

__all__ = ["HOOKS", "Hook", "HookSet", "ReplayBatch", "TaskContext"]
