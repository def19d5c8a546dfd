"""Where facerec finds its files: the shared assets, the repo's weights, the caches."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
WEIGHTS_DIR = REPO_ROOT / "weights"
IMAGES_DIR = REPO_ROOT / "images"
DATASETS_DIR = REPO_ROOT / "datasets"


def in_clone() -> bool:
    """Whether facerec runs from a clone of its repository (else from an installed wheel)."""
    return (REPO_ROOT / "pyproject.toml").is_file() and (REPO_ROOT / "facerec").is_dir()


def work_dir() -> Path:
    """Where the demo and setup put their files: the repository in a clone, else ``./facerec-demo``."""
    return REPO_ROOT if in_clone() else Path.cwd() / "facerec-demo"


def assets_dir() -> Path:
    """The shared assets folder: ``$FACEREC_ASSETS``, else ``<repo>/../shared/assets`` (in a clone)."""
    return Path(os.environ.get("FACEREC_ASSETS", REPO_ROOT.parent / "shared" / "assets")).resolve()


def openface_weights_dir() -> Path:
    """OpenFace's original (incomplete, 221-file) CSV weights in the assets."""
    return assets_dir() / "openface-nn4.small2.v1" / "weights"


def cache_dir() -> Path:
    """A writable cache folder: ``$FACEREC_CACHE``, else ``~/.cache/facerec``."""
    path = Path(os.environ.get("FACEREC_CACHE", Path.home() / ".cache" / "facerec"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def dlib_model_file(name: str) -> Path:
    """A model file of the ``face-recognition-models`` package (``models/<name>``), found without importing it.

    Importing that package costs about 0.1 s (it loads ``pkg_resources``); its files
    lie in its folder, which :func:`importlib.util.find_spec` finds in under a millisecond.

    Raises:
        WeightsError: the package is not installed or lacks the file.
    """
    import importlib.util

    from facerec.exceptions import WeightsError

    spec = importlib.util.find_spec("face_recognition_models")
    locations = list(spec.submodule_search_locations or []) if spec else []
    path = Path(locations[0]) / "models" / name if locations else None
    if path is None or not path.is_file():
        raise WeightsError(f"dlib's model file {name} is missing; install it with "
                           "`pip install face-recognition-models==0.3.0`")
    return path


def file_fingerprint(path: str | os.PathLike, memo_name: str) -> str:
    """SHA-256 of a (large, rarely changing) model file, remembered in the cache folder as ``memo_name``.

    The memo is keyed by the file's resolved path, size and modification time, so a changed file is hashed again.
    """
    path = Path(path)
    stat = path.stat()
    key = f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"
    memo = cache_dir() / memo_name
    try:
        known = json.loads(memo.read_text())
        if known.get("key") == key:
            return known["sha256"]
    except (OSError, ValueError, AttributeError):
        pass
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    sha = digest.hexdigest()
    tmp = memo.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps({"key": key, "sha256": sha}))
    os.replace(tmp, memo)
    return sha
