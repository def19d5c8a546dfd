"""Tests of ``select_triplets``, the fifth graded function (registered in the public and hidden ``TESTS``).

``select_triplets_test`` is the public test (hand-made batches, hints for the common
mistakes); ``select_triplets_degenerate`` and ``select_triplets_random_batches`` are
hidden (one identity only, a person with one photo, ties, random batches of several
sizes against the reference).
"""

from __future__ import annotations

import numpy as np

from course import solutions
from course._checks import PASSED, call, check_no_error, fail

_MISTAKES = (
    ("easiest", "choose the closest negative (the hardest within the margin), not the farthest: "
                "pool[np.argmin(dist[a, pool])]"),
    ("hardest_only", "first keep the semi-hard negatives, d(a, p) < d(a, n) < d(a, p) + alpha; fall back to the "
                     "closest negative only when there is none"),
    ("farthest_semi_hard", "among the semi-hard negatives take the closest to the anchor (np.argmin), not the "
                           "farthest"),
    ("not_squared", "compare squared distances, as triplet_loss does: np.sum(np.square(e_i - e_j), axis=-1)"),
    ("no_fallback", "when no negative is semi-hard, use the closest negative of all; don't drop the pair"),
)


def selection_variants(encodings: np.ndarray, labels: np.ndarray, alpha: float) -> dict[str, tuple]:
    """The correct selection (``"correct"``) and the results of the common mistakes."""
    e, labels = np.asarray(encodings, np.float64), np.asarray(labels)
    squared = np.sum(np.square(e[:, None] - e[None]), axis=-1)
    results: dict[str, list] = {name: ([], [], []) for name in ("correct", "easiest", "hardest_only",
                                                                 "farthest_semi_hard", "not_squared", "no_fallback")}
    for a in range(len(labels)):
        for p in range(len(labels)):
            candidates = np.flatnonzero(labels != labels[a])
            if p == a or labels[p] != labels[a] or len(candidates) == 0:
                continue
            for name, dist in (("correct", squared), ("not_squared", np.sqrt(squared))):
                d = dist[a, candidates]
                semi = candidates[(d > dist[a, p]) & (d < dist[a, p] + alpha)]
                pool = semi if len(semi) else candidates
                _append(results[name], a, p, pool[np.argmin(dist[a, pool])])
            d = squared[a, candidates]
            semi = candidates[(d > squared[a, p]) & (d < squared[a, p] + alpha)]
            _append(results["easiest"], a, p, candidates[np.argmax(d)])
            _append(results["hardest_only"], a, p, candidates[np.argmin(d)])
            if len(semi):
                _append(results["farthest_semi_hard"], a, p, semi[np.argmax(squared[a, semi])])
                _append(results["no_fallback"], a, p, semi[np.argmin(squared[a, semi])])
            else:
                _append(results["farthest_semi_hard"], a, p, candidates[np.argmin(d)])
    return {name: tuple(np.array(x, dtype=int) for x in value) for name, value in results.items()}


def _append(lists, a, p, n) -> None:
    for target, value in zip(lists, (a, p, n)):
        target.append(int(value))


