"""Nearest-person search over enrolled encodings (1:K identification).

A gallery is a matrix of ``N`` encodings ``(N, D)`` float32 (``D = 128`` for dlib and nn4; wider
encodings made of several blocks are compared by :mod:`facerec.distances`) and, for each row,
the integer id of the person it shows (several rows per person). A query is
answered by *person*: each person's distance is the distance to their closest
photo, and the ``k`` closest people are returned, closest first.

Two backends share one interface, ``search(queries (Q, D), k) -> (distances
(Q, k') float32, person ids (Q, k') int64)`` with ``k' = min(k, people)``:

* :class:`ExactSearch` (default): one float32 matrix product against the gallery
  with precomputed squared norms, ``|q - x|^2 = |q|^2 - 2 q.x + |x|^2``, then
  ``argpartition`` for the candidates. Exact; about a millisecond per query for
  100,000 encodings on one CPU core.
* :class:`FaissSearch`: a FAISS ``IndexFlatL2`` (exact) or ``IndexHNSWFlat``
  (approximate graph search, for millions of encodings).

Both take the ``k * m`` nearest encodings as candidates, where ``m`` is the most
photos any one person has; among them are always the ``k`` nearest distinct
people (each person fills at most ``m`` of them). Candidate distances are then
recomputed directly as ``|q - x|`` so that tiny distances (a photo against
itself) are not lost to float32 cancellation.
"""

from __future__ import annotations

import numpy as np

from facerec.distances import ENCODING_SIZE, block_distance, check_blocks, pairwise_distances
from facerec.exceptions import EmptyDatabase, InvalidArgument

__all__ = ["ENCODING_SIZE", "BACKENDS", "PersonSearch", "ExactSearch", "FaissSearch", "make_search"]
BACKENDS = ("exact", "faiss-flat", "faiss-hnsw")
# FAISS searches fewer queries than this on one OpenMP thread: on 2 cores a single query
# on a flat index of 100,000 took 8 ms with 2 threads and 2 ms with one (BENCHMARKS.md).
FAISS_SERIAL_BELOW = 20


def _as_matrix(array: np.ndarray, name: str, size: int | None = None) -> np.ndarray:
    """``array`` as a C-contiguous float32 ``(n, size)`` matrix (``size``: any width > 0 when None)."""
    matrix = np.asarray(array, dtype=np.float32)
    if matrix.ndim == 1:
        matrix = matrix[None]
    if matrix.ndim != 2 or matrix.shape[1] != (size or matrix.shape[1]) or matrix.shape[1] == 0:
        raise InvalidArgument(f"{name} must have shape (n, {size or 'D'}), got {np.shape(array)}")
    if not np.all(np.isfinite(matrix)):
        raise InvalidArgument(f"{name} holds NaN or infinite values")
    return np.ascontiguousarray(matrix)


