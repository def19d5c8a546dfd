"""Build the cohort that the door's decision normalises against (issue 23; see :mod:`facerec.cohort`).

The cohort is drawn from BFW's **600 development people only** (never the 200 held out by
:mod:`facerec.training.bfw_split`, never an LFW photo): half of each group's 75 development people
(seeded), 2 random photos each, so 37 people x 8 groups = 296 people, 592 encodings, balanced by
construction. The other half of the development people are the tuning split of
``benchmarks/door_groups.py --rules``, which chose the rule (``template-symmetric``) and its ``k`` and
``alpha`` (the largest value letting in at most 1.5 % of every group's same-group strangers there).

``python -m facerec.training.cohort [--encoder dlib|dlib+facenet] [--k K] [--alpha A]`` writes
``facerec/encoders/<encoder>_cohort.npz`` (``encodings``: float16 ``(592, D)``; ``photos`` and
``people``: the BFW photos and people they come from, the provenance the tests check; no pickle) and
the card's ``cohort`` field (file, sha256, k, alpha, licence). BFW is research-use only and its photos
come from VGGFace2 (non-commercial research): the cohort carries those terms (MODEL_CARD.md, NOTICE).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
from pathlib import Path

import numpy as np

SEED = 23  # the door_groups benchmark's seed (its development split is this one)
PER_PERSON = 2  # cohort photos per person
# Chosen on the development split by ``python benchmarks/door_groups.py --rules --json``
# (docs/results/door_groups_dlib.json: template-symmetric, "chosen": true).
# dlib+facenet: the door's own rule with alpha tuned with the threshold in force, k=20 the development
# split's best (docs/results/door_groups_dlib+facenet.json, row threshold+template-symmetric k=20).
CHOSEN = {"dlib": {"k": 20, "alpha": 0.76237}, "dlib+facenet": {"k": 20, "alpha": 0.7819}}
LICENCE = ("derived from BFW (Robinson et al., 2020; research use only), whose photos come from VGGFace2 "
           "(Cao et al., 2018; non-commercial research use): the cohort carries those terms")
FACENET_LICENCE = ("; its FaceNet part was trained on CASIA-WebFace (CBSR, CASIA; release agreement for "
                   "non-commercial research), whose terms may bind uses of the model (facenet.json)")


def card_path(encoder: str) -> Path:
    """The model card of ``encoder`` (``dlib``: ``dlib_resnet.json``; ``dlib+facenet``: ``dlib+facenet.json``)."""
    from facerec.encoders import dlib_resnet, fused

    return dlib_resnet.CARD_PATH if encoder == "dlib" else fused.CARD_PATH


def cohort_encodings(encoder: str, photos: list[str], progress: bool) -> np.ndarray:
    """The encoder's encodings of BFW ``photos`` (cached per part in ``datasets/bfw_<part>.h5``).

    ``dlib+facenet``: each part divided by the median impostor distance of the fused card's ``parts``, as
    :class:`facerec.encoders.fused.FusedEncoder` does (without loading the networks when the caches hold them).
    """
    from facerec.encoders import dlib_resnet, facenet

    dlib = dlib_resnet.encode_collection("bfw", photos, progress)
    if encoder == "dlib":
        return dlib
    parts = json.loads(card_path(encoder).read_text())["parts"]
    scales = [np.float32(parts[name]["median_impostor"]) for name in ("dlib", "facenet")]
    return np.concatenate([dlib / scales[0], facenet.encode_collection("bfw", photos, progress) / scales[1]], axis=1)


def development_split(people: np.ndarray, groups: np.ndarray, held: np.ndarray, seed: int = SEED,
                      per_person: int = PER_PERSON) -> tuple[np.ndarray, np.ndarray]:
    """``(cohort_rows, tuning_pool)`` from BFW's development people (never a held-out one).

    Args:
        people, groups: ``(N,)`` each photo's person and group; held: ``(N,)`` True for a held-out person.
        seed: fixes the split; per_person: cohort photos per cohort person.

    Returns:
        The cohort's row indices (sorted within each person) and a boolean ``(N,)`` mask of the tuning
        people's rows: half of each group's development people (seeded) are the cohort, the rest tune.
    """
    cohort_rows, pool = [], np.zeros(len(people), bool)
    for number, group in enumerate(sorted(set(groups.tolist()))):
        mine = ~held & (groups == group)
        members = sorted(set(people[mine].tolist()))
        rng = np.random.default_rng([seed, number, 600])
        chosen = set(rng.choice(members, len(members) // 2, replace=False).tolist())
        for person in members:
            photos = np.flatnonzero(mine & (people == person))
            if person in chosen:
                cohort_rows.extend(sorted(rng.choice(photos, min(photos.size, per_person), replace=False).tolist()))
            else:
                pool[photos] = True
    return np.array(cohort_rows, np.int64), pool


def bfw_listing() -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """``(paths, people, groups, held)`` of every BFW photo in the shared assets."""
    from facerec.datasets import list_photos
    from facerec.training.bfw_split import held_out_mask

    listing = list_photos("bfw")
    people = np.array([person for _, person, _ in listing])
    groups = np.array([group for _, _, group in listing])
    return [p for p, _, _ in listing], people, groups, held_out_mask(people.tolist(), groups.tolist())


def cohort_bytes(encodings: np.ndarray, photos: list[str], people: list[str]) -> bytes:
    """The cohort file's bytes: an ``.npz`` of float16 ``encodings`` and the provenance string arrays."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, encodings=np.asarray(encodings, np.float16), photos=np.array(photos, dtype=str),
                        people=np.array(people, dtype=str))
    return buffer.getvalue()


