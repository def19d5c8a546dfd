"""benchmarks/door_groups.py on a tiny synthetic BFW: who is drawn where, the door's decision, the report's fields."""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys

import numpy as np
import pytest
from helpers_issue4 import REPO

SCRIPT = REPO / "benchmarks" / "door_groups.py"
GROUPS = ("g_a", "g_b", "g_c")
PEOPLE, PHOTOS, HELD = 30, 6, 15  # per group: people, photos each, held out
CARD = {"encoder": "synthetic", "operating_points": {"balanced": {"threshold": 0.6}},
        "default_operating_point": "balanced"}


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("door_groups", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["door_groups"] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def synthetic(bench):
    """Rows of 3 groups x 30 people x 6 photos (15 people a group held out) and clustered encodings."""
    rng = np.random.default_rng(0)
    people = np.array([f"{g}_{p:02d}" for g in GROUPS for p in range(PEOPLE) for _ in range(PHOTOS)])
    groups = np.array([g for g in GROUPS for _ in range(PEOPLE * PHOTOS)])
    held = np.array([int(person[-2:]) < HELD for person in people])
    paths = [f"{g}/{p}/{i}.jpg" for i, (g, p) in enumerate(zip(groups, people))]
    centres = {person: rng.normal(size=128) for person in set(people.tolist())}
    encodings = np.stack([centres[p] / np.linalg.norm(centres[p]) for p in people])
    encodings = (encodings + 0.03 * rng.normal(size=encodings.shape)).astype(np.float32)
    return bench.Rows(paths, people, groups, held), encodings


def args(rules: bool = False) -> argparse.Namespace:
    return argparse.Namespace(draws=3, household=4, enrolled=2, seed=1, rules=rules)


def test_households_come_from_held_out_people_of_one_group_and_strangers_are_never_enrolled(bench, synthetic):
    rows, _ = synthetic
    for group in GROUPS:
        houses = bench.draw_households(rows, rows.held, group, draws=4, seed=1, household=4, enrolled=2)
        assert len({tuple(h.residents) for h in houses}) > 1  # the draws differ
        for house in houses:
            enrolled, probes = set(house.enrolled.tolist()), set(house.probes.tolist())
            assert len(house.residents) == 4 and len(enrolled) == 8 and not enrolled & probes
            assert set(rows.people[house.enrolled].tolist()) == set(house.residents)
            assert np.all(rows.held[house.enrolled]) and np.all(rows.groups[house.enrolled] == group)
            assert np.all(rows.people[house.probes] == np.array(house.residents)[house.probes_who])
            assert np.all(rows.people[house.enrolled] == np.array(house.residents)[house.enrolled_who])
            strangers = set(rows.people[house.strangers].tolist())
            assert not strangers & set(house.residents) and len(strangers) == HELD - 4
            assert np.all(rows.groups[house.strangers] == group) and np.all(rows.held[house.strangers])
            assert np.all(rows.groups[house.others] != group) and np.all(rows.held[house.others])
            assert len(house.others) == (len(GROUPS) - 1) * HELD * PHOTOS


def test_decide_takes_the_smallest_ratio_and_admits_within_one(bench):
    distances = np.array([[0.5, 0.3], [0.9, 0.8], [0.4, 0.45]])
    let_in, who = bench.decide(distances, np.array([0.5, 0.5]))
    assert let_in.tolist() == [True, False, True] and who.tolist() == [1, 1, 0]
    let_in, who = bench.decide(distances, np.array([1.0, 0.3]))  # per-resident thresholds change who is chosen
    assert who.tolist() == [0, 0, 0] and let_in.tolist() == [True, True, True]


def test_the_report_has_every_field_and_follows_the_threshold(bench, synthetic):
    rows, encodings = synthetic
    result = json.loads(json.dumps(bench.evaluate(rows, encodings, args(), CARD, lambda name, size: 0.6)))
    assert result["encoder"] == "synthetic" and result["default_operating_point"] == "balanced"
    assert result["held_out_people"] == len(GROUPS) * HELD and set(result["groups"]) == set(GROUPS)
    for figures in result["groups"].values():
        assert figures["residents_admitted"] > 0.9 and figures["strangers_let_in"] == 0.0
        assert figures["other_groups_let_in"] == 0.0 and figures["stranger_probes"] == 3 * (HELD - 4) * PHOTOS
    everyone = bench.evaluate(rows, encodings, args(), CARD, lambda name, size: 10.0)
    assert all(g["strangers_let_in"] == 1.0 and g["other_groups_let_in"] == 1.0 for g in everyone["groups"].values())


def test_the_cohort_and_tuning_people_are_development_people_only(bench, synthetic):
    rows, _ = synthetic
    cohort, pool = bench.development_split(rows, seed=1, per_person=2)
    assert not rows.held[cohort].any() and not (rows.held & pool).any()
    assert not set(rows.people[cohort].tolist()) & set(rows.people[pool].tolist())
    counts = [np.sum(rows.groups[cohort] == g) for g in GROUPS]
    assert counts == [(PEOPLE - HELD) // 2 * 2] * len(GROUPS)


def test_the_rules_are_tuned_on_development_people_and_one_is_chosen(bench, synthetic):
    rows, encodings = synthetic
    result = bench.evaluate(rows, encodings, args(rules=True), CARD, lambda name, size: 0.6)
    rules = result["rules"]
    assert sum(row["chosen"] for row in rules) == 1
    assert {row["rule"] for row in rules} >= {"cohort-quantile", "cohort-knn", "cohort+household-knn",
                                              "cohort-symmetric", "template-symmetric"}
    for row in rules:
        assert set(row["groups"]) == set(GROUPS) and set(row["dev"]) == set(GROUPS)
        if "alpha" in row["params"]:
            assert row["dev_summary"]["max_strangers_let_in"] <= bench.TUNE_TARGET


def test_the_markdown_table_has_a_row_per_operating_point_rule_and_the_bound(bench, synthetic):
    rows, encodings = synthetic
    result = bench.evaluate(rows, encodings, args(rules=True), CARD, lambda name, size: 0.6)
    table = bench.markdown(json.loads(json.dumps(result))).splitlines()
    assert len(table) == 2 + len(result["operating_points"]) + len(result["rules"]) + 1
    assert "**door default**" in table[2] and table[-1].startswith("| bound:")
    for group, oracle in result["group_oracle"].items():
        assert oracle["strangers_let_in"] <= 0.02 and group in table[0]


def test_templates_and_probe_normalisation_compute_what_they_say(bench, synthetic):
    rows, encodings = synthetic
    house = bench.draw_households(rows, rows.held, "g_b", draws=1, seed=2, household=4, enrolled=2)[0]
    template = bench.centroid_scored(encodings, house)
    centre = encodings[house.enrolled[house.enrolled_who == 1]].mean(axis=0)
    expected = np.linalg.norm(encodings[house.strangers] - centre, axis=1)
    assert np.allclose(template.strangers[:, 1], expected, atol=1e-5)
    scale = np.full(len(rows.paths), 4.0)
    halved = bench.probe_normalised(bench.score(encodings, house), scale)
    assert np.allclose(halved.others, bench.score(encodings, house).others / 2.0)


def test_wide_and_fused_encodings_get_the_nearest_photo_distance_the_door_search_would(bench):
    rng = np.random.default_rng(1)
    gallery, queries = rng.normal(size=(6, 128)).astype(np.float32), rng.normal(size=(4, 128)).astype(np.float32)
    who = np.array([0, 0, 1, 1, 2, 2])
    brute = np.linalg.norm(queries[:, None] - gallery[None], axis=2)
    door = bench.resident_distances(gallery, who, queries)  # facerec.search.ExactSearch
    wide = bench.resident_distances(np.tile(gallery, 4), who, np.tile(queries, 4))  # 512-d: numpy
    assert np.allclose(door, brute.reshape(4, 3, 2).min(axis=2), atol=1e-4)
    assert np.allclose(wide, 2 * door, atol=1e-3)  # four copies: twice the distance
    bench.BLOCKS[:] = [128, 128]
    try:  # a fusion: the sum of its parts' distances
        fused = bench.distance_matrix(np.hstack([gallery, 2 * gallery]), np.hstack([queries, 2 * queries]))
        assert np.allclose(fused, 3 * brute, atol=1e-3)
    finally:
        bench.BLOCKS[:] = []


def test_the_default_decision_is_the_doors_threshold_and_cohort_gate(bench, synthetic, monkeypatch):
    import facerec.api
    import facerec.cohort

    rows, encodings = synthetic
    bench.BLOCKS[:] = []
    calls = []
    real_gate = facerec.cohort.gate

    def spy(*arguments, **keywords):
        calls.append(1)
        return real_gate(*arguments, **keywords)

    monkeypatch.setattr(facerec.cohort, "gate", spy)
    strict = facerec.cohort.Cohort(encodings[~rows.held][::7], 3, 0.0)  # alpha 0: nobody passes the rule
    monkeypatch.setattr(facerec.api, "decision_cohort", lambda encoder, *a, **k: strict)
    result = bench.evaluate(rows, encodings, args(), CARD, lambda name, size: 0.6)
    assert calls and result["decision"].startswith("threshold and cohort")
    assert all(g["residents_admitted"] == 0.0 and g["strangers_let_in"] == 0.0 for g in result["groups"].values())
    assert result["operating_points"]["balanced"]["groups"]["g_a"]["residents_admitted"] > 0.9  # the threshold alone
    loose = facerec.cohort.Cohort(strict.encodings, 3, 1e9)  # the rule never refuses: the threshold decides
    monkeypatch.setattr(facerec.api, "decision_cohort", lambda encoder, *a, **k: loose)
    same = bench.evaluate(rows, encodings, args(), CARD, lambda name, size: 0.6)
    for group, figures in same["groups"].items():
        alone = same["operating_points"]["balanced"]["groups"][group]
        assert figures["strangers_let_in"] == alone["strangers_let_in"]
        assert figures["residents_admitted"] == alone["residents_admitted"]


def test_a_fusions_default_decision_goes_through_the_doors_search_and_gate_with_its_blocks(bench, synthetic,
                                                                                          monkeypatch):
    import facerec.api
    import facerec.cohort

    rows, encodings = synthetic
    width = encodings.shape[1]
    bench.BLOCKS[:] = [width // 2, width - width // 2]
    try:
        blocks = tuple(bench.BLOCKS)
        loose = facerec.cohort.Cohort(encodings[~rows.held][::7], 3, 1e9, blocks=blocks)
        monkeypatch.setattr(facerec.api, "decision_cohort", lambda encoder, *a, **k: loose)
        result = bench.evaluate(rows, encodings, args(), CARD, lambda name, size: 0.6)
        assert result["decision"].startswith("threshold and cohort")
        for group, figures in result["groups"].items():  # the door's block-summed search = the benchmark's matrix
            alone = result["operating_points"]["balanced"]["groups"][group]
            assert figures["strangers_let_in"] == alone["strangers_let_in"]
            assert figures["residents_admitted"] == alone["residents_admitted"]
    finally:
        bench.BLOCKS[:] = []
