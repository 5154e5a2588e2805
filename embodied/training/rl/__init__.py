"""RL feedback from the environment: rollouts in gymnasium vector envs, PPO / GRPO / RLOO, and the ``rl`` stage.

Cheap to import (the config schema reads ``settings``); the torch parts load from their own modules:
``policy`` (actor-critic over any head with a log-prob), ``rollout`` (on-policy experience), ``advantages``
(GAE, group-relative), ``algorithms`` (the ``ALGORITHMS`` registry) and ``trainer`` (the stage's loop, a
``Trainer`` whose step is one iteration).
"""