def check_selection(target, encodings: np.ndarray, labels: np.ndarray, alpha: float, label: str) -> None:
    """Call ``target(encodings, labels, alpha)`` and compare with the reference, explaining common mistakes."""
    call_text = f"select_triplets on {label}"
    outcome = call(target, encodings, labels, alpha)
    check_no_error(target, outcome, call_text)
    result = outcome.result
    if not isinstance(result, (tuple, list)) or len(result) != 3:
        fail(target, f"{call_text} returned {type(result).__name__}, not three arrays",
             "return anchors, positives, negatives (three numpy arrays)")
    arrays = [np.asarray(x) for x in result]
    if any(x.ndim != 1 for x in arrays) or len({len(x) for x in arrays}) != 1:
        fail(target, f"{call_text} returned arrays of shapes {[x.shape for x in arrays]}",
             "one anchor, one positive and one negative per triplet: three 1-d arrays of the same length")
    if any(len(x) and not np.issubdtype(x.dtype, np.integer) for x in arrays):
        fail(target, f"{call_text} returned {arrays[0].dtype} indices", "return integer indices (dtype=int)")
    anchors, positives, negatives = arrays
    m = len(labels)
    if any(len(x) and (x.min() < 0 or x.max() >= m) for x in arrays):
        fail(target, f"{call_text} returned indices outside 0..{m - 1}", "return positions in the batch, 0 to m - 1")
    if len(anchors) and (np.any(labels[negatives] == labels[anchors]) or np.any(anchors == positives)
                         or np.any(labels[positives] != labels[anchors])):
        fail(target, f"{call_text} returned a triplet whose negative is the anchor's own person (or a positive "
                     "of another person)", "negatives come from labels != labels[a]; positives from labels == "
                                           "labels[a], p != a")
    variants = selection_variants(encodings, labels, alpha)
    expected = variants["correct"]
    if len(anchors) != len(expected[0]):
        fail(target, f"{call_text} returned {len(anchors)} triplets, expected {len(expected[0])} (one per ordered "
                     "anchor-positive pair that has a negative)",
             "keep exactly one negative for each pair (a, p) with a != p of the same person")
    if not all(np.array_equal(x, y) for x, y in zip(arrays, expected)):
        hints = [hint for key, hint in _MISTAKES
                 if all(np.array_equal(x, y) for x, y in zip(arrays, variants[key]))]
        wrong = int(np.flatnonzero(~(negatives == expected[2]) | ~(anchors == expected[0]))[0])
        fail(target, f"{call_text}: triplet {wrong} is {tuple(int(x[wrong]) for x in arrays)}, expected "
                     f"{tuple(int(x[wrong]) for x in expected)}",
             hints[0] if hints else "loop over a, then p; pick the closest semi-hard negative, else the closest")


_LINE = np.array([[0.0], [0.1], [0.5], [0.35], [2.0]])  # five 1-d "encodings" on a line, padded to 128-d


def _padded(points: np.ndarray) -> np.ndarray:
    return np.pad(np.asarray(points, np.float64), ((0, 0), (0, 128 - points.shape[1]))).astype(np.float32)


def select_triplets_test(target) -> None:
    """Public test: hand-made batches whose triplets can be worked out on paper, then a random batch."""
    check_selection(target, _padded(_LINE), np.array([0, 0, 1, 1, 2]), 0.2, "five points on a line")
    # No semi-hard negative: every negative is closer than the positive, so the closest one is taken.
    near = _padded(np.array([[0.0], [1.0], [0.2], [0.3]]))
    check_selection(target, near, np.array([0, 0, 1, 2]), 0.2, "negatives all closer than the positive")
    rng = np.random.default_rng(3)
    encodings = rng.normal(size=(12, 128)).astype(np.float32)
    encodings /= np.linalg.norm(encodings, axis=1, keepdims=True)
    check_selection(target, encodings, np.repeat(np.arange(4), 3), 0.5, "a random batch of 4 people x 3")
    print(PASSED)


def select_triplets_degenerate(target) -> None:
    """Hidden: one identity only (no triplet), a person with one photo, every person alone, exact ties."""
    rng = np.random.default_rng(11)
    encodings = rng.normal(size=(6, 128)).astype(np.float32)
    check_selection(target, encodings, np.zeros(6, int), 0.2, "a batch of one person only (no triplet)")
    check_selection(target, encodings, np.arange(6), 0.2, "a batch where everyone has one photo (no triplet)")
    check_selection(target, encodings, np.array([0, 0, 0, 1, 2, 2]), 0.2, "a person with a single photo")
    tied = _padded(np.array([[0.0], [0.1], [0.3], [-0.3], [0.3]]))
    check_selection(target, tied, np.array([0, 0, 1, 2, 3]), 0.2, "negatives at equal distances (lowest index)")
    check_selection(target, encodings, np.array(list("aabbcc")), 0.2, "string labels")


def select_triplets_random_batches(target) -> None:
    """Hidden: random batches of several sizes and margins against the reference."""
    rng = np.random.default_rng(5)
    for people, photos, alpha in ((2, 2, 0.2), (5, 4, 0.2), (8, 3, 1.0), (3, 6, 0.0)):
        encodings = rng.normal(size=(people * photos, 128))
        encodings /= np.linalg.norm(encodings, axis=1, keepdims=True)
        labels = rng.permutation(np.repeat(np.arange(people), photos))
        check_selection(target, encodings, labels, alpha, f"{people} people x {photos} photos, alpha={alpha}")


PUBLIC = (select_triplets_test,)
HIDDEN = (select_triplets_degenerate, select_triplets_random_batches)
assert solutions.select_triplets  # the reference these tests compare with
