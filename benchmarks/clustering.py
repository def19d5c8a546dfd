"""Which clustering groups a photo library's faces best? Scores on LFW and BFW (cached dlib encodings).

Usage::

    nice python benchmarks/clustering.py [--collections lfw bfw] [--tune bfw]
    nice python benchmarks/clustering.py --find [--collections lfw bfw]   # the match threshold of find / "maybe X"

Encodings: ``datasets/<collection>_dlib.h5`` (:mod:`facerec.encoders.cache`; one face a photo, found by
dlib's HOG detector as :func:`facerec.datasets.choose_face` does). The truth is each photo's folder (the
person). Thresholds are tuned on BFW (a training set), never on LFW. Prints one markdown table row per
(collection, method): BCubed and pairwise precision / recall / F, groups found vs people, seconds.

``--find``: the match threshold of ``facerec find`` / ``who`` / "maybe X" (``facerec.library.people.MATCH_THRESHOLD``).
Every person with at least two photos is enrolled from their first photo (sorted by path); ``find`` then returns the
other faces within the threshold of it. Micro precision (faces found that are that person) and recall (that
person's other photos found), over all people, per threshold.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from facerec.encoders.cache import read_encodings
from facerec.library.grouping import bcubed, cluster, pairwise

DATASETS = Path(__file__).resolve().parent.parent / "datasets"
CONTENDERS = [  # (label, method, threshold, min_faces)
    ("Chinese whispers 0.5 (face_recognition)", "chinese-whispers", 0.5, 3),
    ("DBSCAN eps 0.5, min 3 (Immich)", "dbscan", 0.5, 3),
    ("HDBSCAN min cluster 2", "hdbscan", 0.5, 3),
]
TUNED = [("chinese-whispers", t) for t in (0.4, 0.45, 0.55)] + [("agglomerative", t) for t in (0.45, 0.5, 0.55, 0.6)]


def load(collection: str) -> tuple[np.ndarray, np.ndarray]:
    """``(encodings (N, 128), person labels (N,))`` of a collection's cached dlib encodings."""
    known = read_encodings(DATASETS / f"{collection}_dlib.h5")
    paths = sorted(known)
    return np.stack([known[p] for p in paths]), np.array([p.rsplit("/", 1)[0] for p in paths])


def score(encodings, truth, method, threshold, min_faces) -> dict:
    start = time.perf_counter()
    labels = cluster(encodings, method, threshold, min_faces)
    seconds = time.perf_counter() - start
    sizes = np.unique(labels, return_counts=True)[1]
    return {"bcubed": bcubed(truth, labels), "pairwise": pairwise(truth, labels),
            "groups": len(sizes), "groups2": int((sizes >= 2).sum()), "seconds": seconds}


def row(collection: str, label: str, result: dict, people: int) -> str:
    b, p = result["bcubed"], result["pairwise"]
    return (f"| {collection} | {label} | {b[0]:.3f} | {b[1]:.3f} | **{b[2]:.3f}** | {p[0]:.3f} | {p[1]:.3f} | "
            f"{p[2]:.3f} | {result['groups']:,} ({result['groups2']:,} of 2+) / {people:,} | {result['seconds']:.1f} |")


FIND_THRESHOLDS = (0.4, 0.45, 0.5, 0.55, 0.6)


def find_scores(encodings: np.ndarray, truth: np.ndarray) -> dict[float, tuple[float, float]]:
    """``{threshold: (precision, recall)}`` of ``find`` with each person enrolled from their first photo."""
    people, first, counts = np.unique(truth, return_index=True, return_counts=True)
    enrolled = first[counts >= 2]
    found = {t: [0, 0] for t in FIND_THRESHOLDS}  # (faces found, of them right)
    wanted = int((counts[counts >= 2] - 1).sum())
    for start in range(0, len(enrolled), 256):
        rows = enrolled[start:start + 256]
        d = np.linalg.norm(encodings[rows, None, :] - encodings[None, :, :], axis=2)
        d[np.arange(len(rows)), rows] = np.inf  # the enrolled photo itself is not a find
        same = truth[rows][:, None] == truth[None, :]
        for t in FIND_THRESHOLDS:
            hit = d <= t
            found[t][0] += int(hit.sum())
            found[t][1] += int((hit & same).sum())
    return {t: (right / max(1, n), right / max(1, wanted)) for t, (n, right) in found.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--collections", nargs="+", default=["lfw", "bfw"])
    parser.add_argument("--tune", default="bfw", help="collection whose best BCubed F picks each tuned threshold")
    parser.add_argument("--find", action="store_true", help="measure find's match threshold instead")
    args = parser.parse_args()
    if args.find:
        print("| set | threshold | find precision | find recall |\n|---|---|---|---|")
        for collection in args.collections:
            for t, (precision, recall) in find_scores(*load(collection)).items():
                print(f"| {collection} | {t} | {precision:.3f} | {recall:.3f} |", flush=True)
        return
    data = {c: load(c) for c in dict.fromkeys([args.tune, *args.collections])}
    enc, truth = data[args.tune]
    best: dict[str, tuple[float, float]] = {}
    for method, threshold in TUNED:
        f = score(enc, truth, method, threshold, 3)["bcubed"][2]
        print(f"tuning on {args.tune}: {method} {threshold}: BCubed F {f:.3f}", flush=True)
        if f > best.get(method, (-1, 0))[0]:
            best[method] = (f, threshold)
    contenders = CONTENDERS + [(f"{m} {t} (tuned on {args.tune})", m, t, 3) for m, (_, t) in best.items()]
    print("| set | method | BCubed P | BCubed R | BCubed F | pair P | pair R | pair F | groups / people | s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for collection in args.collections:
        enc, truth = data[collection]
        for label, method, threshold, min_faces in contenders:
            print(row(collection, label, score(enc, truth, method, threshold, min_faces), len(np.unique(truth))),
                  flush=True)


if __name__ == "__main__":
    main()
