"""The metadata of a LeRobot v3.0 dataset on disk: ``info.json``, tasks, episodes rows, the data table.

Each loader names the file and what is wrong in a ``DatasetError`` (a ``UserError``: the console script prints
it as one line).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from embodied.data import layout as L
from embodied.errors import UserError


class DatasetError(ValueError, UserError):
    """A directory is not a readable LeRobot v3.0 dataset; the message names the file and what is wrong."""


def load_info(root: Path) -> dict[str, Any]:
    """``meta/info.json``, checked to exist and to declare ``codebase_version`` v3.0."""
    path = root / L.INFO_PATH
    if not path.is_file():
        raise DatasetError(f"{path} not found: {root} is not a LeRobot dataset")
    try:
        info: dict[str, Any] = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DatasetError(f"{path}: not valid JSON ({err}); the file is truncated or corrupted") from None
    if not isinstance(info, dict):
        raise DatasetError(f"{path}: expected a JSON object, got {type(info).__name__}")
    version = info.get("codebase_version")
    if version != L.CODEBASE_VERSION:
        raise DatasetError(
            f"{path}: codebase_version is {version!r}, expected {L.CODEBASE_VERSION!r} "
            "(convert older datasets with lerobot's convert_dataset_v21_to_v30)"
        )
    for key in ("fps", "features"):
        if key not in info:
            raise DatasetError(f"{path}: missing required key {key!r}")
    return info


def load_data(root: Path) -> pa.Table:
    """All data parquet files concatenated and sorted by global ``index``."""
    paths = sorted((root / "data").glob("*/*.parquet"))
    if not paths:
        raise DatasetError(f"{root / 'data'}: no data files (expected data/chunk-*/file-*.parquet)")
    table = pa.concat_tables([pq.read_table(p) for p in paths], promote_options="permissive")
    if "index" in table.column_names:
        table = table.sort_by("index")
    return table


def load_tasks(root: Path) -> list[str]:
    """Task texts indexed by ``task_index``; the text is pandas' index column (``task`` or unnamed)."""
    path = root / L.TASKS_PATH
    if not path.is_file():
        raise DatasetError(f"{path} not found: a LeRobot v3.0 dataset lists its tasks there")
    table = pq.read_table(path)
    pandas_meta = json.loads((table.schema.metadata or {}).get(b"pandas", b"{}"))
    candidates = [c for c in pandas_meta.get("index_columns", []) if isinstance(c, str)] + ["task", "__index_level_0__"]
    text_column = next((c for c in candidates if c in table.column_names), None)
    if text_column is None or "task_index" not in table.column_names:
        raise DatasetError(f"{path}: expected a task_index column and the task text, found {table.column_names}")
    texts, indices = table.column(text_column).to_pylist(), table.column("task_index").to_pylist()
    tasks = [""] * (max(indices) + 1 if indices else 0)
    for text, index in zip(texts, indices, strict=True):
        tasks[index] = text
    return tasks


def load_episode_meta(root: Path) -> dict[int, dict[str, Any]]:
    """Rows of ``meta/episodes/*/*.parquet`` by episode index, without the bulky ``stats/`` columns."""
    rows: dict[int, dict[str, Any]] = {}
    for path in sorted((root / L.EPISODES_DIR).glob("*/*.parquet")):
        table = pq.read_table(path)
        table = table.select([c for c in table.column_names if not c.startswith("stats/")])
        rows |= {int(r["episode_index"]): r for r in table.to_pylist()}
    return rows
