"""Nearest-person search: exact NumPy search and the FAISS backends against a brute-force reference."""

from __future__ import annotations

import numpy as np
import pytest

from facerec.exceptions import EmptyDatabase, InvalidArgument
from facerec.search import ExactSearch, FaissSearch, make_search


def unit(rng: np.random.Generator, count: int) -> np.ndarray:
    vectors = rng.standard_normal((count, 128)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def gallery(seed: int = 0, people: int = 60, max_photos: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Random gallery: each person 1..max_photos noisy photos around their own centre, rows shuffled."""
    rng = np.random.default_rng(seed)
    centres = unit(rng, people)
    counts = rng.integers(1, max_photos + 1, size=people)
    ids = np.repeat(np.arange(people) * 7 + 3, counts)  # ids need not be 0..P-1
    rows = np.repeat(centres, counts, axis=0) + 0.3 * rng.standard_normal((counts.sum(), 128)).astype(np.float32)
    order = rng.permutation(len(ids))
    return rows[order].astype(np.float32), ids[order]


def reference(encodings: np.ndarray, ids: np.ndarray, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Brute force: each person's closest photo, the k closest people."""
    distances = np.linalg.norm(encodings.astype(np.float64) - query, axis=1)
    people = np.unique(ids)
    best = np.array([distances[ids == person].min() for person in people])
    order = np.argsort(best, kind="stable")[:k]
    return best[order], people[order]


@pytest.mark.parametrize("k", [1, 3, 10])
def test_exact_search_matches_brute_force_per_person(k):
    encodings, ids = gallery()
    queries = unit(np.random.default_rng(1), 25)
    distances, people = ExactSearch(encodings, ids).search(queries, k)
    assert distances.shape == people.shape == (25, k)
    assert distances.dtype == np.float32 and people.dtype == np.int64
    for query, row_d, row_p in zip(queries, distances, people):
        want_d, want_p = reference(encodings, ids, query, k)
        np.testing.assert_array_equal(row_p, want_p)
        np.testing.assert_allclose(row_d, want_d, rtol=1e-5, atol=1e-6)
        assert len(set(row_p)) == k  # each person at most once


def test_batches_give_the_same_answers_as_single_queries():
    encodings, ids = gallery(seed=2)
    queries = unit(np.random.default_rng(3), 9)
    search = ExactSearch(encodings, ids, batch_size=4)
    batch_d, batch_p = search.search(queries, 2)
    for query, row_d, row_p in zip(queries, batch_d, batch_p):
        single_d, single_p = search.search(query, 2)
        np.testing.assert_array_equal(single_p[0], row_p)
        np.testing.assert_allclose(single_d[0], row_d, rtol=1e-6)


def test_a_stored_encoding_is_found_at_distance_zero():
    encodings, ids = gallery(seed=4)
    distances, people = ExactSearch(encodings, ids).search(encodings[:20], 1)
    np.testing.assert_array_equal(people[:, 0], ids[:20])
    assert np.all(distances[:, 0] < 1e-6)  # recomputed directly, not lost to cancellation


def test_one_person_with_many_photos_does_not_hide_the_others():
    rng = np.random.default_rng(5)
    crowd = unit(rng, 200)
    encodings = np.vstack([crowd, unit(rng, 3)])
    ids = np.array([1] * 200 + [2, 3, 4])  # person 1 holds almost every row
    distances, people = ExactSearch(encodings, ids).search(crowd[0], 4)
    assert people[0, 0] == 1 and distances[0, 0] < 1e-6
    assert sorted(people[0, 1:]) == [2, 3, 4]


def test_k_is_clipped_to_the_number_of_people():
    encodings, ids = gallery(people=4)
    distances, people = ExactSearch(encodings, ids).search(unit(np.random.default_rng(6), 2), 50)
    assert people.shape == (2, 4)
    assert all(sorted(row) == sorted(np.unique(ids)) for row in people)
    assert np.all(np.diff(distances, axis=1) >= 0)


def test_faiss_flat_agrees_with_exact_search():
    encodings, ids = gallery(seed=7)
    queries = unit(np.random.default_rng(8), 30)
    exact_d, exact_p = ExactSearch(encodings, ids).search(queries, 3)
    faiss_d, faiss_p = FaissSearch(encodings, ids, index="flat").search(queries, 3)
    np.testing.assert_array_equal(faiss_p, exact_p)
    np.testing.assert_allclose(faiss_d, exact_d, rtol=1e-5)


def test_faiss_hnsw_finds_the_person_of_near_duplicates():
    encodings, ids = gallery(seed=9, people=300)
    rng = np.random.default_rng(10)
    rows = rng.choice(len(ids), 100, replace=False)
    queries = encodings[rows] + 0.01 * rng.standard_normal((100, 128)).astype(np.float32)
    _, people = make_search(encodings, ids, "faiss-hnsw").search(queries, 1)
    assert np.mean(people[:, 0] == ids[rows]) >= 0.95  # approximate search: allow a rare miss


def test_empty_gallery_and_bad_arguments_raise_typed_errors():
    with pytest.raises(EmptyDatabase):
        ExactSearch(np.zeros((0, 128), np.float32), np.zeros(0, np.int64))
    encodings, ids = gallery(people=3)
    with pytest.raises(InvalidArgument, match="shape"):
        ExactSearch(encodings[:, :64], ids)
    with pytest.raises(InvalidArgument, match="person ids"):
        ExactSearch(encodings, ids[:-1])
    search = ExactSearch(encodings, ids)
    with pytest.raises(InvalidArgument, match="k must"):
        search.search(encodings[0], 0)
    with pytest.raises(InvalidArgument, match="NaN"):
        search.search(np.full(128, np.nan, np.float32), 1)
    with pytest.raises(InvalidArgument, match="backend"):
        make_search(encodings, ids, "annoy")
    with pytest.raises(InvalidArgument, match="FAISS index"):
        FaissSearch(encodings, ids, index="ivf")
