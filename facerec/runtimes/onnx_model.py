"""The ONNX file of nn4 for a set of weights: packed with facerec, cached, or written now.

The file is named after the weights' fingerprint and the graph writer's version
(``nn4_small2-<fingerprint[:16]>-g<version>.onnx``), so other weights or a
changed writer never reuse a stale file. Looked up in order: beside
:mod:`facerec.models` (an installed wheel carries the one for its packed
weights), then the user cache (:func:`facerec.paths.cache_dir`); else written
there by :func:`facerec.models.nn4_small2_onnx.build_onnx` (about 1 s; needs the
``onnx`` package), atomically, so an interrupted write leaves no broken file.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from facerec.models.nn4_small2_onnx import GRAPH_VERSION
from facerec.paths import cache_dir

PACKAGE_DIR = Path(__file__).resolve().parent.parent / "models"


def file_name(fingerprint: str) -> str:
    """The ONNX file's name for weights with this fingerprint."""
    return f"nn4_small2-{fingerprint[:16]}-g{GRAPH_VERSION}.onnx"


def write_onnx(weights, path: Path) -> Path:
    """Write the ONNX model of ``weights`` (a ``WeightSource``) to ``path`` atomically; returns ``path``."""
    from facerec.models.nn4_small2_onnx import build_onnx

    data = build_onnx(weights.arrays(), producer_version=weights.fingerprint)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".onnx.tmp", delete=False) as handle:
        handle.write(data)
    os.chmod(handle.name, 0o644)
    os.replace(handle.name, path)
    return path


def onnx_path(weights) -> Path:
    """The ONNX file for ``weights``: packed, cached, or written into the cache now."""
    name = file_name(weights.fingerprint)
    for folder in (PACKAGE_DIR, cache_dir()):
        if (folder / name).is_file():
            return folder / name
    return write_onnx(weights, cache_dir() / name)
