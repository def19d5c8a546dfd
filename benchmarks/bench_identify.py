"""Identification (1:K) speed: the course's loop over a dict against facerec's searches.

The gallery holds ``N`` random unit vectors (one per person, as the course's
database holds one encoding per name); each query is a gallery row plus noise,
renormalised, so it has a true nearest neighbour as a real face would. Four
contenders answer "who is closest" for one query at a time (``k = 1``):

* ``course_loop``: the search part of the course's ``who_is_it``
  (``course/solutions.py``): a Python loop over ``{name: (1, 128) encoding}``
  with ``np.linalg.norm`` per entry;
* ``exact``: :class:`facerec.search.ExactSearch` (one float32 matrix product);
* ``faiss_flat`` / ``faiss_hnsw``: :class:`facerec.search.FaissSearch` with the
  library's defaults (``IndexFlatL2``; ``IndexHNSWFlat`` M=32, efSearch=128).

Memory is what each structure holds once built (computed, not sampled): the
dict's keys, array objects and their data; the search's float32 matrix, squared
norms and person ids; a FAISS index's serialized size.
"""

from __future__ import annotations

import sys
import time

import numpy as np
from bench_common import interleaved

MB = 1e6


def unit_vectors(count: int, rng: np.random.Generator, chunk: int = 100_000) -> np.ndarray:
    """``(count, 128)`` float32 random unit vectors (generated in chunks to bound memory)."""
    out = np.empty((count, 128), np.float32)
    for start in range(0, count, chunk):
        block = rng.standard_normal((min(chunk, count - start), 128), dtype=np.float32)
        out[start:start + len(block)] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def near_queries(gallery: np.ndarray, count: int, rng: np.random.Generator, noise: float = 0.3) -> np.ndarray:
    """``count`` queries: random gallery rows moved by Gaussian noise of norm about ``noise``, renormalised."""
    rows = gallery[rng.integers(0, len(gallery), count)]
    moved = rows + rng.standard_normal(rows.shape, dtype=np.float32) * np.float32(noise / np.sqrt(128))
    return moved / np.linalg.norm(moved, axis=1, keepdims=True)


def course_loop(encoding: np.ndarray, database: dict[str, np.ndarray]) -> tuple[float, str | None]:
    """The search part of the course's ``who_is_it``: the closest name and its L2 distance."""
    min_dist, identity = float("inf"), None
    for name, db_enc in database.items():
        dist = float(np.linalg.norm(encoding - db_enc))
        if dist < min_dist:
            min_dist, identity = dist, name
    return min_dist, identity


def dict_bytes(database: dict[str, np.ndarray]) -> int:
    """Bytes a name -> array dict holds: the dict, its keys, the array objects and their data."""
    return sys.getsizeof(database) + sum(sys.getsizeof(k) + sys.getsizeof(v) for k, v in database.items())


def search_bytes(search) -> int:
    """Bytes a :class:`facerec.search.PersonSearch` holds (matrix, norms, ids, FAISS index)."""
    total = search.encodings.nbytes + search.person_ids.nbytes
    if hasattr(search, "squared_norms"):
        total += search.squared_norms.nbytes
    if hasattr(search, "index"):
        import faiss

        total += faiss.serialize_index(search.index).nbytes
    return total


def _build(gallery: np.ndarray, with_loop: bool, with_hnsw: bool) -> tuple[dict, dict, dict]:
    """Build each contender; returns ``(query functions, build seconds, held bytes)``."""
    from facerec.search import ExactSearch, FaissSearch

    ids = np.arange(len(gallery), dtype=np.int64)
    makers = {"exact": lambda: ExactSearch(gallery, ids),
              "faiss_flat": lambda: FaissSearch(gallery, ids, index="flat")}
    if with_hnsw:
        makers["faiss_hnsw"] = lambda: FaissSearch(gallery, ids, index="hnsw")
    if with_loop:
        makers["course_loop"] = lambda: {f"person_{i:07d}": gallery[i:i + 1].copy() for i in range(len(gallery))}
    built, build_s, held = {}, {}, {}
    for name, make in makers.items():
        start = time.perf_counter()
        built[name] = make()
        build_s[name] = time.perf_counter() - start
        held[name] = dict_bytes(built[name]) if name == "course_loop" else search_bytes(built[name])
    queries = {name: (lambda q, d=db: course_loop(q, d)) if name == "course_loop" else (lambda q, s=db: s.search(q, 1))
               for name, db in built.items()}
    return queries, build_s, held


def identify_size(size: int, queries: int, rounds: int, with_loop: bool, with_hnsw: bool, seed: int = 0) -> dict:
    """Milliseconds per query, build seconds, MB held and HNSW's recall for one gallery size."""
    rng = np.random.default_rng(seed)
    gallery = unit_vectors(size, rng)
    probes = near_queries(gallery, queries, rng)
    functions, build_s, held = _build(gallery, with_loop, with_hnsw)
    medians = interleaved({name: (lambda i, f=f: f(probes[i])) for name, f in functions.items()}, rounds,
                          items=queries)
    result = {"size": size, "queries": queries,
              **{f"{name}_ms": 1000 * value for name, value in medians.items()},
              **{f"{name}_build_s": value for name, value in build_s.items()},
              **{f"{name}_mb": value / MB for name, value in held.items()}}
    if with_hnsw:
        exact = functions["exact"]
        agree = [functions["faiss_hnsw"](q)[1][0, 0] == exact(q)[1][0, 0] for q in probes]
        result["faiss_hnsw_recall_at_1"] = float(np.mean(agree))
    return result


def extrapolate_loop(rows: list[dict], target: int) -> dict:
    """The course loop at ``target`` entries, from its measured cost per entry (if that is linear).

    Returns:
        ``ms``, ``mb`` at ``target``, ``per_entry_us`` at each measured size, ``from_size``
        and ``linear`` (per-entry time at the largest two measured sizes within a factor 1.5).
    """
    measured = [row for row in rows if "course_loop_ms" in row]
    per_entry = {row["size"]: 1000 * row["course_loop_ms"] / row["size"] for row in measured}
    largest = measured[-1]
    ratio = (per_entry[measured[-1]["size"]] / per_entry[measured[-2]["size"]]) if len(measured) > 1 else float("nan")
    return {"size": target, "from_size": largest["size"], "per_entry_us": per_entry,
            "ms": largest["course_loop_ms"] * target / largest["size"],
            "mb": largest["course_loop_mb"] * target / largest["size"], "linear": bool(1 / 1.5 <= ratio <= 1.5)}
