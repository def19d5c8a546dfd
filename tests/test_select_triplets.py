"""select_triplets (the fifth graded function, not yet in the notebook): the reference passes, the common
wrong versions fail with the right hint."""

from __future__ import annotations

import re

import numpy as np
import pytest

from course import solutions
from course import triplet_selection_tests as tests


def _pairs(labels):
    return [(a, p) for a in range(len(labels)) for p in range(len(labels)) if a != p and labels[a] == labels[p]]


def _negatives(labels, a):
    return np.flatnonzero(np.asarray(labels) != labels[a])


def _picking(choose):
    """A select_triplets that picks each pair's negative with ``choose(dist_row, d_ap, candidates, alpha)``."""
    def select(encodings, labels, alpha=0.2):
        e, labels = np.asarray(encodings, np.float64), np.asarray(labels)
        dist = np.sum(np.square(e[:, None] - e[None]), axis=-1)
        out = [[], [], []]
        for a, p in _pairs(labels):
            candidates = _negatives(labels, a)
            if len(candidates):
                for target, value in zip(out, (a, p, choose(dist[a], dist[a, p], candidates, alpha))):
                    target.append(int(value))
        return tuple(np.array(x, dtype=int) for x in out)
    return select


def all_negatives(encodings, labels, alpha=0.2):
    labels = np.asarray(labels)
    triplets = [(a, p, n) for a, p in _pairs(labels) for n in _negatives(labels, a)]
    return tuple(np.array(x, dtype=int) for x in zip(*triplets)) if triplets else (np.array([], int),) * 3


MUTANTS = {
    "all negatives": (all_negatives, "one negative for each pair"),
    "easiest negative": (_picking(lambda d, dap, c, alpha: c[np.argmax(d[c])]), "not the farthest"),
    "hardest only": (_picking(lambda d, dap, c, alpha: c[np.argmin(d[c])]), "first keep the semi-hard"),
    "a negative of the same person": (_picking(lambda d, dap, c, alpha: int(np.argmin(np.where(
        np.arange(len(d)) == c[0], np.inf, d)))), "negatives come from labels != labels[a]"),
    "indices out of range": (_picking(lambda d, dap, c, alpha: c[np.argmin(d[c])] + len(d)), "0 to m - 1"),
}


def test_the_reference_passes_every_test():
    for test in (*tests.PUBLIC, *tests.HIDDEN):
        test(solutions.select_triplets)


@pytest.mark.parametrize("name", MUTANTS)
def test_a_common_mistake_fails_the_public_test_with_its_hint(name):
    mutant, hint = MUTANTS[name]
    with pytest.raises(AssertionError, match=re.escape(hint)):
        tests.select_triplets_test(mutant)


def test_degenerate_batches_give_no_triplets():
    encodings = np.random.default_rng(0).normal(size=(4, 128))
    for labels in (np.zeros(4, int), np.arange(4)):
        assert all(len(x) == 0 for x in solutions.select_triplets(encodings, labels))
