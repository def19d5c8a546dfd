"""Operating points: named, by pair false-accept rate, by the strangers' false-alarm rate of a gallery."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from facerec.exceptions import InvalidArgument, WeightsError
from facerec.operating_points import gallery_threshold, impostor_quantile, point_names, resolve


@pytest.fixture
def card() -> dict:
    """A small card whose impostor distances are uniform on [0.2, 1.2]: quantile(p) = 0.2 + p."""
    ps = np.logspace(-7, np.log10(0.5), 50)
    return {"encoder": "test",
            "operating_points": {"balanced": {"threshold": 0.7}, "far-1e-2": {"threshold": 0.21},
                                 "far-1e-3": {"threshold": 0.201}},
            "gallery_operating_points": {"false-alarm-1e-2": {"false_alarm": 0.01}},
            "default_operating_point": "false-alarm-1e-2",
            "impostor_distances": {"p": ps.tolist(), "distance": (0.2 + ps).tolist()}}


def test_named_pair_points_are_the_cards_numbers(card):
    assert resolve(card, operating_point="balanced").value == 0.7
    assert resolve(card, operating_point="far-1e-3").value == 0.201
    card["operating_points"]["balanced"]["threshold"] = 0.55  # nothing is remembered elsewhere
    assert resolve(card, operating_point="balanced").value == 0.55


def test_far_reads_the_impostor_quantile_table(card):
    assert resolve(card, far=1e-2).value == pytest.approx(0.21, abs=5e-4)
    row = card["impostor_distances"]
    assert impostor_quantile(card, row["p"][40]) == pytest.approx(row["distance"][40])  # a row: exact
    assert impostor_quantile(card, 0.3) == pytest.approx(0.5, abs=0.01)  # between rows: log-linear
    assert impostor_quantile(card, 1e-9) == pytest.approx(0.2 + 1e-7)  # below the table: its strictest row


def test_a_gallery_point_is_stricter_the_more_encodings_a_stranger_can_match(card):
    one = gallery_threshold(card, 0.01, 1)
    assert one == pytest.approx(impostor_quantile(card, 0.01))
    sizes = [1, 3, 12, 36, 150, 1000]
    thresholds = [gallery_threshold(card, 0.01, n) for n in sizes]
    assert all(a > b for a, b in zip(thresholds, thresholds[1:]))
    per_pair = 1 - (1 - 0.01) ** (1 / 36)
    assert gallery_threshold(card, 0.01, 36) == pytest.approx(0.2 + per_pair, rel=1e-3)
    assert math.isclose(1 - (1 - per_pair) ** 36, 0.01)


def test_the_default_is_the_cards_default_point_for_the_gallery(card):
    threshold = resolve(card, gallery_size=36)
    assert threshold.operating_point == "false-alarm-1e-2" and threshold.gallery_size == 36
    assert threshold.value == pytest.approx(gallery_threshold(card, 0.01, 36))
    assert "false-alarm-1e-2 for 36" in threshold.describe()


@pytest.mark.parametrize("kwargs, message", [
    ({"threshold": 0.5, "far": 0.01}, "give one of"),
    ({"operating_point": "lenient"}, "unknown operating point 'lenient'"),
    ({"operating_point": "false-alarm-1e-2"}, "depends on the gallery"),
    ({"far": 0.0}, "in \\(0, 1\\)"),
    ({"far": 0.9}, "not an operating point"),
    ({"false_alarm": 1.5, "gallery_size": 10}, "in \\(0, 1\\)"),
    ({"threshold": -1.0}, "non-negative"),
])
def test_bad_requests_are_typed_errors(card, kwargs, message):
    with pytest.raises(InvalidArgument, match=message):
        resolve(card, **kwargs)


def test_a_card_without_points_says_how_to_make_them():
    with pytest.raises(WeightsError, match="calibrate"):
        resolve({"encoder": "nn4", "threshold": 0.8})


def _shipped_cards() -> list[dict]:
    from facerec.encoders.dlib_resnet import CARD_PATH
    from facerec.paths import WEIGHTS_DIR

    return [json.loads(path.read_text()) for path in (WEIGHTS_DIR / "model.json", CARD_PATH)]


@pytest.mark.parametrize("index", [0, 1], ids=["nn4", "dlib"])
def test_the_shipped_cards_hold_every_point_in_order(index):
    card = _shipped_cards()[index]
    assert card["encoder"] == ["nn4", "dlib"][index]
    assert set(point_names(card)) == {"balanced", "far-1e-2", "far-1e-3", "false-alarm-1e-2", "false-alarm-1e-3"}
    points = card["operating_points"]
    assert points["far-1e-3"]["threshold"] < points["far-1e-2"]["threshold"] < points["balanced"]["threshold"]
    assert card["default_operating_point"] == "false-alarm-1e-2"
    table = card["impostor_distances"]
    assert np.all(np.diff(table["p"]) > 0) and np.all(np.diff(table["distance"]) >= 0)
    assert table["pairs"] > 1_000_000  # every different-person pair of View 1's photos
    for name in ("far-1e-2", "far-1e-3"):  # the named points and the table agree
        rate = float(name.split("-", 1)[1])
        assert resolve(card, far=rate).value == pytest.approx(points[name]["threshold"], abs=0.01)


def test_calibration_splits_every_pair_once_into_genuine_and_impostor():
    from facerec.training.calibrate import quantile_table, split_distances

    rng = np.random.default_rng(0)
    encodings = rng.standard_normal((700, 128)).astype(np.float32)  # more than one block of 512 rows
    labels = rng.integers(0, 90, 700)
    genuine, impostor = split_distances(encodings, labels)
    assert len(genuine) + len(impostor) == 700 * 699 // 2
    i, j = np.triu_indices(700, k=1)
    brute = np.linalg.norm(encodings[i] - encodings[j], axis=1)
    same = labels[i] == labels[j]
    np.testing.assert_allclose(np.sort(genuine), np.sort(brute[same]), rtol=1e-5)
    np.testing.assert_allclose(np.sort(impostor), np.sort(brute[~same]), rtol=1e-5)
    table = quantile_table(impostor)
    assert table["pairs"] == len(impostor) and table["p"][0] == pytest.approx(10 / len(impostor), rel=1e-3)
    assert np.all(np.diff(table["distance"]) >= 0)
    assert table["distance"][-1] == pytest.approx(np.median(impostor), abs=1e-4)


def test_the_course_decides_at_its_plain_encodings_own_threshold(tmp_path):
    from facerec.encoder import balanced_threshold, default_threshold
    from facerec.paths import WEIGHTS_DIR

    card = json.loads((WEIGHTS_DIR / "model.json").read_text())
    assert default_threshold() == card["course_threshold"]["threshold"] != balanced_threshold()
    assert "plain" in card["course_threshold"]["encoding"]
    del card["course_threshold"]  # older weights: the course falls back to the balanced threshold
    (tmp_path / "model.json").write_text(json.dumps(card))
    assert default_threshold(tmp_path) == card["threshold"]
