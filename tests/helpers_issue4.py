"""Shared helpers of the issue-4 tests (database, search, API, command line)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pytest

from facerec.database import FaceRecord
from facerec.paths import assets_dir

REPO = Path(__file__).resolve().parent.parent
FINGERPRINT = "a" * 64
OTHER_FINGERPRINT = "b" * 64
RESIDENTS = ("andrew", "arnaud", "benoit", "bertrand", "dan", "danielle", "felix", "kevin", "kian", "sebastiano",
             "tian", "younes")


def happy_house() -> Path:
    """The Happy House photos folder of the assets (skips the test if absent)."""
    folder = assets_dir() / "happy-house" / "images"
    if not folder.is_dir() or not any(folder.iterdir()):
        pytest.skip(f"Happy House photos not found in {folder}; set FACEREC_ASSETS to the shared assets")
    return folder


def photo(name: str) -> Path:
    """Path of one Happy House photo by stem (``younes``, ``camera_0``...)."""
    matches = sorted(happy_house().glob(f"{name}.*"))
    assert matches, f"no Happy House photo named {name}"
    return matches[0]


def weights_or_skip() -> Path:
    """The weights folder in use (``$FACEREC_WEIGHTS`` or ``weights/``), skipping if it has no model card."""
    from facerec.encoder import default_weights_dir

    folder = default_weights_dir()
    if not (folder / "model.json").is_file():
        pytest.skip(f"no weights with a model.json in {folder}; set FACEREC_WEIGHTS (e.g. runs/dev_weights)")
    return folder


def trained_weights_or_skip() -> Path:
    """The repository's trained ``weights/`` (skips until they exist)."""
    folder = REPO / "weights"
    if not (folder / "model.json").is_file():
        pytest.skip("trained weights/ (with model.json) not present yet; accuracy checks need them")
    return folder


def random_records(rng: np.random.Generator, count: int, prefix: str = "photo") -> list[FaceRecord]:
    """``count`` face records with random unit encodings and distinct hashes."""
    vectors = rng.standard_normal((count, 128)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return [FaceRecord(v, f"{prefix}_{i}.jpg", hashlib.sha256(v.tobytes()).hexdigest(), (i, i, i + 10, i + 10))
            for i, v in enumerate(vectors)]


def subprocess_env() -> dict[str, str]:
    """Environment for child Python processes: this repository importable, TensorFlow quiet."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return env


def empty_database(path: Path, encoder: str = "dlib") -> Path:
    """A facerec database that exists but holds nobody (its only person enrolled, then removed).

    A new database file is only made by its first write, so "empty" means "everyone was removed".
    """
    from facerec.database import FaceDatabase

    with FaceDatabase(path) as db:
        db.add_faces("someone", random_records(np.random.default_rng(0), 1), FINGERPRINT, encoder)
        db.remove("someone")
    return path
