"""Demonstration data: the ``Episode`` record, collection from gymnasium envs, LeRobot v3.0 read/write.

``embodied.data`` never imports ``embodied.envs`` or ``embodied.agents``: envs, policies and annotation
functions come in as objects (``collect(make_env, policy, ...)``).
"""

from embodied.data.collect import Annotators, collect
from embodied.data.episode import Episode, VQAPair
from embodied.data.mixture import Mixture
from embodied.data.reader import DatasetError, LeRobotDataset, read_dataset
from embodied.data.samples import KINDS, Sample, make_samples, to_batch
from embodied.data.validate import Problem, describe_dataset, validate_dataset
from embodied.data.writer import write_dataset

__all__ = [
    "KINDS",
    "Annotators",
    "DatasetError",
    "Episode",
    "LeRobotDataset",
    "Mixture",
    "Problem",
    "Sample",
    "VQAPair",
    "collect",
    "describe_dataset",
    "make_samples",
    "read_dataset",
    "to_batch",
    "validate_dataset",
    "write_dataset",
]
