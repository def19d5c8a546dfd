"""Shared fixtures: the assets location, the Happy House photos, weights folders."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from facerec.paths import WEIGHTS_DIR, assets_dir  # noqa: E402


@pytest.fixture(scope="session")
def assets() -> Path:
    """The shared assets folder; tests that need it skip (with the reason) when it is absent."""
    path = assets_dir()
    if not path.is_dir():
        pytest.skip(f"shared assets not found at {path}; set FACEREC_ASSETS (CI always has them)")
    return path


@pytest.fixture(scope="session")
def happy_house(assets: Path) -> Path:
    """Folder of the course's 18 Happy House photos."""
    return assets / "happy-house" / "images"


@pytest.fixture(scope="session")
def openface_dir(assets: Path) -> Path:
    """OpenFace's original, incomplete (221-file) CSV weights."""
    return assets / "openface-nn4.small2.v1" / "weights"


@pytest.fixture(scope="session")
def trained_weights() -> Path:
    """The repository's trained weights; tests of trained behaviour skip while they are absent."""
    path = Path(os.environ.get("FACEREC_WEIGHTS", WEIGHTS_DIR))
    if not (path / "model.json").is_file():
        pytest.skip(f"no trained weights with model.json in {path}")
    return path


@pytest.fixture(scope="session")
def postgres():
    """A throwaway PostgreSQL cluster on a loopback port (tests/helpers_postgres.py); skips when not installed."""
    from helpers_postgres import skip_unless_required, start_cluster

    cluster, reason = start_cluster()
    if cluster is None:
        skip_unless_required(reason)
    yield cluster
    cluster.stop()


@pytest.fixture(params=["sqlite", "postgres"])
def location(request, tmp_path):
    """A new, empty database's location on each engine: an SQLite file path, or a PostgreSQL URL."""
    if request.param == "sqlite":
        return tmp_path / "faces.sqlite"
    return request.getfixturevalue("postgres").url()
