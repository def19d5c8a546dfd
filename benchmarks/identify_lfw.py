"""Identification (1:K) on ordinary photos, closed- and open-set: LFW, per encoder.

**Closed set** (every query is someone enrolled): for each LFW person with at
least 5 photos the first 3 photos (sorted by path) are enrolled into a
temporary facerec database (423 people); every other photo of these people is
identified against the whole gallery with the same search as the ``facerec``
command (4,716 queries). ``top1_accuracy``: the closest enrolled person is the
right one. At the encoder's default operating point: ``rejected`` (closest
distance above the threshold, answered "unknown"), ``accepted_correct`` and
``accepted_wrong`` (a wrong person within the threshold).

**Open set** (a door: most who come are not enrolled): galleries of 12, 50 and
half of those 423 people, drawn with a fixed seed (``--draws`` galleries each,
pooled), 3 photos enrolled each. Probes: the other photos of the enrolled
people (they should be admitted as themselves) and every photo of everyone
not enrolled (strangers, people with fewer than 5 photos included; they should
be refused). For each operating point of the encoder's model card, its
threshold (a gallery point is derived for the gallery's number of encodings,
from View 1's impostor distances, never from these photos):

* ``open_rank1``: enrolled probes whose closest person is right *and* within the threshold;
* ``open_false_alarm``: strangers whose closest person is within the threshold.

``default_operating_point`` is the door's (the card's default, ``false-alarm-1e-2``,
which promises ``open_false_alarm <= 0.01``).

Faces: nn4 encodes ``datasets/lfw_aligned.h5``; dlib its own chips of the same
detections (``datasets/lfw_dlib.h5``, encoded once, about 40 min on 2 cores).

``dlib+facenet``: both caches, each part divided by its median View 1 impostor distance (the encoder's
own encoding, :mod:`facerec.encoders.fused`; FaceNet's ``datasets/lfw_facenet.h5``, about 25 ms a photo).

Usage: ``python benchmarks/identify_lfw.py [--encoder nn4|dlib|dlib+facenet] [--limit N] [--draws N] [--json]``
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
MIN_PHOTOS = 5  # people with fewer photos are never enrolled (their photos are strangers)
GALLERIES = {"12": 12, "50": 50, "half": None}  # None: half of the eligible people
SEED = 0


def split(paths: list[str], labels: np.ndarray, min_photos: int = MIN_PHOTOS, enrolled: int = ENROLLED,
          limit: int | None = None, people: list[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Rows to enroll and rows to identify.

    Args:
        paths: relative path of each row; labels: ``(N,)`` identity of each row.
        min_photos: keep people with at least this many photos.
        enrolled: the first ``enrolled`` photos of a person (by sorted path) go to the gallery.
        limit: keep only the first ``limit`` such people (by label), for quick checks.
        people: only these labels (default: every eligible person).

    Returns:
        ``(gallery_rows, query_rows)``, int arrays of row indices.
    """
    gallery, queries = [], []
    chosen = eligible_people(labels, min_photos)[:limit] if people is None else people
    for label in chosen:
        rows = sorted(np.flatnonzero(labels == label), key=lambda row: paths[row])
        gallery.extend(rows[:enrolled])
        queries.extend(rows[enrolled:])
    return np.array(gallery, dtype=np.int64), np.array(queries, dtype=np.int64)


def eligible_people(labels: np.ndarray, min_photos: int = MIN_PHOTOS) -> list[int]:
    """Labels of the people with at least ``min_photos`` photos, ascending."""
    counts = np.bincount(labels)
    return [int(label) for label in np.flatnonzero(counts >= min_photos)]


def restrict(lfw, limit: int | None, min_photos: int = MIN_PHOTOS):
    """``lfw`` itself, or (``limit``) its first ``limit`` eligible people and the photos of ``10 * limit`` others."""
    if limit is None:
        return lfw
    from facerec.datasets import AlignedSet

    everyone_eligible = eligible_people(lfw.labels, min_photos)
    others = np.setdiff1d(np.unique(lfw.labels), everyone_eligible)
    keep = np.flatnonzero(np.isin(lfw.labels, everyone_eligible[:limit] + others[:10 * limit].tolist()))
    return AlignedSet(lfw.images[keep], lfw.labels[keep], lfw.identities, [lfw.paths[i] for i in keep],
                      [lfw.groups[i] for i in keep], lfw.detected[keep])


