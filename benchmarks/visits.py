"""Per visit versus per frame: residents admitted and strangers let in at the door's default operating point.

A *simulated visit* is ``--views`` consecutive augmented views of one LFW photo
(small shifts and scales, Gaussian blur, brightness changes, drawn with a fixed
seed), each detected and encoded with dlib as a door frame would be. The gallery
and the probes follow ``benchmarks/identify_lfw.py`` (its :func:`split`: the first
3 photos of each person with at least 5 photos are enrolled; the others are
resident probes; people with fewer than 5 photos are strangers), on a subset
that runs in minutes: the first ``--people`` eligible people, ``--probes`` photos
of each, and the photos of the first ``--strangers`` other people (one photo each).
(LFW's dlib cache, ``datasets/lfw_dlib.h5``, takes 30-40 min to build and holds
no augmented views, so the photos are encoded here.)

Three doors, one threshold (the dlib card's default point for the gallery's size):

* ``per_frame``: every frame decided alone (a resident admitted: the frame names them);
* ``per_visit_any_frame``: a visit opens the door when any of its frames does (today's door, per visit);
* ``per_visit_median``: :func:`facerec.visits.decide` (quality gates, the best frames, median distance).

Usage: ``python benchmarks/visits.py [--people N] [--probes N] [--strangers N] [--views N] [--json]``
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from identify_lfw import ENROLLED, MIN_PHOTOS, eligible_people, split  # noqa: E402

SEED = 0


def augment(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One door frame made from a photo: shift up to 6 % of the side, scale 0.9-1.1, blur sigma 0-1.5,
    brightness x0.7-1.3."""
    height, width = rgb.shape[:2]
    scale = rng.uniform(0.9, 1.1)
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), 0.0, scale)
    matrix[:, 2] += rng.uniform(-0.06, 0.06, 2) * (width, height)
    out = cv2.warpAffine(rgb, matrix, (width, height), borderMode=cv2.BORDER_REFLECT)
    sigma = rng.uniform(0.0, 1.5)
    if sigma > 0.3:
        out = cv2.GaussianBlur(out, (0, 0), sigma)
    return np.clip(out.astype(np.float32) * rng.uniform(0.7, 1.3), 0, 255).astype(np.uint8)


def simulated_visit(path: Path, views: int, rng: np.random.Generator, visit_id: int):
    """A :class:`facerec.visits.Visit` of ``views`` augmented frames of one photo, 0.2 s apart."""
    from facerec.datasets import choose_face
    from facerec.encoders.dlib_resnet import encode_face
    from facerec.image import load_image
    from facerec.visits import Sighting, Visit, sharpness

    photo = load_image(path)
    visit = Visit(visit_id)
    for view in range(views):
        rgb = augment(photo, rng)
        face, _ = choose_face(rgb, "lfw")
        visit.add(Sighting(view * 0.2, tuple(int(v) for v in face.box), encode_face(rgb, face),
                                        sharpness(rgb, face.box), f"{path.name}#{view}"))
    return visit


def protocol(people: int, probes: int, strangers: int) -> tuple[list[str], list[str], list[int], list[int], list[int]]:
    """``(paths, identities, gallery rows, resident probe rows, stranger rows)`` of the subset (module docstring)."""
    from facerec.datasets import list_photos

    rows = list_photos("lfw")
    paths = [path for path, _, _ in rows]
    identities = sorted({who for _, who, _ in rows})
    labels = np.array([identities.index(who) for _, who, _ in rows])
    chosen = eligible_people(labels, MIN_PHOTOS)[:people]
    gallery, queries = split(paths, labels, people=chosen)
    resident_probes = [int(r) for label in chosen for r in queries[labels[queries] == label][:probes]]
    others = np.setdiff1d(np.unique(labels), eligible_people(labels, MIN_PHOTOS))[:strangers]
    stranger_rows = [int(np.flatnonzero(labels == label)[0]) for label in others]
    return paths, [identities[label] for label in labels], gallery.tolist(), resident_probes, stranger_rows


