"""Model directories on disk: written whole or not at all, checked whole before use.

A model directory holds the scorer's own files (`booster.txt`, ...) and `model.json`. The
directory is written in a temporary sibling and swapped in at once (`atomic.atomic_directory`),
so a killed `train` leaves the previous model or the new one. `model.json` records the SHA-256 of
every other file: a booster edited or replaced after training (say, copied from a model trained on
another feature set) is refused by name instead of scoring with trees that read the wrong columns.
`model.json` itself is checked for the fields scoring relies on, each with its type; `threshold`
is the one field meant to be tuned by hand.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from ..errors import ModelError
from .atomic import atomic_directory

MODEL_JSON = "model.json"
_RETRAIN = "restore the model directory from a backup, or train it again"


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def model_file_names(directory: Path) -> set[str]:
    """The names an earlier `train` wrote in `directory` (model.json and the files it lists)."""
    try:
        listed = json.loads((Path(directory) / MODEL_JSON).read_text()).get("files", {})
    except (OSError, ValueError, AttributeError):
        listed = {}
    return {MODEL_JSON, *(listed if isinstance(listed, dict) else {})}


def write_model_directory(directory, write_files, metadata: dict) -> Path:
    """Write a model directory atomically: `write_files(tmp_dir)` writes the scorer's files, then
    model.json is written with `metadata` plus the files' digests."""
    directory = Path(directory)
    with atomic_directory(directory, model_file_names) as tmp:
        write_files(tmp)
        meta = dict(metadata)
        meta["files"] = {p.name: file_digest(p) for p in sorted(tmp.iterdir()) if p.is_file()}
        (tmp / MODEL_JSON).write_text(json.dumps(meta, indent=2, sort_keys=True))
    return directory


def _is_str_list(value) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _is_str_dict(value) -> bool:
    return isinstance(value, dict) and all(isinstance(v, str) for v in value.values())


# The fields scoring relies on: (check, what it must be).
_FIELDS = {
    "features": (lambda v: _is_str_list(v) and len(v) > 0 and len(set(v)) == len(v), "a list of distinct names"),
    "patterns": (_is_str_dict, "an object of pattern name -> hash"),
    "pattern_sources": (_is_str_dict, "an object of pattern name -> file"),
    "threshold": (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v <= 1,
                  "a number between 0 and 1"),
    "scorer": (lambda v: isinstance(v, dict) and isinstance(v.get("kind"), str), "an object with a 'kind'"),
    "files": (_is_str_dict, "an object of file name -> SHA-256"),
}


def read_model_metadata(directory) -> dict:
    """model.json of a model directory, after checking it and every file it lists."""
    directory = Path(directory)
    path = directory / MODEL_JSON
    if not path.is_file():
        raise ModelError(f"{directory}: not a model directory (no {MODEL_JSON})",
                         hint="create one with 'blazingaml train ... --out DIR'")
    try:
        meta = json.loads(path.read_text())
    except UnicodeDecodeError:
        raise ModelError(f"{path}: not UTF-8 text", hint=_RETRAIN) from None
    except json.JSONDecodeError as exc:
        raise ModelError(f"{path}:{exc.lineno}:{exc.colno}: not valid JSON ({exc.msg})",
                         hint=f"was it edited by hand? {_RETRAIN}") from None
    if not isinstance(meta, dict):
        raise ModelError(f"{path}: expected a JSON object, found {type(meta).__name__}", hint=_RETRAIN)
    for key, (valid, what) in _FIELDS.items():
        if key not in meta:
            raise ModelError(f"{path}: the field '{key}' is missing", hint=_RETRAIN)
        if not valid(meta[key]):
            raise ModelError(f"{path}: the field '{key}' must be {what}, found {json.dumps(meta[key])[:80]}",
                             hint=_RETRAIN)
    if set(meta["pattern_sources"]) != set(meta["patterns"]):
        raise ModelError(f"{path}: 'patterns' and 'pattern_sources' name different patterns", hint=_RETRAIN)
    for name, digest in meta["files"].items():
        if os.sep in name or name in ("", ".", "..", MODEL_JSON):
            raise ModelError(f"{path}: 'files' lists {name!r}, which is not a file of this directory", hint=_RETRAIN)
        file = directory / name
        if not file.is_file():
            raise ModelError(f"{directory}: the model file {name} is missing", hint=_RETRAIN)
        if file_digest(file) != digest:
            raise ModelError(f"{file}: changed since the model was saved (its SHA-256 differs from the one in "
                             f"{MODEL_JSON}); a file from another model?", hint=_RETRAIN)
    return meta