def encodings_of(encoder_name: str, weights: str | None, progress: bool,
                 limit: int | None = None) -> tuple[object, np.ndarray, dict]:
    """``(lfw, encodings of its photos (N, 128), model card)`` for the named encoder (see :func:`restrict`)."""
    from facerec import datasets

    lfw = restrict(datasets.load("lfw"), limit)
    if encoder_name == "dlib+facenet":
        return lfw, *fused_encodings(lfw.paths, progress)
    if encoder_name == "dlib":
        from facerec.encoders.dlib_resnet import encode_collection, model_card, model_fingerprint

        return lfw, encode_collection("lfw", lfw.paths, progress), {**model_card(), "fingerprint": model_fingerprint()}
    from facerec.encoders.nn4 import get_encoder

    encoder = get_encoder(weights)
    return lfw, encode(lfw.images, encoder, progress=progress), {**encoder.card(), "fingerprint": encoder.fingerprint}


def fused_encodings(paths: list[str], progress: bool) -> tuple[np.ndarray, dict]:
    """``(encodings (N, 640), card)`` of ``dlib+facenet``: each part's cached encodings (``datasets/lfw_dlib.h5``,
    ``datasets/lfw_facenet.h5``) scaled as :meth:`facerec.encoders.fused.FusedEncoder.fuse` does."""
    from facerec.encoders import dlib_resnet, facenet, fused

    card = fused.model_card()
    scales = [np.float32(card["parts"][name]["median_impostor"]) for name in ("dlib", "facenet")]
    parts = [dlib_resnet.encode_collection("lfw", paths, progress), facenet.encode_collection("lfw", paths, progress)]
    return np.concatenate([part / scale for part, scale in zip(parts, scales)], axis=1), card


def encode(images: np.ndarray, encoder, batch: int = 256, progress: bool = True) -> np.ndarray:
    """``(N, 128)`` encodings of aligned faces, with a progress bar."""
    from tqdm import tqdm

    chunks = [encoder.encode(images[i:i + batch])
              for i in tqdm(range(0, len(images), batch), desc="encoding", unit="batch", disable=not progress)]
    return np.concatenate(chunks) if chunks else np.zeros((0, 128), np.float32)


def closed_set(lfw, encodings: np.ndarray, card: dict, args: argparse.Namespace) -> dict:
    """The closed-set protocol through a real facerec database and its search (see the module docstring)."""
    from facerec.database import FaceDatabase, FaceRecord
    from facerec.operating_points import resolve

    gallery, queries = split(lfw.paths, lfw.labels, args.min_photos, args.enrolled, args.limit)
    threshold = resolve(card, args.threshold, gallery_size=len(gallery))
    with tempfile.TemporaryDirectory() as folder, FaceDatabase(Path(folder) / "lfw.sqlite") as db:
        for label in np.unique(lfw.labels[gallery]):
            rows = gallery[lfw.labels[gallery] == label]
            records = [FaceRecord(encodings[row], lfw.paths[row], hashlib.sha256(lfw.paths[row].encode()).hexdigest(),
                                  (0, 0, 96, 96)) for row in rows]
            db.add_faces(lfw.identities[label], records, card["fingerprint"], card.get("encoder", "nn4"))
        distances, ids = db.searcher(args.backend).search(encodings[queries], 1)
        names = db.names_by_id()
    predicted = np.array([names[int(i)] for i in ids[:, 0]])
    truth = np.array([lfw.identities[label] for label in lfw.labels[queries]])
    right, accepted = predicted == truth, distances[:, 0] <= threshold.value
    return {"people": int(len(np.unique(lfw.labels[gallery]))), "enrolled_photos": int(len(gallery)),
            "queries": int(len(queries)), "threshold": threshold.value, "operating_point": threshold.operating_point,
            "backend": args.backend, "top1_accuracy": float(right.mean()), "rejected": float((~accepted).mean()),
            "accepted_correct": float((right & accepted).mean()), "accepted_wrong": float((~right & accepted).mean())}


