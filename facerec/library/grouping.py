"""Grouping face encodings into people, and scoring a grouping against the truth.

Algorithms (``method``), all on L2 distances between 128-d encodings:

* ``chinese-whispers``: dlib's Chinese whispers on the graph of pairs closer than ``threshold`` (the
  edges come from a radius search, so memory grows with the edges, not with N²); face_recognition's
  clustering example uses threshold 0.5.
* ``dbscan``: scikit-learn's DBSCAN with ``eps = threshold`` and ``min_samples = min_faces``
  (Immich's defaults: maximum distance 0.5, at least 3 faces; Immich measures cosine distance on its
  own model, here it is L2 on facerec's encoder).
* ``agglomerative``: scikit-learn's agglomerative clustering, average linkage, cut at ``threshold``,
  restricted to each face's nearest neighbours (a sparse connectivity graph; memory stays bounded).
* ``hdbscan``: scikit-learn's HDBSCAN with ``min_cluster_size = 2``.

Every function returns one label per face; faces left alone get a label of their own (never -1), so a
label that occurs once is a group of one.
"""

from __future__ import annotations

import numpy as np

from facerec.exceptions import InvalidArgument

METHODS = ("chinese-whispers", "dbscan", "agglomerative", "hdbscan")
DEFAULT_METHOD = "chinese-whispers"  # chosen on the measurements of MODEL_CARD.md ("Photo library: grouping")
DEFAULT_THRESHOLD = 0.45  # L2 on dlib encodings: the best of 0.4/0.45/0.5/0.55 on BFW (face_recognition uses 0.5)
BLOCK_FLOATS = 1 << 25  # distances computed at once by close_pairs (128 MiB of float32)
NEIGHBOURS = 30  # nearest neighbours kept per face by the agglomerative connectivity graph


