"""LFW verification benchmark: the standard 10-fold protocol of ``pairs.txt``.

For each fold, the L2-distance threshold that maximises accuracy on the other
nine folds is applied to it; we report the mean and standard deviation (ddof=1)
of the ten fold accuracies, the ROC AUC over all pairs, the true-accept rate at
a false-accept rate of 1e-3, and the mean of the ten thresholds.

Faces come from ``datasets/lfw_aligned.h5`` (built once from the assets by
:mod:`facerec.datasets`), so a re-run only encodes.

``--method head-abs|head-chi2`` scores each pair with a siamese head
(:mod:`facerec.head`) instead of the L2 distance: the score is ``1 - p(same)``, so
the protocol and the JSON fields are the same, and ``threshold`` is in that unit.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from facerec.exceptions import InvalidArgument
from facerec.paths import assets_dir


@dataclass(frozen=True)
class Pair:
    """One LFW pair: two relative image paths, whether they show the same person, its fold."""

    first: str
    second: str
    same: bool
    fold: int


def _lfw_path(name: str, number: str) -> str:
    return f"{name}/{name}_{int(number):04d}.jpg"


def read_pairs(path: str | Path | None = None) -> list[Pair]:
    """Parse an LFW pairs file (``pairs.txt`` or View 1's ``pairsDev*.txt``).

    The header is ``folds pairs_per_class`` (pairs.txt) or a single count (View 1,
    read as one fold). Each fold lists its same pairs ``name i j`` then its
    different pairs ``name1 i name2 j``.
    """
    path = Path(path) if path else assets_dir() / "lfw" / "pairs.txt"
    if not path.is_file():
        raise InvalidArgument(f"pairs file {path} not found; pass --pairs or set FACEREC_ASSETS")
    lines = [line.split() for line in path.read_text().splitlines() if line.strip()]
    header, rows = lines[0], lines[1:]
    folds, per_class = (int(header[0]), int(header[1])) if len(header) == 2 else (1, int(header[0]))
    if len(rows) != folds * per_class * 2:
        raise InvalidArgument(f"{path}: header promises {folds} x 2 x {per_class} pairs, found {len(rows)} lines")
    pairs = []
    for index, row in enumerate(rows):
        fold = index // (2 * per_class)
        if len(row) == 3:
            pairs.append(Pair(_lfw_path(row[0], row[1]), _lfw_path(row[0], row[2]), True, fold))
        elif len(row) == 4:
            pairs.append(Pair(_lfw_path(row[0], row[1]), _lfw_path(row[2], row[3]), False, fold))
        else:
            raise InvalidArgument(f"{path}: line {index + 2} is not a pair: {' '.join(row)}")
    return pairs


def best_threshold(distances: np.ndarray, same: np.ndarray) -> float:
    """The distance threshold (accept when ``distance <= threshold``) of highest accuracy.

    Candidates are the midpoints between consecutive sorted distances.
    """
    order = np.argsort(distances)
    sorted_d, sorted_same = distances[order], same[order]
    # accept the first k pairs: correct = same among them + different among the rest
    true_accepts = np.concatenate([[0], np.cumsum(sorted_same)])
    true_rejects = (~sorted_same).sum() - np.concatenate([[0], np.cumsum(~sorted_same)])
    k = int(np.argmax(true_accepts + true_rejects))
    if k == 0:
        return float(sorted_d[0] - 1e-6)
    if k == len(sorted_d):
        return float(sorted_d[-1] + 1e-6)
    return float((sorted_d[k - 1] + sorted_d[k]) / 2)


def accuracy_at(distances: np.ndarray, same: np.ndarray, threshold: float) -> float:
    """Fraction of pairs classified right when accepting ``distance <= threshold``."""
    return float(np.mean((distances <= threshold) == same))


def tar_at_far(distances: np.ndarray, same: np.ndarray, far: float = 1e-3) -> float:
    """True-accept rate at the largest threshold whose false-accept rate is at most ``far``."""
    negatives = np.sort(distances[~same])
    allowed = int(np.floor(far * len(negatives)))
    threshold = negatives[allowed] if allowed < len(negatives) else np.inf
    return float(np.mean(distances[same] < threshold))


def roc_auc(distances: np.ndarray, same: np.ndarray) -> float:
    """Area under the ROC curve, with smaller distance meaning 'same' (ties count half)."""
    from scipy.stats import rankdata

    ranks = rankdata(-distances)
    n_pos, n_neg = same.sum(), (~same).sum()
    return float((ranks[same].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


@dataclass
class VerificationResult:
    """The JSON fields of ``facerec evaluate lfw --json``."""

    accuracy_mean: float
    accuracy_std: float
    auc: float
    tar_at_far_1e3: float
    threshold: float
    far_at_threshold: float
    frr_at_threshold: float
    n_pairs: int
    fold_accuracies: list[float]
    model: str
    method: str

    def to_json(self) -> dict:
        data = asdict(self)
        data["tar_at_far_1e-3"] = data.pop("tar_at_far_1e3")
        return data


def ten_fold(scores: np.ndarray, pairs: list[Pair], model: str = "facerec", method: str = "l2") -> VerificationResult:
    """Run the LFW protocol on per-pair distances (smaller = more alike).

    Args:
        scores: ``(len(pairs),)`` distances, in the order of ``pairs``.
        pairs: from :func:`read_pairs`.
    """
    distances = np.asarray(scores, np.float64)
    same = np.array([pair.same for pair in pairs])
    folds = np.array([pair.fold for pair in pairs])
    fold_ids = np.unique(folds)
    accuracies, thresholds = [], []
    for fold in fold_ids:
        test = folds == fold
        train = ~test if len(fold_ids) > 1 else test
        threshold = best_threshold(distances[train], same[train])
        thresholds.append(threshold)
        accuracies.append(accuracy_at(distances[test], same[test], threshold))
    threshold = float(np.mean(thresholds))
    accepted = distances <= threshold
    return VerificationResult(
        accuracy_mean=float(np.mean(accuracies)),
        accuracy_std=float(np.std(accuracies, ddof=1)) if len(accuracies) > 1 else 0.0,
        auc=roc_auc(distances, same),
        tar_at_far_1e3=tar_at_far(distances, same, 1e-3),
        threshold=threshold,
        far_at_threshold=float(np.mean(accepted[~same])),
        frr_at_threshold=float(np.mean(~accepted[same])),
        n_pairs=len(pairs),
        fold_accuracies=[float(a) for a in accuracies],
        model=model,
        method=method,
    )


def pair_distances(encodings: np.ndarray, index: dict[str, int], pairs: list[Pair]) -> np.ndarray:
    """L2 distances between the encodings of each pair's two images."""
    missing = [p for pair in pairs for p in (pair.first, pair.second) if p not in index]
    if missing:
        raise InvalidArgument(f"{len(missing)} pair images are not in LFW, e.g. {missing[0]}")
    first = encodings[[index[pair.first] for pair in pairs]]
    second = encodings[[index[pair.second] for pair in pairs]]
    return np.linalg.norm(first - second, axis=1)


def roc_points(distances: np.ndarray, same: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """False-accept and true-accept rates for every threshold, for plotting."""
    order = np.argsort(distances)
    sorted_same = same[order]
    tar = np.concatenate([[0], np.cumsum(sorted_same)]) / max(1, sorted_same.sum())
    far = np.concatenate([[0], np.cumsum(~sorted_same)]) / max(1, (~sorted_same).sum())
    return far, tar


def encode_lfw(model_name: str, paths: list[str], weights_dir: str | None = None,
               progress: bool = True, precision: str = "float32", runtime: str | None = None) -> np.ndarray:
    """Encodings ``(len(paths), 128)`` of LFW photos given by relative path.

    ``model_name`` is ``facerec`` (nn4.small2 on the shared aligned faces, in
    ``precision`` and ``runtime``: see :class:`facerec.encoder.FaceEncoder`) or ``dlib``
    (face_recognition's ResNet encoder on dlib's own 150x150 chips of the same
    detected faces; cached per photo in ``datasets/lfw_dlib.h5``).
    """
    from facerec import datasets

    if model_name == "dlib":
        from facerec.encoders.dlib_resnet import encode_collection

        return encode_collection("lfw", paths, progress=progress)
    from facerec.encoder import get_encoder

    lfw = datasets.load("lfw")
    index = lfw.index_of()
    missing = [p for p in paths if p not in index]
    if missing:
        raise InvalidArgument(f"{len(missing)} pair images are not in LFW, e.g. {missing[0]}")
    encoder = get_encoder(weights_dir, precision=precision, runtime=runtime)
    return encoder.encode(lfw.images[[index[p] for p in paths]])


def save_roc_plot(curves: dict[str, tuple[np.ndarray, np.ndarray, float]], path: Path) -> None:
    """ROC curves (false-accept rate on a log axis) with each one's AUC in the legend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axis = plt.subplots(figsize=(6, 5))
    for label, (far, tar, auc) in curves.items():
        axis.plot(np.maximum(far, 1e-4), tar, label=f"{label} (AUC {auc:.4f})")
    axis.set(xscale="log", xlim=(1e-4, 1), ylim=(0, 1.01), xlabel="false-accept rate",
             ylabel="true-accept rate", title="LFW pairs.txt ROC")
    axis.grid(alpha=0.3)
    axis.legend(loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def card_of(model_name: str, weights_dir: str | None = None) -> dict:
    """The model card of an evaluated encoder (``facerec``/``nn4`` or ``dlib``)."""
    if model_name == "dlib":
        from facerec.encoders.dlib_resnet import model_card

        return model_card()
    from facerec.encoders.nn4 import model_info

    return model_info(weights_dir)


def operating_point(distances: np.ndarray, same: np.ndarray, model_name: str, method: str,
                    weights_dir: str | None = None) -> dict:
    """Accuracy, false-accept and false-reject rates at the threshold a user would deploy (fixed in advance).

    With L2: the model card's ``balanced`` point (chosen on LFW View 1), and every
    pair operating point of the card (``operating_points``: name -> threshold, far,
    frr on these pairs); siamese heads: p(same) = 0.5.
    """
    if method != "l2":
        threshold, points = 0.5, {}  # the head's score is 1 - p(same)
    else:
        card_points = card_of(model_name, weights_dir)["operating_points"]
        threshold = float(card_points["balanced"]["threshold"])
        points = {name: _rates_at(distances, same, float(point["threshold"])) for name, point in card_points.items()}
    accepted = distances <= threshold
    return {"operating_threshold": threshold, "operating_accuracy": accuracy_at(distances, same, threshold),
            "operating_far": float(np.mean(accepted[~same])), "operating_frr": float(np.mean(~accepted[same])),
            "operating_points": points}


def _rates_at(distances: np.ndarray, same: np.ndarray, threshold: float) -> dict:
    accepted = distances <= threshold
    return {"threshold": threshold, "far": float(np.mean(accepted[~same])), "frr": float(np.mean(~accepted[same])),
            "accuracy": accuracy_at(distances, same, threshold)}


def add_arguments(parser) -> None:
    """Options of ``facerec evaluate lfw``."""
    parser.add_argument("benchmark", choices=["lfw"], help="benchmark to run")
    parser.add_argument("--pairs", default=None, help="LFW pairs file (default: the assets' pairs.txt)")
    parser.add_argument("--encoder", action="append", choices=["nn4", "dlib"], default=None,
                        help="encoder(s) to evaluate; repeat to compare (default: nn4)")
    parser.add_argument("--model", action="append", choices=["facerec", "dlib"], default=None,
                        help="deprecated spelling of --encoder (facerec = nn4)")
    parser.add_argument("--method", default="l2", choices=["l2", "head-abs", "head-chi2"],
                        help="pair score: l2 (distance threshold, default) or 1 - p(same) of a siamese head "
                             "(weights/head_abs.npz, head_chi2.npz; see `facerec train-head`)")
    parser.add_argument("--weights", default=None, help="weights folder (default: the repo's weights/)")
    parser.add_argument("--precision", default="float32", choices=["float32", "bfloat16", "int8"],
                        help="arithmetic inside facerec's network (default float32, as calibrated)")
    parser.add_argument("--runtime", default=None, choices=["openvino", "onnxruntime", "tensorflow"],
                        help="where nn4 runs (default: openvino, or $FACEREC_RUNTIME)")
    parser.add_argument("--plot", default="runs/lfw_roc.png", help="where to save the ROC plot")
    parser.add_argument("--json", action="store_true", help="print one JSON object (a list when comparing models)")


def run(args) -> list[dict]:
    """Evaluate each requested model on the pairs; print a table or JSON; save the ROC plot."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import json
    import sys

    from facerec.runtimes import choose_runtime

    if args.model:
        print("facerec evaluate: --model is deprecated, use --encoder nn4|dlib", file=sys.stderr)
    models = [{"nn4": "facerec"}.get(name, name) for name in (args.encoder or [])] + list(args.model or [])
    models = list(dict.fromkeys(models or ["facerec"]))
    pairs = read_pairs(args.pairs)
    same = np.array([pair.same for pair in pairs])
    head = None
    if args.method != "l2":
        from facerec.head import head_for_evaluation, head_pair_scores

        head = head_for_evaluation(args.method, models, args.weights)
    results, curves = [], {}
    for model_name in models:
        paths = sorted({p for pair in pairs for p in (pair.first, pair.second)})
        encodings = encode_lfw(model_name, paths, args.weights, progress=not args.json, precision=args.precision,
                               runtime=args.runtime)
        index = {p: i for i, p in enumerate(paths)}
        distances = (pair_distances(encodings, index, pairs) if head is None
                     else head_pair_scores(head, encodings, index, pairs))
        result = ten_fold(distances, pairs, model=model_name, method=args.method)
        results.append({**result.to_json(), **operating_point(distances, same, model_name, args.method, args.weights),
                        "precision": args.precision if model_name == "facerec" else "float32",
                        "runtime": choose_runtime(args.runtime) if model_name == "facerec" else "dlib",
                        "encoder": "dlib" if model_name == "dlib" else "nn4"})
        far, tar = roc_points(distances, same)
        curves[model_name if head is None else f"{model_name} {args.method}"] = (far, tar, result.auc)
    save_roc_plot(curves, Path(args.plot))
    if args.json:
        print(json.dumps(results[0] if len(results) == 1 else results))
    else:
        for r in results:
            print(f"{r['model']:>8} {r['method']}: accuracy {r['accuracy_mean']:.4f} +- {r['accuracy_std']:.4f}  "
                  f"AUC {r['auc']:.4f}  TAR@FAR=1e-3 {r['tar_at_far_1e-3']:.4f}  threshold {r['threshold']:.3f}"
                  f"{'' if head is None else ' (1 - p)'}  "
                  f"({r['n_pairs']} pairs)")
            for name, point in r["operating_points"].items():
                print(f"{'':>8} {name:>9}: threshold {point['threshold']:.4f}  FAR {point['far']:.4f}  "
                      f"FRR {point['frr']:.4f}")
        print(f"ROC plot: {args.plot}")
    return results
