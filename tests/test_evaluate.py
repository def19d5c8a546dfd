"""The LFW protocol on constructed distances whose right answers are known."""

from __future__ import annotations

import numpy as np
import pytest

from facerec.evaluate import (
    Pair,
    accuracy_at,
    best_threshold,
    read_pairs,
    roc_auc,
    tar_at_far,
    ten_fold,
)
from facerec.exceptions import InvalidArgument


def _pairs(n_folds: int, per_class: int) -> list[Pair]:
    return [Pair("a", "b", same, fold) for fold in range(n_folds) for same in (True, False)
            for _ in range(per_class)]


def test_best_threshold_separates_separable_scores():
    distances = np.array([0.1, 0.2, 0.3, 0.9, 1.0, 1.1])
    same = np.array([True, True, True, False, False, False])
    threshold = best_threshold(distances, same)
    assert 0.3 < threshold < 0.9
    assert accuracy_at(distances, same, threshold) == 1.0


def test_ten_fold_on_perfectly_separable_pairs():
    pairs = _pairs(10, 30)
    rng = np.random.default_rng(0)
    distances = np.array([rng.uniform(0.2, 0.6) if p.same else rng.uniform(0.8, 1.4) for p in pairs])
    result = ten_fold(distances, pairs)
    assert result.accuracy_mean == 1.0 and result.accuracy_std == 0.0
    assert result.auc == 1.0
    assert 0.6 <= result.threshold <= 0.8
    assert result.to_json()["tar_at_far_1e-3"] == 1.0
    assert result.n_pairs == 600


def test_ten_fold_on_random_scores_is_near_chance():
    pairs = _pairs(10, 300)
    distances = np.random.default_rng(1).random(len(pairs))
    result = ten_fold(distances, pairs)
    assert 0.45 < result.accuracy_mean < 0.56
    assert 0.45 < result.auc < 0.55


def test_threshold_is_chosen_without_the_test_fold():
    # fold 0 is inverted: a threshold tuned on the other nine folds must get it all wrong
    pairs = _pairs(10, 10)
    distances = np.array([(0.2 if p.same else 1.0) if p.fold else (1.0 if p.same else 0.2) for p in pairs])
    result = ten_fold(distances, pairs)
    assert result.fold_accuracies[0] == 0.0
    assert all(acc == 1.0 for acc in result.fold_accuracies[1:])


def test_auc_and_tar_at_far_by_hand():
    distances = np.array([0.1, 0.4, 0.35, 0.9])
    same = np.array([True, True, False, False])
    assert roc_auc(distances, same) == pytest.approx(0.75)
    assert tar_at_far(distances, same, far=0.0) == 0.5  # only 0.1 is below the closest negative (0.35)


def test_official_pairs_file_parses(assets):
    pairs = read_pairs(assets / "lfw" / "pairs.txt")
    assert len(pairs) == 6000
    assert sum(p.same for p in pairs) == 3000
    assert {p.fold for p in pairs} == set(range(10))
    assert pairs[0].first.endswith("_0001.jpg") or pairs[0].first.count("/") == 1


def test_view1_pairs_file_is_one_fold(assets):
    pairs = read_pairs(assets / "lfw" / "pairsDevTest.txt")
    assert len(pairs) == 1000 and {p.fold for p in pairs} == {0}


def test_bad_pairs_file_is_a_typed_error(tmp_path):
    path = tmp_path / "pairs.txt"
    path.write_text("1 2\nA 1 2\n")
    with pytest.raises(InvalidArgument, match="promises"):
        read_pairs(path)
    with pytest.raises(InvalidArgument, match="not found"):
        read_pairs(tmp_path / "nothing.txt")
