"""Where facerec finds its files: the shared assets, the repo's weights, the caches."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
WEIGHTS_DIR = REPO_ROOT / "weights"
IMAGES_DIR = REPO_ROOT / "images"
DATASETS_DIR = REPO_ROOT / "datasets"


def assets_dir() -> Path:
    """The shared assets folder: ``$FACEREC_ASSETS``, else ``<repo>/../shared/assets``."""
    return Path(os.environ.get("FACEREC_ASSETS", REPO_ROOT.parent / "shared" / "assets")).resolve()


def openface_weights_dir() -> Path:
    """OpenFace's original (incomplete, 221-file) CSV weights in the assets."""
    return assets_dir() / "openface-nn4.small2.v1" / "weights"


def cache_dir() -> Path:
    """A writable cache folder: ``$FACEREC_CACHE``, else ``~/.cache/facerec``."""
    path = Path(os.environ.get("FACEREC_CACHE", Path.home() / ".cache" / "facerec"))
    path.mkdir(parents=True, exist_ok=True)
    return path
