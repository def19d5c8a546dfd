"""Encodings of a data set's photos, cached in an HDF5 file (``datasets/<collection>_<encoder>.h5``).

The file holds ``paths`` (each photo's path, UTF-8) and ``encodings`` (one row a photo), and optional
attributes that say how they were made (e.g. FaceNet's ``crop``): a file whose attributes differ from the
ones asked for is ignored, so its photos are encoded again. Writes go to a temporary file replaced
atomically, so an interrupted run leaves the last complete cache.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np


def read_encodings(cache: Path, attrs: dict | None = None) -> dict[str, np.ndarray]:
    """``{photo path: encoding}`` from ``cache`` ({} when it is missing or was made with other ``attrs``)."""
    import h5py

    if not Path(cache).exists():
        return {}
    with h5py.File(cache, "r") as h5:
        if any(h5.attrs.get(key) != value for key, value in (attrs or {}).items()):
            return {}
        return dict(zip((p.decode() for p in h5["paths"][:]), h5["encodings"][:]))


def write_encodings(cache: Path, known: dict[str, np.ndarray], attrs: dict | None = None) -> None:
    """Write ``known`` (``{photo path: encoding}``, sorted by path) and ``attrs`` to ``cache``, atomically."""
    import h5py

    cache = Path(cache)
    tmp = cache.with_suffix(f".tmp{os.getpid()}")
    cache.parent.mkdir(parents=True, exist_ok=True)
    paths = sorted(known)
    with h5py.File(tmp, "w") as h5:
        h5.create_dataset("encodings", data=np.stack([known[p] for p in paths]))
        h5.create_dataset("paths", data=np.array(paths, dtype=h5py.string_dtype()))
        for key, value in (attrs or {}).items():
            h5.attrs[key] = value
    os.replace(tmp, cache)
