"""The door's cohort rule (issue 23): the shipped cohort's provenance, its card entry, and the decision."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from facerec.api import decision_cohort
from facerec.cohort import Cohort, card_cohort, gate, templates_of
from facerec.encoders import dlib_resnet, fused
from facerec.exceptions import WeightsError

CARD = json.loads(dlib_resnet.CARD_PATH.read_text())
COHORT_FILE = dlib_resnet.CARD_PATH.with_name(CARD["cohort"]["file"])
CARD_PATHS = {"dlib": dlib_resnet.CARD_PATH, "dlib+facenet": fused.CARD_PATH}  # every encoder with a cohort
WIDTHS = {"dlib": 128, "dlib+facenet": 640}


def shipped(encoder: str = "dlib") -> dict[str, np.ndarray]:
    card = json.loads(CARD_PATHS[encoder].read_text())
    with np.load(CARD_PATHS[encoder].with_name(card["cohort"]["file"]), allow_pickle=False) as npz:  # no pickle
        return {key: npz[key] for key in npz.files}


class CardEncoder:
    def __init__(self, card: dict):
        self._card = card

    def card(self) -> dict:
        return self._card


@pytest.mark.parametrize("encoder", sorted(CARD_PATHS))
def test_the_card_names_the_cohort_with_its_sha256_rule_and_licence(encoder):
    entry = json.loads(CARD_PATHS[encoder].read_text())["cohort"]
    assert hashlib.sha256(CARD_PATHS[encoder].with_name(entry["file"]).read_bytes()).hexdigest() == entry["sha256"]
    assert entry["rule"] == "template-symmetric" and entry["k"] >= 1 and 0 < entry["alpha"] < 2
    assert "research" in entry["licence"] and "BFW" in entry["licence"]
    assert ("CASIA-WebFace" in entry["licence"]) == ("facenet" in encoder)
    data = shipped(encoder)
    assert data["encodings"].dtype == np.float16 and data["encodings"].shape == (entry["encodings"], WIDTHS[encoder])
    assert len(data["photos"]) == len(data["people"]) == entry["encodings"]
    assert len(set(data["people"].tolist())) == entry["people"]


@pytest.mark.parametrize("encoder", sorted(CARD_PATHS))
def test_the_cohort_is_balanced_over_bfw_groups_and_each_photo_is_its_persons(encoder):
    data = shipped(encoder)
    groups = [photo.split("/")[0] for photo in data["photos"].tolist()]
    assert [photo.split("/")[1] for photo in data["photos"].tolist()] == data["people"].tolist()
    counts = {group: groups.count(group) for group in set(groups)}
    assert len(counts) == 8 and len(set(counts.values())) == 1


@pytest.mark.parametrize("encoder", sorted(CARD_PATHS))
def test_no_held_out_bfw_person_and_no_lfw_pairs_photo_is_in_the_cohort(assets, encoder):
    from facerec.datasets import list_photos
    from facerec.evaluate import read_pairs
    from facerec.training.bfw_split import held_out_identities

    listing = list_photos("bfw")
    held = held_out_identities([person for _, person, _ in listing], [group for _, _, group in listing])
    assert len(held) == 200
    data = shipped(encoder)
    assert not set(data["people"].tolist()) & held
    pairs = read_pairs(assets / "lfw" / "pairs.txt")
    listed = {Path(p).name for pair in pairs for p in (pair.first, pair.second)}
    assert listed and not {Path(photo).name for photo in data["photos"].tolist()} & listed
    assert all(photo.split("/")[0] in {g for _, _, g in listing} for photo in data["photos"].tolist())  # BFW photos
    bfw = {path for path, _, _ in listing}
    assert set(data["photos"].tolist()) <= bfw


@pytest.mark.parametrize("encoder", sorted(CARD_PATHS))
def test_the_cohort_is_the_development_split_that_the_script_rebuilds(assets, encoder):
    from facerec.training.cohort import bfw_listing, development_split

    paths, people, groups, held = bfw_listing()
    rows, pool = development_split(people, groups, held)
    assert [paths[i] for i in rows] == shipped(encoder)["photos"].tolist()
    assert not held[rows].any() and not pool[rows].any() and not (pool & held).any()


def test_decisions_read_the_cohort_from_the_card_and_check_its_sha256(tmp_path):
    cohort = decision_cohort(CardEncoder(CARD))
    assert isinstance(cohort, Cohort) and cohort.k == CARD["cohort"]["k"] and cohort.alpha == CARD["cohort"]["alpha"]
    assert decision_cohort(CardEncoder(CARD), operating_point="false-alarm-1e-2") is None  # an explicit point
    assert decision_cohort(CardEncoder(CARD), threshold=0.5) is None
    assert decision_cohort(CardEncoder({k: v for k, v in CARD.items() if k != "cohort"})) is None  # e.g. nn4
    shutil.copy(COHORT_FILE, tmp_path / COHORT_FILE.name)
    with open(tmp_path / COHORT_FILE.name, "ab") as handle:
        handle.write(b"x")
    with pytest.raises(WeightsError, match="sha256"):
        card_cohort(CARD, tmp_path)
    with pytest.raises(WeightsError, match="cannot be read"):
        card_cohort(CARD, tmp_path / "nowhere")


def test_the_score_is_the_template_distance_over_the_geometric_mean_of_cohort_scales():
    rng = np.random.default_rng(0)
    cohort = Cohort(rng.normal(size=(50, 4)).astype(np.float32), 3, 0.8)
    gallery = rng.normal(size=(6, 4))
    ids = np.array([0, 0, 1, 1, 1, 2])
    queries = rng.normal(size=(5, 4))
    nearest = np.array([0, 1, 2, 1, 0])
    templates = templates_of(gallery, ids, nearest)
    np.testing.assert_allclose(templates[1], gallery[2:5].mean(axis=0))

    def scale(x):
        return np.sort(np.linalg.norm(cohort.encodings - x, axis=1))[:3].mean()

    expected = [np.linalg.norm(q - t) / np.sqrt(scale(q) * scale(t)) for q, t in zip(queries, templates)]
    np.testing.assert_allclose(cohort.scores(queries, templates), expected, rtol=1e-6)
    distances = np.array([0.1, 0.9, 0.2, 0.3, 0.4])
    admitted, scores = gate(cohort, gallery, ids, queries, nearest, distances, 0.5)
    np.testing.assert_array_equal(admitted, (distances <= 0.5) & (scores <= 0.8))
    alone, none = gate(None, gallery, ids, queries, nearest, distances, 0.5)
    assert none is None and alone.tolist() == (distances <= 0.5).tolist()


def test_known_strangers_join_the_cohort_and_make_a_look_alike_harder_to_admit():
    rng = np.random.default_rng(1)
    cohort = Cohort(rng.normal(size=(40, 8)).astype(np.float32) * 3, 2, 1.0)
    resident = rng.normal(size=8)
    probe = resident + 0.3 * rng.normal(size=8)
    before = cohort.scores(probe[None], resident[None])[0]
    known = np.stack([resident + 0.2 * rng.normal(size=8) for _ in range(4)])  # look-alikes seen at the door
    wider = cohort.with_extra(known)
    assert wider.encodings.shape == (44, 8) and "+4 known" in wider.name
    assert wider.scores(probe[None], resident[None])[0] > before
    assert cohort.with_extra(None) is cohort and cohort.with_extra(np.zeros((0, 8))) is cohort
    with pytest.raises(WeightsError, match="same encoder"):
        cohort.with_extra(np.zeros((2, 5)))


def test_a_visit_is_let_in_only_when_its_frames_pass_the_cohort_gate_too():
    from types import SimpleNamespace

    from facerec.visits import Sighting, Visit, cohort_gate, decide

    rng = np.random.default_rng(2)
    anna = rng.normal(size=128).astype(np.float32) * 0.1
    search = SimpleNamespace(encodings=np.stack([anna, anna + 0.01]), person_ids=np.array([7, 7]))
    frames = [Sighting(t / 10, (0, 0, 150, 150), anna + 0.005 * rng.normal(size=128).astype(np.float32), 300.0)
              for t in range(3)]

    def distances_to(encodings):
        return {"anna": np.linalg.norm(encodings - anna, axis=1)}

    far_cohort = Cohort(rng.normal(size=(30, 128)).astype(np.float32) * 3, 2, 0.8)  # strangers far away: passes
    near_cohort = Cohort(anna + 0.004 * rng.normal(size=(30, 128)).astype(np.float32), 2, 0.8)  # look-alikes
    assert cohort_gate(search, {7: "anna"}, None) is None
    passes = decide(Visit(1, frames), distances_to, 0.5, gate=cohort_gate(search, {7: "anna"}, far_cohort))
    refused = decide(Visit(1, frames), distances_to, 0.5, gate=cohort_gate(search, {7: "anna"}, near_cohort))
    assert passes.identity == "anna" and refused.identity is None and refused.closest == "anna"


def test_the_promise_comes_from_the_cards_measurements_for_the_gallery_size():
    from facerec.cohort import promise

    card = {"cohort": {"promise": [
        {"people": 20, "per_group": True, "strangers_let_in": 0.0184, "measured_by": "b"},
        {"people": 12, "per_group": True, "strangers_let_in": 0.0169, "measured_by": "a"}]}}
    small = promise(card, 5)
    assert small["strangers_per_100"] == 2 and small["people_measured"] == 12
    assert small["text"].startswith("about 2 in 100 strangers of any group would be let in at this gallery")
    assert promise(card, 15)["people_measured"] == 20
    large = promise(card, 211)
    assert large["people_measured"] == 20 and "larger than any measured" in large["text"]
    assert promise({}, 12) is None
    shipped_promise = promise(CARD, 12)  # the card's own, recorded from docs/results by the cohort script
    assert shipped_promise is not None and shipped_promise["strangers_per_100"] <= 2


def test_identify_takes_known_strangers_as_extra_cohort_rows(happy_house, tmp_path):
    from facerec.api import identify
    from facerec.database import FaceDatabase

    with FaceDatabase(tmp_path / "db.sqlite", encoder="dlib") as db:
        db.enroll("younes", [next(happy_house.glob("younes.*"))], skip_bad=False)
        camera = happy_house / "camera_0.jpg"
        plain = identify(camera, db)[0]
        assert plain.identity == "younes" and plain.cohort_score <= plain.cohort_limit
        assert plain.promise["strangers_per_100"] <= 2
        noise = np.random.default_rng(3).normal(scale=0.01, size=(30, 128))
        look_alikes = db.encodings("younes")[0] + noise  # 'strangers' right where younes is
        refused = identify(camera, db, extra_cohort=look_alikes)[0]
        assert refused.identity is None and refused.closest == "younes" and refused.cohort_score > plain.cohort_score
        assert identify(camera, db, operating_point="false-alarm-1e-2")[0].cohort_score is None  # explicit point


def test_a_fused_cohort_scores_with_the_sum_of_its_blocks_distances():
    from facerec.distances import block_distance

    rng = np.random.default_rng(4)
    cohort = Cohort(rng.normal(size=(30, 6)), 2, 1.0, blocks=(2, 4))
    queries, templates = rng.normal(size=(3, 6)), rng.normal(size=(3, 6))

    def scale(x):
        return np.sort(block_distance(cohort.encodings, x, (2, 4)))[:2].mean()

    expected = [block_distance(q, t, (2, 4)) / np.sqrt(scale(q) * scale(t)) for q, t in zip(queries, templates)]
    np.testing.assert_allclose(cohort.scores(queries, templates), expected, rtol=1e-9)
    card = json.loads(fused.CARD_PATH.read_text())
    assert decision_cohort(CardEncoder(card)).blocks == (128, 512) == tuple(card["blocks"])
