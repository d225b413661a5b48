"""Arrow columns as NumPy arrays without importing pandas.

pyarrow's `to_numpy` imports pandas on first use (to recognise pandas extension types), which costs
a short command about 0.35 s of start-up. The columns the commands read are plain fixed-width
numbers, so their data buffers are viewed directly; anything else goes through `to_numpy`.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa


_FLOATS = {"halffloat": "float16", "float": "float32", "double": "float64"}


def column_numpy(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A fixed-width numeric column without nulls as a NumPy array (a view of a single chunk, one
    copy for several); other columns through pyarrow's `to_numpy`."""
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    kind = column.type
    plain = (pa.types.is_integer(kind) or pa.types.is_floating(kind)) and column.null_count == 0
    if not plain:
        return column.to_numpy() if isinstance(column, pa.ChunkedArray) else column.to_numpy(zero_copy_only=False)
    dtype = np.dtype(_FLOATS.get(str(kind), str(kind)))   # int8 ... uint64 name their NumPy types
    views = [np.frombuffer(c.buffers()[1], dtype=dtype, count=len(c), offset=c.offset * dtype.itemsize)
             for c in chunks]
    if len(views) == 1:
        return views[0]
    return np.concatenate(views) if views else np.empty(0, dtype)


_ARROW_TYPES = {np.dtype(np.int8): pa.int8(), np.dtype(np.int16): pa.int16(), np.dtype(np.int32): pa.int32(),
                np.dtype(np.int64): pa.int64(), np.dtype(np.float32): pa.float32(),
                np.dtype(np.float64): pa.float64()}


def arrow_column(values: np.ndarray) -> pa.Array:
    """A 1-d NumPy array of numbers or booleans as an Arrow array without nulls, built on its
    buffer (booleans bit-packed), so that pyarrow does not import pandas to inspect it."""
    values = np.ascontiguousarray(values)
    if values.dtype == np.bool_:
        bits = np.packbits(values, bitorder="little")
        return pa.Array.from_buffers(pa.bool_(), len(values), [None, pa.py_buffer(bits)])
    kind = _ARROW_TYPES.get(values.dtype)
    if kind is None:
        return pa.array(values)
    return pa.Array.from_buffers(kind, len(values), [None, pa.py_buffer(values)])
