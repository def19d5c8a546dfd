"""BFW's held-out split and per-group table."""

from __future__ import annotations

import numpy as np
import pytest

from facerec.training import bfw_split


def _listing(groups=("a", "b"), people=40, photos=3):
    identities = [f"{g}{p:03d}" for g in groups for p in range(people) for _ in range(photos)]
    return identities, [name[0] for name in identities]


def test_the_held_out_people_are_fixed_per_group_whatever_the_row_order():
    identities, groups = _listing()
    held = bfw_split.held_out_identities(identities, groups)
    assert len(held) == 50 and sum(h.startswith("a") for h in held) == 25
    order = np.random.default_rng(1).permutation(len(identities))
    assert bfw_split.held_out_identities([identities[i] for i in order], [groups[i] for i in order]) == held
    mask = bfw_split.held_out_mask(identities, groups)
    assert mask.sum() == 150 and all((identities[i] in held) == mask[i] for i in range(len(identities)))


def test_held_out_pairs_are_balanced_and_within_a_group():
    labels = np.repeat(np.arange(6), 4)
    groups = np.repeat(np.array(list("aaabbb")), 4)
    first, second, same, group = bfw_split.held_out_pairs(labels, groups)
    assert np.array_equal(same, labels[first] == labels[second])
    assert np.all(groups[first] == groups[second]) and np.array_equal(group, groups[first])
    for g in "ab":
        in_group = group == g
        assert same[in_group].sum() == (~same[in_group]).sum() == 3 * 6  # 3 people x C(4, 2)
    assert len(set(zip(first.tolist(), second.tolist()))) == len(first)


def test_group_table_rates_at_the_global_and_the_own_threshold():
    distances = np.array([0.2, 0.4, 0.9, 1.1, 0.5, 0.6, 0.7, 0.8])
    same = np.array([True, True, False, False, True, True, False, False])
    groups = np.array(list("aaaabbbb"))
    rows = {row["group"]: row for row in bfw_split.group_table(distances, same, groups, threshold=0.65)}
    assert rows["a"]["far"] == 0.0 and rows["a"]["frr"] == 0.0 and rows["a"]["accuracy"] == 1.0
    assert rows["b"]["far"] == 0.0 and rows["b"]["frr"] == 0.0
    strict = {row["group"]: row for row in bfw_split.group_table(distances, same, groups, threshold=0.45)}
    assert strict["b"]["frr"] == 1.0 and strict["b"]["own_accuracy"] == 1.0
    assert 0.5 <= strict["b"]["own_threshold"] < 0.7
    assert strict["all"]["pairs"] == 8 and strict["all"]["frr"] == pytest.approx(0.5)
