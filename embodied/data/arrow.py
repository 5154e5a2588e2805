"""Conversions between ``[N, *shape]`` numpy arrays and parquet columns (nested fixed-size lists)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def tensor_column(values: np.ndarray) -> pa.Array:
    """``[N]`` → a plain column; ``[N, d1, ..., dk]`` → k nested fixed-size lists (``datasets``' Sequence/ArrayND)."""
    column: pa.Array = pa.array(values.reshape(-1))
    for size in reversed(values.shape[1:]):
        column = pa.FixedSizeListArray.from_arrays(column, size)
    return column


def column_to_numpy(column: pa.Array | pa.ChunkedArray, shape: tuple[int, ...], dtype: str) -> np.ndarray:
    """A parquet column → ``[N, *shape]`` (``[N]`` for scalar features of shape ``(1,)``), list columns flattened."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    rows = len(array)
    while pa.types.is_list(array.type) or pa.types.is_fixed_size_list(array.type) or pa.types.is_large_list(array.type):
        array = pc.list_flatten(array)
    flat = array.to_numpy(zero_copy_only=False).astype(dtype, copy=False)
    if shape == (1,) and flat.size == rows:
        return flat
    return flat.reshape(rows, *shape)
