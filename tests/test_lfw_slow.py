"""Slow: the committed weights on the full LFW 10-fold protocol (run with `pytest -m slow`)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow


def test_lfw_ten_fold_accuracy_of_committed_weights(assets, trained_weights, tmp_path):
    command = [sys.executable, "-m", "facerec", "evaluate", "lfw", "--json", "--weights", str(trained_weights),
               "--plot", str(tmp_path / "roc.png")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    for field in ("accuracy_mean", "accuracy_std", "auc", "threshold", "tar_at_far_1e-3", "n_pairs"):
        assert field in result
    assert result["n_pairs"] == 6000
    assert result["accuracy_mean"] >= 0.929, f"below OpenFace's published 92.9 %: {result}"
    assert (tmp_path / "roc.png").stat().st_size > 10_000
