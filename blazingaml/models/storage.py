"""Pickle-free model files: numeric arrays in `.npz` (read with `allow_pickle=False`) and JSON.

Both writes are atomic. A model file that holds anything but plain numeric arrays or JSON cannot
be loaded, so a model directory from an untrusted source can never execute code.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..errors import ModelError
from ..io.atomic import atomic_path, write_text_atomic


def save_arrays(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write named numeric arrays to one `.npz` file atomically."""
    for name, value in arrays.items():
        if np.asarray(value).dtype == object:
            raise ValueError(f"array {name!r} holds Python objects; only numeric arrays are stored")
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)


def load_arrays(path: Path) -> dict[str, np.ndarray]:
    """Read an `.npz` written by `save_arrays`; object arrays (pickles) are refused."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return {name: data[name] for name in data.files}
    except (OSError, ValueError) as exc:
        raise ModelError(f"{path}: cannot read model arrays ({exc})") from None


def save_json(path: Path, value) -> None:
    """Write a JSON document atomically (floats round-trip exactly through `repr`)."""
    write_text_atomic(path, json.dumps(value, sort_keys=True))


def load_json(path: Path):
    """Read a JSON document written by `save_json`."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelError(f"{path}: cannot read model file ({exc})") from None