def build(encoder: str = "dlib", k: int | None = None, alpha: float | None = None, progress: bool = True) -> dict:
    """Write the encoder's cohort file and its card's ``cohort`` field; return that field."""
    if encoder not in CHOSEN:
        raise SystemExit(f"cohort: {encoder} has no chosen rule (benchmarks/door_groups.py --rules --encoder ...)")
    paths, people, groups, held = bfw_listing()
    rows, _ = development_split(people, groups, held)
    photos = [paths[i] for i in rows]
    encodings = cohort_encodings(encoder, photos, progress)
    data = cohort_bytes(encodings, photos, people[rows].tolist())
    target = card_path(encoder).with_name(f"{encoder}_cohort.npz")
    target.write_bytes(data)
    entry = {"file": target.name, "sha256": hashlib.sha256(data).hexdigest(), "rule": "template-symmetric",
             "k": int(k or CHOSEN[encoder]["k"]), "alpha": float(alpha or CHOSEN[encoder]["alpha"]),
             "encodings": len(photos), "people": len(set(people[rows].tolist())),
             "source": "BFW development people (not the 200 of facerec.training.bfw_split), 2 photos each, "
                       "half of each group's, seed 23; no LFW photo",
             "licence": LICENCE + (FACENET_LICENCE if "facenet" in encoder else ""),
             "built_by": f"python -m facerec.training.cohort --encoder {encoder}"}
    card = json.loads(card_path(encoder).read_text())
    entry["promise"] = card.get("cohort", {}).get("promise", [])  # kept: remeasure with --promise after a change
    card["cohort"] = entry
    card_path(encoder).write_text(json.dumps(card, indent=2) + "\n")
    return entry


def record_promise(results: list[Path], encoder: str = "dlib") -> list[dict]:
    """Write the card's ``cohort.promise`` from saved ``benchmarks/door_groups.py --json`` results of the
    default decision: per household size, the worst group's same-group strangers let in."""
    entries = []
    for path in results:
        result = json.loads(Path(path).read_text())
        if not result.get("decision", "").startswith("threshold and cohort") or result["encoder"] != encoder:
            raise SystemExit(f"cohort: {path} is not a door_groups result of {encoder}'s cohort decision")
        extra = ("" if result["household"] == 12 else f" --household {result['household']}") + (
            "" if encoder == "dlib" else f" --encoder {encoder}")
        entries.append({"people": result["household"], "per_group": True,
                        "strangers_let_in": result["summary"]["max_strangers_let_in"],
                        "residents_admitted_lowest_group": result["summary"]["min_residents_admitted"],
                        "measured_by": f"python benchmarks/door_groups.py --json{extra} ({Path(path).name})"})
    card = json.loads(card_path(encoder).read_text())
    card["cohort"]["promise"] = sorted(entries, key=lambda entry: entry["people"])
    card_path(encoder).write_text(json.dumps(card, indent=2) + "\n")
    return card["cohort"]["promise"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encoder", default="dlib", choices=sorted(CHOSEN), help="the encoder (default dlib)")
    parser.add_argument("--k", type=int, default=None, help="nearest cohort distances averaged (default: chosen)")
    parser.add_argument("--alpha", type=float, default=None, help="the score's limit (default: chosen on dev)")
    parser.add_argument("--promise", nargs="+", type=Path, metavar="RESULT_JSON", default=None,
                        help="instead: record the promise per gallery size from door_groups --json results")
    args = parser.parse_args(argv)
    if args.promise:
        print(json.dumps(record_promise(args.promise, args.encoder)))
        return 0
    print(json.dumps(build(args.encoder, args.k, args.alpha)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
