"""Identification (1:K) accuracy on ordinary photos: LFW people with at least 5 photos.

For each such person the first 3 photos (sorted by path) are enrolled into a
temporary facerec database; every other photo of these people is identified
against the whole gallery with the same search and threshold as the
``facerec`` command. Reported, over all queries:

* ``top1_accuracy``: the closest enrolled person is the right one;
* ``rejected``: the closest distance is above the threshold (answered "unknown");
* ``accepted_correct``: right person and within the threshold;
* ``accepted_wrong``: wrong person within the threshold (a false accept).

Faces come from ``datasets/lfw_aligned.h5`` (:func:`facerec.datasets.load`).
The issue's bar: ``top1_accuracy >= 0.85`` with the trained weights.

``--model dlib`` runs the same protocol with dlib's ResNet encoder (the
``face_recognition`` package's; same detections, descriptors cached in
``datasets/lfw_dlib.h5``) and its usual threshold of 0.6, as a reference.

Usage: ``python benchmarks/identify_lfw.py [--model facerec|dlib] [--limit N] [--weights DIR] [--json]``
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

ENROLLED = 3  # photos enrolled per person
MIN_PHOTOS = 5  # people with fewer photos are left out
DLIB_THRESHOLD = 0.6  # dlib's / face_recognition's documented distance threshold


def split(paths: list[str], labels: np.ndarray, min_photos: int = MIN_PHOTOS, enrolled: int = ENROLLED,
          limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Rows to enroll and rows to identify.

    Args:
        paths: relative path of each row; labels: ``(N,)`` identity of each row.
        min_photos: keep people with at least this many photos.
        enrolled: the first ``enrolled`` photos of a person (by sorted path) go to the gallery.
        limit: keep only the first ``limit`` such people (by label), for quick checks.

    Returns:
        ``(gallery_rows, query_rows)``, int arrays of row indices.
    """
    gallery, queries = [], []
    people = [label for label in np.unique(labels) if np.sum(labels == label) >= min_photos]
    for label in people[:limit]:
        rows = sorted(np.flatnonzero(labels == label), key=lambda row: paths[row])
        gallery.extend(rows[:enrolled])
        queries.extend(rows[enrolled:])
    return np.array(gallery, dtype=np.int64), np.array(queries, dtype=np.int64)


def encode(images: np.ndarray, encoder, batch: int = 256, progress: bool = True) -> np.ndarray:
    """``(N, 128)`` encodings of aligned faces, with a progress bar."""
    from tqdm import tqdm

    chunks = [encoder.encode(images[i:i + batch])
              for i in tqdm(range(0, len(images), batch), desc="encoding", unit="batch", disable=not progress)]
    return np.concatenate(chunks) if chunks else np.zeros((0, 128), np.float32)


def run(args: argparse.Namespace) -> dict:
    """Enroll, identify and return the summary (see the module docstring)."""
    from facerec import datasets
    from facerec.database import FaceDatabase, FaceRecord
    from facerec.encoder import default_threshold, get_encoder

    lfw = datasets.load("lfw")
    gallery, queries = split(lfw.paths, lfw.labels, args.min_photos, args.enrolled, args.limit)
    progress = not args.json
    if args.model == "dlib":
        from facerec.dlib_encoder import encode_collection

        fingerprint, weights, default = "dlib_face_recognition_resnet_model_v1", "dlib", DLIB_THRESHOLD
        gallery_enc, query_enc = (encode_collection("lfw", [lfw.paths[i] for i in rows], progress)
                                  for rows in (gallery, queries))
    else:
        encoder = get_encoder(args.weights)
        fingerprint, weights = encoder.fingerprint, str(encoder.weights_dir)
        default = default_threshold(encoder.weights_dir)
        gallery_enc = encode(lfw.images[gallery], encoder, progress=progress)
        query_enc = encode(lfw.images[queries], encoder, progress=progress)
    threshold = args.threshold if args.threshold is not None else default
    with tempfile.TemporaryDirectory() as folder, FaceDatabase(Path(folder) / "lfw.sqlite") as db:
        for label in np.unique(lfw.labels[gallery]):
            mine = np.flatnonzero(lfw.labels[gallery] == label)
            records = [FaceRecord(gallery_enc[i], lfw.paths[gallery[i]],
                                  hashlib.sha256(lfw.images[gallery[i]].tobytes()).hexdigest(), (0, 0, 96, 96))
                       for i in mine]
            db.add_faces(lfw.identities[label], records, fingerprint)
        distances, ids = db.searcher(args.backend).search(query_enc, 1)
        names = db.names_by_id()
    predicted = np.array([names[int(i)] for i in ids[:, 0]])
    truth = np.array([lfw.identities[label] for label in lfw.labels[queries]])
    right, accepted = predicted == truth, distances[:, 0] <= threshold
    return {"people": int(len(np.unique(lfw.labels[gallery]))), "enrolled_photos": int(len(gallery)),
            "queries": int(len(queries)), "threshold": threshold, "backend": args.backend, "model": args.model,
            "weights": weights, "top1_accuracy": float(right.mean()),
            "rejected": float((~accepted).mean()), "accepted_correct": float((right & accepted).mean()),
            "accepted_wrong": float((~right & accepted).mean())}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="facerec", choices=["facerec", "dlib"],
                        help="the encoder: facerec's nn4.small2 (default) or dlib's ResNet (reference)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N people (quick check)")
    parser.add_argument("--min-photos", type=int, default=MIN_PHOTOS, help="people with at least this many photos")
    parser.add_argument("--enrolled", type=int, default=ENROLLED, help="photos enrolled per person")
    parser.add_argument("--weights", default=None, help="weights folder (default: $FACEREC_WEIGHTS or weights/)")
    parser.add_argument("--threshold", type=float, default=None, help="default: the weights' model.json")
    parser.add_argument("--backend", default="exact", choices=["exact", "faiss-flat", "faiss-hnsw"])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.enrolled < 1 or args.min_photos <= args.enrolled:
        print("identify_lfw: need 1 <= --enrolled < --min-photos", file=sys.stderr)
        return 2
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    result = run(args)
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{result['people']} people, {result['enrolled_photos']} enrolled photos, {result['queries']} queries "
              f"({args.backend} search, threshold {result['threshold']:.3f})")
        print(f"top-1 accuracy {result['top1_accuracy']:.4f}; rejected as unknown {result['rejected']:.4f}; "
              f"accepted and right {result['accepted_correct']:.4f}; accepted but wrong {result['accepted_wrong']:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