def close_pairs(encodings: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every pair ``i < j`` with ``||e_i - e_j|| < threshold``: ``(i, j, distance)`` arrays.

    Exact, in blocks of rows of at most :data:`BLOCK_FLOATS` distances (128 MiB), whatever N.
    """
    x = np.ascontiguousarray(encodings, dtype=np.float32)
    norms = np.einsum("ij,ij->i", x, x)
    rows, cols, dists = [], [], []
    step = max(16, BLOCK_FLOATS // max(1, len(x)))
    for start in range(0, len(x), step):
        block = x[start:start + step]
        squared = block @ x.T
        squared *= -2.0
        squared += norms[start:start + step, None]
        squared += norms[None, :]
        i, j = np.nonzero(squared < threshold * threshold)
        keep = i + start < j
        rows.append(i[keep] + start)
        cols.append(j[keep])
        dists.append(np.sqrt(np.maximum(squared[i[keep], j[keep]], 0.0)))
    if not rows:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32)
    return np.concatenate(rows), np.concatenate(cols), np.concatenate(dists)


def nearest(queries: np.ndarray, gallery: np.ndarray, block: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """Each query's closest gallery row: ``(L2 distances (Q,) float32, row indices (Q,) int64)`` (exact, blocked).

    Raises:
        InvalidArgument: an empty gallery.
    """
    if len(gallery) == 0:
        raise InvalidArgument("nothing to compare with: the gallery is empty")
    q = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, gallery.shape[1])
    g = np.ascontiguousarray(gallery, dtype=np.float32)
    g_norms = np.einsum("ij,ij->i", g, g)
    distances, indices = np.empty(len(q), np.float32), np.empty(len(q), np.int64)
    for start in range(0, len(q), block):
        part = q[start:start + block]
        squared = np.einsum("ij,ij->i", part, part)[:, None] + g_norms[None, :] - 2.0 * part @ g.T
        best = squared.argmin(axis=1)
        indices[start:start + block] = best
        distances[start:start + block] = np.sqrt(np.maximum(squared[np.arange(len(part)), best], 0.0))
    return distances, indices


def _singletons(labels: np.ndarray) -> np.ndarray:
    """Give every face labelled -1 a label of its own."""
    labels = np.asarray(labels, dtype=np.int64).copy()
    alone = labels < 0
    labels[alone] = labels.max(initial=-1) + 1 + np.arange(alone.sum())
    return labels


def chinese_whispers(encodings: np.ndarray, threshold: float = DEFAULT_THRESHOLD) -> np.ndarray:
    """dlib's Chinese whispers over the pairs closer than ``threshold`` (unweighted edges, as dlib's own
    ``chinese_whispers_clustering`` builds them)."""
    import dlib

    n = len(encodings)
    if n == 0:
        return np.zeros(0, np.int64)
    i, j, _ = close_pairs(encodings, threshold)
    edges = [(k, k) for k in range(n)] + list(zip(i.tolist(), j.tolist()))
    return np.asarray(dlib.chinese_whispers(edges), dtype=np.int64)


def cluster(encodings: np.ndarray, method: str = DEFAULT_METHOD, threshold: float = DEFAULT_THRESHOLD,
            min_faces: int = 3) -> np.ndarray:
    """One label ``(N,)`` int64 per encoding of ``encodings`` ``(N, 128)``.

    Args:
        encodings: ``(N, 128)`` float32.
        method: one of :data:`METHODS` (default :data:`DEFAULT_METHOD`).
        threshold: L2 distance (default 0.45): the edge length (Chinese whispers), ``eps`` (DBSCAN), or
            the average-linkage cut (agglomerative); unused by HDBSCAN.
        min_faces: DBSCAN's ``min_samples`` (default 3, Immich's).

    Raises:
        InvalidArgument: an unknown method or a non-positive threshold.
    """
    if method not in METHODS:
        raise InvalidArgument(f"unknown clustering method {method!r}; use one of {', '.join(METHODS)}")
    if not threshold > 0:
        raise InvalidArgument(f"the clustering threshold must be a positive L2 distance, got {threshold}")
    encodings = np.asarray(encodings, dtype=np.float32).reshape(-1, encodings.shape[-1] if len(encodings) else 128)
    if len(encodings) < 2:
        return np.arange(len(encodings), dtype=np.int64)
    if method == "chinese-whispers":
        return chinese_whispers(encodings, threshold)
    if method == "dbscan":
        from sklearn.cluster import DBSCAN

        return _singletons(DBSCAN(eps=threshold, min_samples=min_faces).fit_predict(encodings))
    if method == "hdbscan":
        from sklearn.cluster import HDBSCAN

        return _singletons(HDBSCAN(min_cluster_size=2, copy=True).fit_predict(encodings))
    return _agglomerative(encodings, threshold)


def _agglomerative(encodings: np.ndarray, threshold: float) -> np.ndarray:
    from sklearn.cluster import AgglomerativeClustering
    from sklearn.neighbors import kneighbors_graph

    neighbours = min(NEIGHBOURS, len(encodings) - 1)
    graph = kneighbors_graph(encodings, neighbours, include_self=False)
    model = AgglomerativeClustering(n_clusters=None, distance_threshold=threshold, linkage="average",
                                    connectivity=graph)
    return model.fit_predict(encodings).astype(np.int64)


def _contingency(truth: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(cell counts, truth class sizes per cell, cluster sizes per cell)`` of the non-empty cells."""
    _, t = np.unique(truth, return_inverse=True)
    _, c = np.unique(labels, return_inverse=True)
    cells, counts = np.unique(np.stack([t, c]), axis=1, return_counts=True)
    return counts, np.bincount(t)[cells[0]], np.bincount(c)[cells[1]]


def bcubed(truth: np.ndarray, labels: np.ndarray) -> tuple[float, float, float]:
    """BCubed ``(precision, recall, F)`` (Bagga & Baldwin 1998; Amigó et al. 2009): each face's share of its
    group that is its person, and of its person that is in its group, averaged over faces."""
    counts, class_sizes, cluster_sizes = _contingency(np.asarray(truth), np.asarray(labels))
    n = counts.sum()
    precision = float((counts * counts / cluster_sizes).sum() / n)
    recall = float((counts * counts / class_sizes).sum() / n)
    return precision, recall, _f(precision, recall)


def pairwise(truth: np.ndarray, labels: np.ndarray) -> tuple[float, float, float]:
    """Pairwise ``(precision, recall, F)``: of the pairs put in one group, the share of one person; of the
    pairs of one person, the share put in one group (1.0 where there is no pair to count)."""
    counts, _, _ = _contingency(np.asarray(truth), np.asarray(labels))
    together = float((counts * (counts - 1) / 2).sum())
    _, class_sizes = np.unique(truth, return_counts=True)
    _, cluster_sizes = np.unique(labels, return_counts=True)
    grouped = float((cluster_sizes * (cluster_sizes - 1) / 2).sum())
    same = float((class_sizes * (class_sizes - 1) / 2).sum())
    precision = together / grouped if grouped else 1.0
    recall = together / same if same else 1.0
    return precision, recall, _f(precision, recall)


def _f(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0