class PersonSearch:
    """Base of the search backends: candidate selection is left to subclasses.

    Args:
        encodings: ``(N, D)`` gallery encodings (converted to float32; ``D`` is 128 for dlib and nn4).
        person_ids: ``(N,)`` integer person id of each row.
        blocks: the encodings' block widths (:mod:`facerec.distances`); default one block of 128 (plain L2):
            a gallery of another width must say its blocks.

    Raises:
        EmptyDatabase: ``N == 0``.
        InvalidArgument: wrong shapes or non-finite values.
    """

    def __init__(self, encodings: np.ndarray, person_ids: np.ndarray, blocks: tuple[int, ...] | None = None):
        self.encodings = _as_matrix(encodings, "encodings", None if blocks else ENCODING_SIZE)
        self.blocks = check_blocks(blocks, self.encodings.shape[1])
        self.person_ids = np.asarray(person_ids, dtype=np.int64).ravel()
        if len(self.encodings) == 0:
            raise EmptyDatabase("the gallery holds no encodings; enroll someone first")
        if len(self.person_ids) != len(self.encodings):
            raise InvalidArgument(f"{len(self.encodings)} encodings but {len(self.person_ids)} person ids")
        _, counts = np.unique(self.person_ids, return_counts=True)
        self.n_people = len(counts)
        self.max_photos = int(counts.max())

    def __len__(self) -> int:
        return len(self.encodings)

    def _nearest(self, queries: np.ndarray, m: int) -> np.ndarray:
        """Row indices ``(Q, m)`` of (at least) the ``m`` nearest encodings of each query, any order."""
        raise NotImplementedError

    def search(self, queries: np.ndarray, k: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` closest people of each query.

        Args:
            queries: ``(Q, D)`` (or one ``(D,)``) encodings, ``D`` the gallery's width.
            k: people per query; clipped to the number of people enrolled.

        Returns:
            ``(distances, person_ids)``, both ``(Q, min(k, people))``: the distance (L2, summed over
            blocks) to each person's closest photo (float32) and their id (int64),
            sorted closest first.
        """
        queries = _as_matrix(queries, "queries", self.encodings.shape[1])
        if not isinstance(k, (int, np.integer)) or k < 1:
            raise InvalidArgument(f"k must be a positive integer, got {k!r}")
        k = min(int(k), self.n_people)
        m = min(len(self), k * self.max_photos)
        candidates = self._nearest(queries, m)
        distances = np.empty((len(queries), k), np.float32)
        ids = np.empty((len(queries), k), np.int64)
        for row, (query, rows) in enumerate(zip(queries, candidates)):
            rows = rows[rows >= 0]
            exact = block_distance(self.encodings[rows], query, self.blocks).astype(np.float32)
            order = np.argsort(exact, kind="stable")
            people, first = np.unique(self.person_ids[rows[order]], return_index=True)
            best = np.argsort(exact[order][first], kind="stable")[:k]
            distances[row], ids[row] = exact[order][first][best], people[best]
        return distances, ids


class ExactSearch(PersonSearch):
    """Exact search with NumPy: one matrix product and ``argpartition`` per batch.

    Args:
        encodings: ``(N, D)`` gallery encodings.
        person_ids: ``(N,)`` person id of each row.
        batch_size: queries per matrix product (bounds memory to ``batch_size * N`` floats).
        blocks: the encodings' block widths (default one block).
    """

    def __init__(self, encodings: np.ndarray, person_ids: np.ndarray, batch_size: int = 256,
                 blocks: tuple[int, ...] | None = None):
        super().__init__(encodings, person_ids, blocks)
        self.squared_norms = np.einsum("ij,ij->i", self.encodings, self.encodings)
        self.batch_size = batch_size

    def squared_distances(self, queries: np.ndarray) -> np.ndarray:
        """``(Q, N)`` float32 squared distances (clipped at 0) from each query to each row (of the block sum)."""
        queries = _as_matrix(queries, "queries", self.encodings.shape[1])
        if len(self.blocks) > 1:
            return np.square(pairwise_distances(queries, self.encodings, self.blocks)).astype(np.float32)
        products = queries @ self.encodings.T
        products *= -2.0
        products += self.squared_norms
        products += np.einsum("ij,ij->i", queries, queries)[:, None]
        return np.maximum(products, 0.0, out=products)

    def _nearest(self, queries: np.ndarray, m: int) -> np.ndarray:
        chunks = []
        for start in range(0, len(queries), self.batch_size):
            squared = self.squared_distances(queries[start:start + self.batch_size])
            if m >= squared.shape[1]:
                chunks.append(np.broadcast_to(np.arange(squared.shape[1]), squared.shape))
            elif m == 1:  # one photo per person, k = 1: argmin is one fast pass, argpartition several
                chunks.append(np.argmin(squared, axis=1)[:, None])
            else:
                chunks.append(np.argpartition(squared, m - 1, axis=1)[:, :m])
        return np.concatenate(chunks)


class FaissSearch(PersonSearch):
    """FAISS index behind the same interface, for galleries of millions.

    Args:
        encodings: ``(N, D)`` gallery encodings.
        person_ids: ``(N,)`` person id of each row.
        index: ``"flat"`` (``IndexFlatL2``, exact) or ``"hnsw"`` (``IndexHNSWFlat``,
            approximate: a rare query may miss its true nearest photo).
        hnsw_m: graph neighbours per node of the HNSW index (default 32).
        ef_search: HNSW search breadth (default 128; higher is slower and surer).
        blocks: the encodings' block widths (default one block). With ``B > 1`` blocks the index holds the
            plain concatenation; ``flat`` then keeps every row within ``sqrt(B)`` times the L2 distance of
            the ``m``-th nearest (a range search: still exact, :mod:`facerec.distances`), ``hnsw`` asks for
            ``4 m`` rows; either way the rows are re-ranked by the block distance.
    """

    def __init__(self, encodings: np.ndarray, person_ids: np.ndarray, index: str = "flat",
                 hnsw_m: int = 32, ef_search: int = 128, blocks: tuple[int, ...] | None = None):
        import faiss

        super().__init__(encodings, person_ids, blocks)
        size = self.encodings.shape[1]
        if index == "flat":
            self.index = faiss.IndexFlatL2(size)
        elif index == "hnsw":
            self.index = faiss.IndexHNSWFlat(size, hnsw_m)
            self.index.hnsw.efSearch = ef_search
        else:
            raise InvalidArgument(f"unknown FAISS index {index!r}; choose 'flat' or 'hnsw'")
        self.ef_search = ef_search
        self.index.add(self.encodings)

    def _nearest(self, queries: np.ndarray, m: int) -> np.ndarray:
        import faiss

        hnsw = hasattr(self.index, "hnsw")
        if len(self.blocks) > 1 and hnsw:
            m = min(len(self), 4 * m)
        if hnsw:
            self.index.hnsw.efSearch = max(self.ef_search, m)
        threads = faiss.omp_get_max_threads()
        if len(queries) < FAISS_SERIAL_BELOW:
            faiss.omp_set_num_threads(1)
        try:
            squared, rows = self.index.search(queries, m)
            if len(self.blocks) > 1 and not hnsw:
                rows = self._within_bound(queries, squared[:, -1])
        finally:
            faiss.omp_set_num_threads(threads)
        return rows

    def _within_bound(self, queries: np.ndarray, mth_squared: np.ndarray) -> np.ndarray:
        """Rows ``(Q, R)`` (padded with -1) within ``sqrt(B)`` times each query's ``m``-th L2 distance."""
        radii = len(self.blocks) * np.maximum(mth_squared, 0) * (1 + 1e-5) + 1e-6
        found = []
        for query, radius in zip(queries, radii):
            _, _, rows = self.index.range_search(query[None], float(radius))
            found.append(rows)
        out = np.full((len(found), max(len(r) for r in found)), -1, np.int64)
        for row, rows in enumerate(found):
            out[row, :len(rows)] = rows
        return out


def make_search(encodings: np.ndarray, person_ids: np.ndarray, backend: str = "exact",
                blocks: tuple[int, ...] | None = None) -> PersonSearch:
    """Build a search over a gallery.

    Args:
        encodings: ``(N, D)`` gallery encodings.
        person_ids: ``(N,)`` person id of each row.
        backend: ``"exact"`` (NumPy, default), ``"faiss-flat"`` or ``"faiss-hnsw"``.
        blocks: the encodings' block widths (:mod:`facerec.distances`; default one block, plain L2).
    """
    if backend == "exact":
        return ExactSearch(encodings, person_ids, blocks=blocks)
    if backend in ("faiss-flat", "faiss-hnsw"):
        return FaissSearch(encodings, person_ids, index=backend.split("-")[1], blocks=blocks)
    raise InvalidArgument(f"unknown search backend {backend!r}; choose one of {BACKENDS}")
