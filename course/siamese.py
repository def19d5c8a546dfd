"""The notebook's optional section: face verification as binary classification with a learned siamese head.

* :func:`bfw_sample`: encodings of a small, demographically balanced subset of BFW (the faces the
  network was fine-tuned on; never LFW, which the notebook keeps for testing);
* :func:`train`: a :class:`facerec.head.SiameseHead` trained on balanced pairs of them;
* :func:`plot_weights`, :func:`plot_roc`: the learned ``w_k`` and the ROC curves of the pair scores.

The heads ``facerec train-head`` ships (on all 800 BFW identities) are the same model on more data;
see docs/HEAD.md for their LFW numbers.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from course.triplet_training import bfw_features, dense_layer, encode
from facerec.evaluate import roc_auc, roc_points
from facerec.head import SiameseHead, train_head


def bfw_sample(model, identities: int = 120, photos: int = 8,
               batch_size: int = 64) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Encodings of ``photos`` photos each of ``identities`` BFW people, as many from each of its 8 groups.

    The faces are read from ``datasets/bfw_aligned.h5`` (built from the assets on first use) and
    encoded with ``model`` as the notebook encodes every face: one pass, no mirror image (so not
    from ``facerec train-head``'s cache of FaceEncoder's flip-averaged encodings).

    Args:
        model: FaceRecoModel with its weights.
        identities: people (a multiple of 8).
        photos: photos per person (at most 25).

    Returns:
        ``(encodings (M, 128) float32, labels (M,) int, groups (M,) str)``, ``M = identities * photos``.
    """
    features, labels, groups = bfw_features(model, identities, photos, batch_size=batch_size)
    return encode(features, dense_layer(model)), labels, groups


def train(encodings: np.ndarray, labels: np.ndarray, groups: np.ndarray, form: str, pairs_per_identity: int = 20,
          epochs: int = 20, seed: int = 0) -> SiameseHead:
    """A siamese head of ``form`` (``"abs"`` or ``"chi2"``) trained on balanced pairs of the encodings.

    ``pairs_per_identity`` same-person pairs per person and as many different-person pairs within
    their demographic group (:func:`facerec.head.train_head`); the result is not bound to any
    weights (empty fingerprint).
    """
    model = train_head(encodings, labels, form, seed=seed, pairs_per_identity=pairs_per_identity, epochs=epochs,
                       groups=groups)
    return SiameseHead.from_model(model, fingerprint="", info={"data": f"{len(np.unique(labels))} BFW people"})


def plot_weights(heads: dict[str, SiameseHead]) -> Figure:
    """The learned ``w_k`` of each head, one panel per form, dimensions sorted by weight."""
    fig, axes = plt.subplots(1, len(heads), figsize=(5.2 * len(heads), 3.2), squeeze=False)
    for ax, (form, head) in zip(axes[0], heads.items()):
        order = np.argsort(head.weights)
        ax.bar(np.arange(len(order)), head.weights[order], width=1.0, color="#4c72b0")
        ax.axhline(0, color="black", linewidth=0.8)
        feature = "|f_k(x_i) - f_k(x_j)|" if form == "abs" else "chi-square term"
        ax.set(title=f"{form}: w_k on {feature}, b = {head.bias:.1f}", xlabel="dimension k (sorted by w_k)",
               ylabel="w_k")
        ax.title.set_fontsize(9)
    fig.suptitle("Learned weights of the logistic unit: negative = a difference there speaks against 'same'",
                 fontsize=10)
    fig.tight_layout()
    return fig


def plot_roc(scores: dict[str, np.ndarray], same: np.ndarray) -> Figure:
    """ROC curves of pair scores (smaller = more alike: L2 distance, or ``1 - p`` of a head), AUC in the legend."""
    floor = 1.0 / max(1, int((~same).sum()))  # one false accept
    fig, ax = plt.subplots(figsize=(5.6, 4.2))
    for label, score in scores.items():
        far, tar = roc_points(np.asarray(score, np.float64), same)
        ax.plot(np.maximum(far, floor), tar, label=f"{label} (AUC {roc_auc(np.asarray(score, np.float64), same):.4f})")
    ax.set(xscale="log", xlim=(floor, 1), ylim=(0, 1.01), title="LFW pairs of the sample above",
           xlabel="false-accept rate (different people accepted)", ylabel="true-accept rate (same person accepted)")
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig
