"""The notebook's training section: fine-tune FaceRecoModel's last layer with the student's triplet loss.

* :func:`bfw_features`: the 736-d inputs of the network's dense layer (the average-pooled
  ``inception_5b`` output) for a fixed set of BFW people, computed once and cached beside the
  aligned BFW faces (keyed by the weights' fingerprint), so the section runs in seconds;
* :func:`train_last_layer`: a few hundred steps of Adam on the dense layer alone (736 x 128 + 128),
  each step a batch of ``people x photos`` faces, its triplets chosen at random or by a selector
  (the student's ``select_triplets``), its loss the student's ``triplet_loss``;
* :func:`plot_training`: the loss curves, the fraction of triplets still violating the margin, and
  the same-/different-person distance histograms of held-out people before and after.

BFW is the network's training set here; the notebook tests on the Happy House and LFW, never on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from course.siamese import _read_rows, sample_rows
from facerec import datasets

FEATURE_LAYER = "dense_layer"


def bfw_features(model, identities: int = 64, photos: int = 10, cache: Path | None = None) -> tuple[np.ndarray,
                                                                                                   np.ndarray]:
    """``(features (n, 736) float32, labels (n,))`` of ``photos`` photos of ``identities`` BFW people.

    The features are what the dense layer takes; cached in ``datasets/`` per weights fingerprint.
    """
    from facerec.models.weights import weights_fingerprint

    path = cache or datasets.h5_path("bfw").with_name(
        f"course_features_{weights_fingerprint(model)[:16]}_{identities}x{photos}.npz")
    if path.is_file():
        with np.load(path, allow_pickle=False) as data:
            return data["features"], data["labels"]
    import h5py
    import keras

    bfw = datasets.load("bfw")
    rows = sample_rows(np.asarray(bfw.groups), np.asarray(bfw.labels), identities, photos)
    with h5py.File(datasets.h5_path("bfw"), "r") as handle:
        faces = _read_rows(handle["images"], rows)
    trunk = keras.Model(model.input, model.get_layer(FEATURE_LAYER).input)
    features = trunk.predict(faces.astype(np.float32) / 255.0, batch_size=64, verbose=0).astype(np.float32)
    labels = np.asarray(bfw.labels)[rows]
    np.savez(path, features=features, labels=labels)
    return features, labels


@dataclass
class TrainingRun:
    """One fine-tuning run: the loss and the fraction of margin-violating triplets at each step."""

    name: str
    losses: list[float] = field(default_factory=list)
    violating: list[float] = field(default_factory=list)
    weights: tuple[np.ndarray, np.ndarray] | None = None


def encode(features: np.ndarray, weights: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """The dense layer and the L2 normalisation: ``(n, 736)`` features to ``(n, 128)`` unit encodings."""
    kernel, bias = weights
    out = features @ kernel + bias
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def random_triplets(encodings: np.ndarray, labels: np.ndarray, alpha: float, rng: np.random.Generator):
    """Every anchor-positive pair with a negative drawn at random from the other people."""
    anchors, positives, negatives = [], [], []
    for a in range(len(labels)):
        others = np.flatnonzero(labels != labels[a])
        for p in np.flatnonzero((labels == labels[a]) & (np.arange(len(labels)) != a)):
            anchors.append(a)
            positives.append(p)
            negatives.append(rng.choice(others))
    return np.array(anchors, int), np.array(positives, int), np.array(negatives, int)


def train_last_layer(features: np.ndarray, labels: np.ndarray, initial: tuple[np.ndarray, np.ndarray],
                     triplet_loss, select=None, steps: int = 200, people: int = 8, photos: int = 4,
                     alpha: float = 0.2, learning_rate: float = 1e-3, seed: int = 0, name: str = "") -> TrainingRun:
    """Fine-tune the dense layer from ``initial`` with ``triplet_loss``; triplets from ``select`` or at random.

    Args:
        features, labels: the training people's features and labels (:func:`bfw_features`).
        initial: the dense layer's ``(kernel (736, 128), bias (128,))`` to start from.
        triplet_loss: the student's loss, ``triplet_loss(None, [a, p, n], alpha)``.
        select: the student's ``select_triplets(encodings, labels, alpha)``, or None for random negatives.
        steps, people, photos: training steps; each batch holds ``people x photos`` faces.
        alpha, learning_rate, seed: the margin, Adam's step size, the batches' random seed.
    """
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    kernel, bias = (tf.Variable(np.array(w, np.float32)) for w in initial)
    optimizer = tf.keras.optimizers.Adam(learning_rate)
    run = TrainingRun(name or ("selected" if select else "random"))
    names = np.unique(labels)
    for _ in range(steps):
        chosen = rng.choice(names, people, replace=False)
        rows = np.concatenate([rng.choice(np.flatnonzero(labels == person), photos, replace=False)
                               for person in chosen])
        batch, batch_labels = tf.constant(features[rows]), labels[rows]
        current = encode(features[rows], (kernel.numpy(), bias.numpy()))
        a, p, n = select(current, batch_labels, alpha) if select else random_triplets(current, batch_labels, alpha,
                                                                                        rng)
        with tf.GradientTape() as tape:
            encodings = tf.math.l2_normalize(tf.matmul(batch, kernel) + bias, axis=1)
            triplet = [tf.gather(encodings, a), tf.gather(encodings, p), tf.gather(encodings, n)]
            loss = triplet_loss(None, triplet, alpha) / max(1, len(a))
        gradients = tape.gradient(loss, [kernel, bias])
        optimizer.apply_gradients(zip(gradients, [kernel, bias]))
        d_ap = np.sum(np.square(current[a] - current[p]), axis=1)
        d_an = np.sum(np.square(current[a] - current[n]), axis=1)
        run.losses.append(float(loss))
        run.violating.append(float(np.mean(d_ap - d_an + alpha > 0)) if len(a) else 0.0)
    run.weights = (kernel.numpy(), bias.numpy())
    return run