def nearest(encodings: np.ndarray, labels: np.ndarray, gallery: np.ndarray,
            probes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(distance, label)`` of each probe's nearest enrolled person (:class:`facerec.search.ExactSearch`)."""
    from facerec.search import ExactSearch

    blocks = (128, 512) if encodings.shape[1] == 640 else None  # dlib+facenet: its blocks' distances summed
    distances, ids = ExactSearch(encodings[gallery], labels[gallery], blocks=blocks).search(encodings[probes], 1)
    return distances[:, 0], ids[:, 0]


def door_admits(encodings: np.ndarray, labels: np.ndarray, gallery: np.ndarray, probes: np.ndarray,
                distances: np.ndarray, who: np.ndarray, card: dict, threshold: float) -> np.ndarray:
    """``(Q,)``: the door's default decision for probes whose nearest person is ``who`` at ``distances``: the
    threshold and the card's cohort rule (:func:`facerec.cohort.gate`, :func:`facerec.api.decision_cohort`)."""
    from types import SimpleNamespace

    from facerec.api import decision_cohort
    from facerec.cohort import gate

    cohort = decision_cohort(SimpleNamespace(card=lambda: card))
    return gate(cohort, encodings[gallery], labels[gallery], encodings[probes], who, distances, threshold)[0]


def open_set(lfw, encodings: np.ndarray, card: dict, size: int, draws: int, seed: int,
             eligible: list[int]) -> dict:
    """Open-set figures of one gallery size, pooled over ``draws`` seeded galleries, for every operating point."""
    from facerec.operating_points import point_names, resolve

    rng = np.random.default_rng(seed)
    genuine_d, genuine_right, stranger_d, door_right, door_strangers = [], [], [], [], []
    default = resolve(card, gallery_size=size * ENROLLED).value
    for _ in range(draws):
        people = sorted(rng.choice(eligible, size=size, replace=False).tolist())
        gallery, enrolled_probes = split(lfw.paths, lfw.labels, people=people)
        strangers = np.flatnonzero(~np.isin(lfw.labels, people))
        d, who = nearest(encodings, lfw.labels, gallery, enrolled_probes)
        genuine_d.append(d)
        genuine_right.append(who == lfw.labels[enrolled_probes])
        door_right.append(genuine_right[-1] & door_admits(encodings, lfw.labels, gallery, enrolled_probes, d, who,
                                                          card, default))
        d, who = nearest(encodings, lfw.labels, gallery, strangers)
        stranger_d.append(d)
        door_strangers.append(door_admits(encodings, lfw.labels, gallery, strangers, d, who, card, default))
    genuine_d, genuine_right = np.concatenate(genuine_d), np.concatenate(genuine_right)
    stranger_d = np.concatenate(stranger_d)
    points = {}
    for name in point_names(card):
        threshold = resolve(card, operating_point=name, gallery_size=size * ENROLLED).value
        points[name] = {"threshold": round(threshold, 5),
                        "open_rank1": float(np.mean(genuine_right & (genuine_d <= threshold))),
                        "open_false_alarm": float(np.mean(stranger_d <= threshold))}
    return {"people": size, "enrolled_encodings": size * ENROLLED, "draws": draws,
            "enrolled_probes": int(len(genuine_d)), "stranger_probes": int(len(stranger_d)),
            "closed_rank1": float(np.mean(genuine_right)), "operating_points": points,
            "door_default": {"rule": "threshold and cohort" if "cohort" in card else "threshold",
                             "threshold": round(default, 5), "open_rank1": float(np.mean(np.concatenate(door_right))),
                             "open_false_alarm": float(np.mean(np.concatenate(door_strangers)))},
            "default_operating_point": card.get("default_operating_point", "balanced")}


def run(args: argparse.Namespace) -> dict:
    """Both protocols for one encoder (see the module docstring)."""
    lfw, encodings, card = encodings_of(args.encoder, args.weights, not args.json, args.limit)
    dlib_based = args.encoder in ("dlib", "dlib+facenet")
    result = {"encoder": args.encoder, "model": args.encoder if dlib_based else "facerec",
              "weights": args.encoder if dlib_based else str(args.weights or "weights"),
              **closed_set(lfw, encodings, card, args)}
    eligible = eligible_people(lfw.labels, args.min_photos)[:args.limit]
    result["open_set"] = {}
    for key, size in GALLERIES.items():
        size = size or len(eligible) // 2
        if size <= len(eligible):
            result["open_set"][key] = open_set(lfw, encodings, card, size, args.draws, args.seed, eligible)
    return result


def markdown(result: dict) -> str:
    """The open-set results as a Markdown table (one row per gallery and operating point), for MODEL_CARD.md."""
    lines = ["| gallery (people x 3 photos) | operating point | threshold | residents admitted as themselves "
             "(`open_rank1`) | strangers let in (`open_false_alarm`) |", "|---|---|---|---|---|"]
    for key, block in result["open_set"].items():
        for name, point in block["operating_points"].items():
            door = " (door default)" if name == block["default_operating_point"] else ""
            cells = [f"{key} ({block['people']})", f"`{name}`{door}", f"{point['threshold']:.3f}",
                     f"{100 * point['open_rank1']:.1f} %", f"{100 * point['open_false_alarm']:.2f} %"]
            lines.append("| " + " | ".join(f"**{c}**" if door else c for c in cells) + " |")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encoder", default=None, choices=["nn4", "dlib", "dlib+facenet"],
                        help="the encoder (default nn4)")
    parser.add_argument("--model", default=None, choices=["facerec", "dlib"],
                        help="deprecated spelling of --encoder (facerec = nn4)")
    parser.add_argument("--limit", type=int, default=None,
                        help="quick check: the first N eligible people, and the photos of 10 N others as strangers")
    parser.add_argument("--min-photos", type=int, default=MIN_PHOTOS, help="people with at least this many photos")
    parser.add_argument("--enrolled", type=int, default=ENROLLED, help="photos enrolled per person (closed set)")
    parser.add_argument("--draws", type=int, default=5, help="open-set galleries drawn per size (default 5)")
    parser.add_argument("--seed", type=int, default=SEED, help="seed of the open-set galleries (default 0)")
    parser.add_argument("--weights", default=None, help="nn4's weights folder (default: $FACEREC_WEIGHTS or weights/)")
    parser.add_argument("--threshold", type=float, default=None,
                        help="closed set: a raw threshold instead of the default operating point")
    parser.add_argument("--backend", default="exact", choices=["exact", "faiss-flat", "faiss-hnsw"])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--markdown", default=None, metavar="RESULT_JSON",
                        help="print the open-set table of a saved --json result as Markdown, and stop")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.markdown:
        print(markdown(json.loads(Path(args.markdown).read_text())))
        return 0
    if args.model:
        print("identify_lfw: --model is deprecated, use --encoder nn4|dlib", file=sys.stderr)
    args.encoder = args.encoder or {"facerec": "nn4"}.get(args.model, args.model) or "nn4"
    if args.enrolled < 1 or args.min_photos <= args.enrolled or args.draws < 1:
        print("identify_lfw: need 1 <= --enrolled < --min-photos and --draws >= 1", file=sys.stderr)
        return 2
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    result = run(args)
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"{args.encoder}: {result['people']} people, {result['enrolled_photos']} enrolled photos, "
          f"{result['queries']} queries ({args.backend} search)")
    print(f"closed set: top-1 {result['top1_accuracy']:.4f}; at {result['operating_point']} "
          f"(threshold {result['threshold']:.3f}): rejected {result['rejected']:.4f}, accepted and right "
          f"{result['accepted_correct']:.4f}, accepted but wrong {result['accepted_wrong']:.4f}")
    for key, block in result["open_set"].items():
        print(f"open set, gallery {key} ({block['people']} people x {block['draws']} draws; "
              f"{block['enrolled_probes']} enrolled probes, {block['stranger_probes']} strangers):")
        for name, point in block["operating_points"].items():
            mark = "  <- door default before issue 23" if name == block["default_operating_point"] else ""
            print(f"  {name:>17}  threshold {point['threshold']:.3f}  rank-1 {point['open_rank1']:.4f}  "
                  f"strangers let in {point['open_false_alarm']:.4f}{mark}")
        door = block["door_default"]
        print(f"  door default ({door['rule']}): rank-1 {door['open_rank1']:.4f}  "
              f"strangers let in {door['open_false_alarm']:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