def decide_all(visits: list, truth: list[str | None], distances_to, threshold: float) -> dict:
    """Rates of the three doors (module docstring) over visits whose true identity is ``truth`` (None: stranger)."""
    from facerec.visits import decide

    frame_ok, any_ok, median_ok = [], [], []
    for visit, who in zip(visits, truth):
        table = distances_to(np.stack([s.encoding for s in visit.sightings]))
        names = list(table)
        matrix = np.stack([table[name] for name in names])
        closest = [names[i] if matrix[i, f] <= threshold else None for f, i in enumerate(matrix.argmin(axis=0))]
        verdict = [(name == who) if who else (name is not None) for name in closest]
        frame_ok.extend(verdict)
        any_ok.append(any(verdict))
        decision = decide(visit, distances_to, threshold)
        median_ok.append(decision.identity == who if who else decision.identity is not None)
    return {"visits": len(visits), "frames": len(frame_ok), "per_frame": float(np.mean(frame_ok)),
            "per_visit_any_frame": float(np.mean(any_ok)), "per_visit_median": float(np.mean(median_ok))}


def run(args: argparse.Namespace) -> dict:
    """Encode the gallery, simulate the visits and measure the three doors."""
    from facerec.datasets import collection_root
    from facerec.encoders.dlib_resnet import encode_photo, model_card
    from facerec.operating_points import resolve
    from facerec.search import ExactSearch
    from facerec.visits import BEST_FRAMES, MIN_FACE, MIN_SHARPNESS, distances_from

    started, root = time.perf_counter(), collection_root("lfw")
    paths, identities, gallery, residents, strangers = protocol(args.people, args.probes, args.strangers)
    names = sorted({identities[row] for row in gallery})
    encodings = np.stack([encode_photo(root / paths[row], "lfw") for row in gallery])
    ids = np.array([names.index(identities[row]) for row in gallery])
    card = model_card()
    threshold = resolve(card, gallery_size=len(gallery))
    distances_to = distances_from(ExactSearch(encodings, ids), dict(enumerate(names)))
    rng = np.random.default_rng(args.seed)
    rows = residents + strangers
    visits = [simulated_visit(root / paths[row], args.views, rng, i) for i, row in enumerate(rows)]
    result = {"encoder": "dlib", "operating_point": threshold.operating_point, "threshold": round(threshold.value, 5),
              "people": len(names), "enrolled_photos": len(gallery), "views_per_visit": args.views,
              "seed": args.seed, "best_frames": BEST_FRAMES, "min_face": MIN_FACE, "min_sharpness": MIN_SHARPNESS,
              "residents_admitted": decide_all(visits[:len(residents)], [identities[r] for r in residents],
                                               distances_to, threshold.value),
              "strangers_let_in": decide_all(visits[len(residents):], [None] * len(strangers), distances_to,
                                             threshold.value)}
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=20, help="eligible LFW people enrolled (default 20)")
    parser.add_argument("--probes", type=int, default=2, help="resident probe photos per person (default 2)")
    parser.add_argument("--strangers", type=int, default=40, help="strangers, one photo each (default 40)")
    parser.add_argument("--views", type=int, default=8, help="frames per simulated visit (default 8)")
    parser.add_argument("--seed", type=int, default=SEED, help="seed of the augmentations (default 0)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if min(args.people, args.probes, args.strangers, args.views) < 1:
        print("visits: --people, --probes, --strangers and --views must be at least 1", file=sys.stderr)
        return 2
    result = run(args)
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"dlib, {result['people']} people x {ENROLLED} photos enrolled, {args.views} views per visit, "
          f"{result['operating_point']} (threshold {result['threshold']:.3f}):")
    for key, block in (("residents admitted", result["residents_admitted"]),
                       ("strangers let in", result["strangers_let_in"])):
        print(f"  {key:>18} ({block['visits']} visits, {block['frames']} frames): per frame "
              f"{block['per_frame']:.3f}, per visit (any frame) {block['per_visit_any_frame']:.3f}, "
              f"per visit (median of best {result['best_frames']}) {block['per_visit_median']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
