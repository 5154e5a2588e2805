"""The ``info.json`` features of a list of episodes, in LeRobot v3's feature dictionaries.

RGB cameras are ``image`` features (inline PNG) or, with ``video=True``, ``video`` features whose ``info``
carries LeRobot's ``video.*`` keys; depth cameras are ``image`` features ``[H, W, 1]`` with
``info = {"is_depth_map": true, "depth_unit": "m"}`` (LeRobot's ``hw_to_dataset_features`` marks a
single-channel camera this way, and its writer records ``depth_unit`` from the first frame's dtype: float32 →
metres). Depth stays inline even in video datasets: LeRobot's depth videos quantise to 12 bits, inline float
TIFF frames are lossless.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from embodied.data import layout as L
from embodied.data.episode import Episode

HWC = ["height", "width", "channels"]


def episode_features(episodes: list[Episode], names: dict[str, Sequence[str]], video: bool) -> dict[str, Any]:
    """Features of the first episode, after checking every episode has the same schema."""
    first = episodes[0]
    features: dict[str, dict[str, Any]] = {}
    for cam, frames in first.images.items():
        feature: dict[str, Any] = {"dtype": "image", "shape": list(frames.shape[1:]), "names": HWC}
        features[L.image_key(cam)] = feature | ({"dtype": "video", "info": {"is_depth_map": False}} if video else {})
    for cam, frames in first.depth.items():
        features[L.depth_key(cam)] = {
            "dtype": "image",
            "shape": [*frames.shape[1:], 1],
            "names": HWC,
            "info": {"is_depth_map": True, "depth_unit": "m"},
        }
    if first.state.shape[1]:  # S = 0: no feature (arrow has no zero-length fixed-size list); read back as [T, 0]
        features[L.STATE] = {"dtype": "float32", "shape": [first.state.shape[1]], "names": None}
    features[L.ACTION] = {"dtype": "float32", "shape": [first.actions.shape[1]], "names": None}
    if first.action_space is not None:  # indices as an int64 scalar column (LeRobot's Value for shape [1])
        features[L.ACTION] = {"dtype": "int64", "shape": [1], "names": None, "info": first.action_space.feature_info()}
    if first.points is not None:
        features[L.POINTS] = {"dtype": "float32", "shape": list(first.points.shape[1:]), "names": ["argument", "uv"]}
    features[L.REWARD] = {"dtype": "float32", "shape": [1], "names": None}
    features[L.DONE] = {"dtype": "bool", "shape": [1], "names": None}
    features.update({k: dict(v) for k, v in L.INDEX_FEATURES.items()})
    for key, dim_names in names.items():
        if key not in features:
            raise ValueError(f"names given for unknown feature {key!r}; features are {sorted(features)}")
        features[key]["names"] = list(dim_names)
    reference = schema(first)
    for i, ep in enumerate(episodes[1:], start=1):
        if schema(ep) != reference:
            raise ValueError(f"episode {i} has schema {schema(ep)} but episode 0 has {reference}; all must match")
    return features


def hf_schema_metadata(features: dict[str, dict[str, Any]]) -> dict[bytes, bytes]:
    """The ``huggingface`` schema metadata of a data file, as LeRobot's writer leaves it (``datasets`` stores
    its ``Features`` there): without it ``datasets.load_dataset("parquet")`` and the Hub's viewer see the image
    columns as plain ``{bytes, path}`` structs, with it as ``Image``.

    Only the image and scalar features are listed. ``datasets`` uses a listed feature only where its arrow type
    equals the column's, and parquet names list children ``element`` where ``datasets`` says ``item``, so list
    features are inferred from the arrow type either way, in LeRobot's files too; leaving them out keeps the
    metadata readable by ``datasets`` releases before 4.0, which do not know the ``List`` type.
    """
    listed: dict[str, Any] = {}
    for key, feature in features.items():
        if feature["dtype"] == "image":
            listed[key] = {"_type": "Image"}
        elif feature["dtype"] != "video" and list(feature["shape"]) == [1]:
            listed[key] = {"dtype": feature["dtype"], "_type": "Value"}
    return {b"huggingface": json.dumps({"info": {"features": listed}}).encode()}


def schema(ep: Episode) -> dict[str, tuple[int, ...]]:
    """Per-frame shapes of an episode's arrays, to compare episodes."""
    shapes = {L.image_key(c): v.shape[1:] for c, v in ep.images.items()}
    shapes |= {L.depth_key(c): v.shape[1:] for c, v in ep.depth.items()}
    shapes |= {L.POINTS: ep.points.shape[1:]} if ep.points is not None else {}
    shapes |= {"action_space": (ep.action_space.n, ep.action_space.start)} if ep.action_space is not None else {}
    return shapes | {L.STATE: ep.state.shape[1:], L.ACTION: ep.actions.shape[1:]}
