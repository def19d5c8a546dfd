"""BFW's fair validation split: 25 identities of each of its 8 groups (200 people) kept out of all training.

* :func:`held_out_identities`: the 200 people, drawn once with a fixed seed from each group's sorted
  identities (the same on every machine);
* :func:`held_out_mask`: which rows of ``datasets/bfw_aligned.h5`` (or of any BFW listing) they are;
* :func:`held_out_pairs`: every same-person pair of the held-out people and as many different-person
  pairs *within each group* (BFW's authors compare within a group; across groups is too easy);
* :func:`group_table`: per group, FAR and FRR at one global threshold, and the group's own best
  threshold with its accuracy (one global threshold treats groups unequally, Robinson et al. 2020).

``python -m facerec.training.bfw_split [--encoder nn4|dlib] [--json]`` measures an encoder on them.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

PER_GROUP = 25
SPLIT_SEED = 20201  # fixed once; changing it changes every held-out figure


def held_out_identities(identities: list[str], groups: list[str], per_group: int = PER_GROUP) -> set[str]:
    """The held-out people: ``per_group`` of each group's identities (``identities[i]`` is in ``groups[i]``)."""
    by_group: dict[str, list[str]] = {}
    for identity, group in zip(identities, groups):
        by_group.setdefault(group, [])
        if identity not in by_group[group]:
            by_group[group].append(identity)
    held: set[str] = set()
    for number, group in enumerate(sorted(by_group)):
        people = sorted(by_group[group])
        rng = np.random.default_rng([SPLIT_SEED, number])
        held.update(people[i] for i in sorted(rng.choice(len(people), min(per_group, len(people)), replace=False)))
    return held


def held_out_mask(row_identities: list[str], row_groups: list[str], per_group: int = PER_GROUP) -> np.ndarray:
    """Boolean ``(n,)``: the rows whose person is held out (rows given by identity name and group)."""
    held = held_out_identities(list(row_identities), list(row_groups), per_group)
    return np.array([identity in held for identity in row_identities])


def held_out_pairs(labels: np.ndarray, groups: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray,
                                                                                    np.ndarray, np.ndarray]:
    """``(first, second, same, group)`` row pairs: every same-person pair, and as many different-person pairs
    of the same group drawn at random (``seed``). Indices refer to the given (held-out) rows."""
    labels, groups = np.asarray(labels), np.asarray(groups)
    rng = np.random.default_rng(seed)
    first, second, same = [], [], []
    for group in np.unique(groups):
        rows = np.flatnonzero(groups == group)
        upper = np.triu_indices(len(rows), k=1)
        a, b = rows[upper[0]], rows[upper[1]]
        positive = labels[a] == labels[b]
        negatives = np.flatnonzero(~positive)
        chosen = rng.choice(negatives, min(int(positive.sum()), len(negatives)), replace=False)
        for keep, flag in ((np.flatnonzero(positive), True), (np.sort(chosen), False)):
            first.append(a[keep])
            second.append(b[keep])
            same.append(np.full(len(keep), flag))
    first, second, same = (np.concatenate(x) for x in (first, second, same))
    return first, second, same, groups[first]


def _rates(distances: np.ndarray, same: np.ndarray, threshold: float) -> tuple[float, float]:
    accepted = distances <= threshold
    return float(np.mean(accepted[~same])), float(np.mean(~accepted[same]))


def group_table(distances: np.ndarray, same: np.ndarray, groups: np.ndarray, threshold: float) -> list[dict]:
    """Per group (sorted), then ``"all"``: FAR and FRR at ``threshold``, the group's best threshold and accuracy."""
    from facerec.evaluate import accuracy_at, best_threshold, tar_at_far

    rows = []
    for group in [*sorted(set(groups.tolist())), "all"]:
        mask = np.ones(len(groups), bool) if group == "all" else groups == group
        d, s = distances[mask], same[mask]
        far, frr = _rates(d, s, threshold)
        own = best_threshold(d, s)
        rows.append({"group": group, "pairs": int(mask.sum()), "far": far, "frr": frr,
                     "accuracy": accuracy_at(d, s, threshold), "own_threshold": float(own),
                     "own_accuracy": accuracy_at(d, s, own), "tar_at_far_1e-3": tar_at_far(d, s, 1e-3)})
    return rows


def _dlib_encodings(rows: np.ndarray, paths: list[str]) -> np.ndarray:
    """dlib's descriptors of BFW rows: from the plain teacher views when they hold them all, else computed."""
    from facerec.training.teacher_views import MissingTrainingData, read_views, views_dir

    try:
        view_rows, _, teacher = read_views(views_dir("bfw", 0), 0)
    except MissingTrainingData:
        view_rows = np.zeros(0, int)
    position = {row: i for i, row in enumerate(view_rows.tolist())}
    if all(row in position for row in rows.tolist()):
        return teacher[[position[row] for row in rows.tolist()]]
    from facerec.encoders.dlib_resnet import encode_collection

    return encode_collection("bfw", paths)


def measure(encoder_name: str = "nn4", threshold: float | None = None) -> dict:
    """The held-out table of an encoder on ``datasets/bfw_aligned.h5`` (nn4) or its dlib cache (dlib).

    ``threshold``: the global threshold; default the encoder's model-card ``balanced`` operating point.
    """
    from facerec import datasets
    from facerec.evaluate import card_of, roc_auc

    bfw = datasets.load("bfw")
    row_identities = [bfw.identities[label] for label in bfw.labels]
    held = held_out_mask(row_identities, bfw.groups)
    rows = np.flatnonzero(held)
    if encoder_name == "dlib":
        encodings = _dlib_encodings(rows, [bfw.paths[r] for r in rows])
    else:
        from facerec.encoders.nn4 import FaceEncoder

        encodings = FaceEncoder().encode(bfw.images[rows])
    first, second, same, groups = held_out_pairs(bfw.labels[rows], np.asarray(bfw.groups)[rows])
    distances = np.linalg.norm(encodings[first] - encodings[second], axis=1)
    card = card_of(encoder_name)
    if threshold is None:
        threshold = float(card.get("operating_points", {}).get("balanced", {}).get("threshold", card["threshold"]))
    return {"encoder": encoder_name, "held_out_people": len(set(bfw.labels[rows].tolist())), "threshold": threshold,
            "auc": roc_auc(distances, same), "groups": group_table(distances, same, groups, threshold)}


def markdown(result: dict) -> str:
    """The per-group table as Markdown."""
    lines = [f"| group | pairs | FAR at {result['threshold']:.4f} | FRR at {result['threshold']:.4f} | accuracy | "
             "own best threshold | its accuracy | TAR at FAR 1e-3 |", "|---|---|---|---|---|---|---|---|"]
    for row in result["groups"]:
        lines.append(f"| {row['group']} | {row['pairs']} | {row['far']:.3f} | {row['frr']:.3f} | "
                     f"{row['accuracy']:.3f} | {row['own_threshold']:.3f} | {row['own_accuracy']:.3f} | "
                     f"{row['tar_at_far_1e-3']:.3f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="An encoder on BFW's 200 held-out people, per group.")
    parser.add_argument("--encoder", choices=("nn4", "dlib"), default="nn4")
    parser.add_argument("--threshold", type=float, default=None, help="global threshold (default: the card's)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a Markdown table")
    args = parser.parse_args(argv)
    result = measure(args.encoder, args.threshold)
    print(json.dumps(result, indent=2) if args.json else markdown(result) + f"\n\nAUC {result['auc']:.4f}")


if __name__ == "__main__":
    main()
