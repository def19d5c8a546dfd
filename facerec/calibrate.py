"""Choose the verification threshold of a weight set and write ``model.json`` beside it.

The threshold is the L2 distance of highest accuracy on LFW View 1 (the 3,200
development pairs of ``pairsDevTrain.txt`` and ``pairsDevTest.txt``), which the
LFW protocol reserves for development. ``pairs.txt`` (View 2, the benchmark) is
not read here, so the false-accept and false-reject rates reported on it at this
threshold are not tuned on it.

Usage: ``python -m facerec.calibrate [WEIGHTS_DIR] [--log runs/train/log.jsonl]``
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from facerec.paths import WEIGHTS_DIR, assets_dir


def view1_distances(weights_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """L2 distances and same-person flags of the 3,200 LFW View 1 pairs."""
    from facerec import datasets
    from facerec.encoder import FaceEncoder
    from facerec.evaluate import pair_distances, read_pairs

    lfw_dir = assets_dir() / "lfw"
    pairs = read_pairs(lfw_dir / "pairsDevTrain.txt") + read_pairs(lfw_dir / "pairsDevTest.txt")
    lfw = datasets.load("lfw")
    full_index = lfw.index_of()
    needed = sorted({p for pair in pairs for p in (pair.first, pair.second)})
    encodings = FaceEncoder(weights_dir).encode(lfw.images[[full_index[p] for p in needed]])
    distances = pair_distances(encodings, {p: i for i, p in enumerate(needed)}, pairs)
    return distances, np.array([pair.same for pair in pairs])


def calibrate(weights_dir: Path = WEIGHTS_DIR, training_log: Path | None = None) -> dict:
    """Compute the threshold of ``weights_dir`` and write ``weights_dir/model.json``.

    Returns:
        The written dictionary: ``threshold``, ``threshold_source``, the View 1
        accuracy / FAR / FRR at it, the weights' fingerprint, and a training
        summary when ``training_log`` is given.
    """
    from facerec.encoder import FaceEncoder
    from facerec.evaluate import accuracy_at, best_threshold

    weights_dir = Path(weights_dir)
    distances, same = view1_distances(weights_dir)
    threshold = round(best_threshold(distances, same), 4)
    accepted = distances <= threshold
    info = {
        "model": "nn4.small2 (OpenFace v1 layout), facerec-trained",
        "threshold": threshold,
        "threshold_source": "best accuracy on LFW View 1 (pairsDevTrain + pairsDevTest, 3200 pairs)",
        "encoding": "FaceEncoder default: mean of the face's and its mirror image's encodings, renormalised",
        "view1_accuracy": round(accuracy_at(distances, same, threshold), 4),
        "view1_far": round(float(np.mean(accepted[~same])), 4),
        "view1_frr": round(float(np.mean(~accepted[same])), 4),
        "fingerprint": FaceEncoder(weights_dir).fingerprint,
    }
    if training_log and Path(training_log).is_file():
        rows = [json.loads(line) for line in Path(training_log).read_text().splitlines() if line.strip()]
        info["training"] = {"epochs": rows[-1]["epoch"], "seconds": rows[-1]["seconds"],
                            "final_dev_accuracy": rows[-1]["dev_accuracy"]}
    (weights_dir / "model.json").write_text(json.dumps(info, indent=2) + "\n")
    return info


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m facerec.calibrate", description=__doc__.splitlines()[0])
    parser.add_argument("weights_dir", nargs="?", default=str(WEIGHTS_DIR))
    parser.add_argument("--log", default=None, help="training log.jsonl to summarise in model.json")
    args = parser.parse_args(argv)
    print(json.dumps(calibrate(Path(args.weights_dir), args.log), indent=2))


if __name__ == "__main__":
    main()
