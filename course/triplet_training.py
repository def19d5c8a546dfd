"""The notebook's training section: retrain FaceRecoModel's last layer with the student's triplet loss.

* :func:`bfw_features`: the 736-d inputs of the network's dense layer (the average-pooled
  ``inception_5b`` output) of a fixed, balanced set of BFW people, computed once and cached in
  ``datasets/`` (keyed by the weights' fingerprint), so the section runs in seconds; the siamese
  section's encodings come from the same features;
* :func:`held_out_split`: the people trained on and the people kept out (the last few of each group);
* :func:`fresh_layer`: a newly initialised dense layer (Glorot-uniform kernel, zero bias);
* :func:`train_last_layer`: a few hundred steps of Adam on the dense layer alone (736 x 128 + 128
  parameters), each step a batch of ``people x photos`` faces, its triplets chosen at random or by
  a selector (the student's ``select_triplets``), its loss the student's ``triplet_loss``; every
  ``every`` steps the held-out people are measured (:func:`hard_pairs`);
* :func:`plot_training`, :func:`plot_distances`: the curves and the held-out distance histograms;
* ``python -m course.triplet_training --seeds 4``: the comparison once per batch seed (JSON lines).

BFW is the network's training set; the notebook tests on the Happy House and LFW, never on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from course.bfw_rows import read_rows, sample_rows
from facerec import datasets

FEATURE_LAYER = "dense_layer"
FEATURE_DIM, EMBEDDING_DIM = 736, 128


def bfw_features(model, identities: int = 120, photos: int = 8, cache_dir: Path | None = None,
                 batch_size: int = 64) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What the dense layer takes for ``photos`` photos of ``identities`` BFW people (as many per group).

    The people and photos are :func:`course.bfw_rows.sample_rows`'s; the faces are read from
    ``datasets/bfw_aligned.h5`` (built from the assets on first use). Cached in ``cache_dir``
    (default ``datasets/``) as ``course_features_<fingerprint>_<identities>x<photos>.npz``.

    Args:
        model: FaceRecoModel with its weights.
        identities: people (a multiple of 8); photos: photos per person (at most 25).

    Returns:
        ``(features (M, 736) float32, labels (M,) int, groups (M,) str)``, ``M = identities * photos``,
        rows sorted by group, then person.
    """
    import h5py

    from facerec.models.weights import weights_fingerprint

    h5_path = datasets.h5_path("bfw")
    path = Path(cache_dir or h5_path.parent) / \
        f"course_features_{weights_fingerprint(model)[:16]}_{identities}x{photos}.npz"
    if path.is_file():
        with np.load(path, allow_pickle=False) as data:
            if {"features", "labels", "groups"} <= set(data.files):
                return data["features"], data["labels"], data["groups"]
    if not h5_path.exists():
        datasets.prepare("bfw")
    with h5py.File(h5_path, "r") as h5:
        labels, groups = h5["labels"][:], np.array(h5["groups"].asstr()[:])
        rows = sample_rows(groups, labels, identities, photos)
        faces = read_rows(h5["images"], rows)
    import keras

    trunk = keras.Model(model.input, model.get_layer(FEATURE_LAYER).input)
    inputs = faces.astype(np.float32) / np.float32(255.0)
    features = np.concatenate([trunk.predict_on_batch(inputs[i:i + batch_size])
                               for i in range(0, len(inputs), batch_size)]).astype(np.float32)
    result = features, labels[rows], groups[rows].astype(str)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, features=result[0], labels=result[1], groups=result[2])
    tmp.replace(path)
    return result


def dense_layer(model) -> tuple[np.ndarray, np.ndarray]:
    """The trained network's own last layer: ``(kernel (736, 128), bias (128,))``."""
    kernel, bias = model.get_layer(FEATURE_LAYER).get_weights()
    return np.asarray(kernel, np.float32), np.asarray(bias, np.float32)


def fresh_layer(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A new dense layer, as Keras initialises one: Glorot-uniform kernel ``(736, 128)``, zero bias."""
    limit = np.sqrt(6.0 / (FEATURE_DIM + EMBEDDING_DIM))
    kernel = np.random.default_rng(seed).uniform(-limit, limit, (FEATURE_DIM, EMBEDDING_DIM))
    return kernel.astype(np.float32), np.zeros(EMBEDDING_DIM, np.float32)


def encode(features: np.ndarray, weights: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """The dense layer and the L2 normalisation: ``(n, 736)`` features to ``(n, 128)`` unit encodings."""
    kernel, bias = weights
    out = np.asarray(features, np.float32) @ kernel + bias
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def held_out_split(labels: np.ndarray, groups: np.ndarray, per_group: int = 3) -> np.ndarray:
    """Boolean mask of the rows of the people kept out of training: the last ``per_group`` of each group."""
    held = np.zeros(len(labels), bool)
    for group in np.unique(groups):
        people = list(dict.fromkeys(labels[groups == group]))
        held |= np.isin(labels, people[-per_group:])
    return held


def squared_distances(encodings: np.ndarray) -> np.ndarray:
    """``(n, n)`` squared L2 distances between the rows of ``encodings``."""
    e = np.asarray(encodings, np.float64)
    sq = np.sum(e * e, axis=1)
    return np.maximum(sq[:, None] + sq[None, :] - 2.0 * e @ e.T, 0.0)


def hard_pairs(encodings: np.ndarray, labels: np.ndarray, alpha: float) -> tuple[float, float]:
    """How far the encodings are from the triplet loss's goal, judged by every pair's closest stranger.

    For each ordered anchor-positive pair ``(a, p)``, the hardest negative ``n`` is the other
    person's image closest to the anchor. Returns ``(fraction of pairs with
    d(a, p) + alpha > d(a, n), mean of max(d(a, p) - d(a, n) + alpha, 0))``: the share of pairs some
    stranger still violates the margin for, and the triplet loss of those hardest triplets (mean per
    pair). Squared distances, as in the loss. The same yardstick for every run, whatever triplets it
    trained on.
    """
    labels = np.asarray(labels)
    dist = squared_distances(encodings)
    same = labels[:, None] == labels[None, :]
    hardest = np.where(same, np.inf, dist).min(axis=1)
    positive = same & ~np.eye(len(labels), dtype=bool)
    margins = (dist + alpha - hardest[:, None])[positive]
    return float(np.mean(margins > 0)), float(np.mean(np.maximum(margins, 0.0)))


@dataclass
class TrainingRun:
    """One training run: per step the loss and the fraction of its triplets violating the margin;
    every ``every`` steps (and before the first) the held-out :func:`hard_pairs` figures."""

    name: str
    losses: list[float] = field(default_factory=list)
    violating: list[float] = field(default_factory=list)
    held_out_steps: list[int] = field(default_factory=list)
    held_out_hard: list[float] = field(default_factory=list)
    held_out_loss: list[float] = field(default_factory=list)
    weights: tuple[np.ndarray, np.ndarray] | None = None


def random_triplets(labels: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every ordered anchor-positive pair (by ``a``, then ``p``) with a negative drawn at random from the others."""
    anchors, positives, negatives = [], [], []
    for a in range(len(labels)):
        others = np.flatnonzero(labels != labels[a])
        for p in np.flatnonzero((labels == labels[a]) & (np.arange(len(labels)) != a)):
            anchors.append(a)
            positives.append(p)
            negatives.append(rng.choice(others))
    return np.array(anchors, int), np.array(positives, int), np.array(negatives, int)


def _batch(labels: np.ndarray, names: np.ndarray, people: int, photos: int, rng: np.random.Generator) -> np.ndarray:
    chosen = rng.choice(names, people, replace=False)
    return np.concatenate([rng.choice(np.flatnonzero(labels == person), photos, replace=False) for person in chosen])


def _checked_triplets(triplets, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The selector's three index arrays, as int arrays of one length within ``0..size-1``.

    Raises:
        ValueError: they are not (the graded tests explain why).
    """
    try:
        a, p, n = (np.asarray(x) for x in triplets)
    except (TypeError, ValueError) as error:
        raise ValueError("select_triplets must return three index arrays (anchors, positives, negatives); "
                         "run its test cell") from error
    if not (a.ndim == p.ndim == n.ndim == 1 and len(a) == len(p) == len(n)) or \
            any(len(x) and (not np.issubdtype(x.dtype, np.integer) or x.min() < 0 or x.max() >= size)
                for x in (a, p, n)):
        raise ValueError("select_triplets returned arrays that are not batch positions of one length; "
                         "run its test cell")
    return a.astype(int), p.astype(int), n.astype(int)


def train_last_layer(features: np.ndarray, labels: np.ndarray, initial: tuple[np.ndarray, np.ndarray],
                     triplet_loss, select=None, held_out: tuple[np.ndarray, np.ndarray] | None = None,
                     steps: int = 300, people: int = 8, photos: int = 4, alpha: float = 0.2,
                     learning_rate: float = 1e-3, every: int = 10, seed: int = 0, name: str = "") -> TrainingRun:
    """Train the dense layer from ``initial`` with ``triplet_loss``; triplets from ``select`` or at random.

    Each step draws ``people`` of the training people and ``photos`` photos of each (seeded: both
    runs of one seed see the same batches), encodes the batch with the current layer, chooses one
    triplet per ordered anchor-positive pair, and takes one Adam step on
    ``triplet_loss(None, [anchors, positives, negatives], alpha) / number of triplets``.

    Args:
        features, labels: the training people's features and labels (:func:`bfw_features`).
        initial: the dense layer's ``(kernel (736, 128), bias (128,))`` to start from (not modified).
        triplet_loss: the student's loss, ``triplet_loss(y_true, [a, p, n], alpha)`` (TensorFlow ops).
        select: the student's ``select_triplets(encodings, labels, alpha)``, or None for random negatives.
        held_out: ``(features, labels)`` of people kept out of training, measured every ``every`` steps.
        steps, people, photos: training steps; each batch holds ``people x photos`` faces.
        alpha, learning_rate, seed: the margin (squared distance), Adam's step size, the batches' seed.
        name: the run's name (default ``"selected"`` or ``"random"``).

    Raises:
        ValueError: ``select`` returned something that is not three index arrays of the batch.
    """
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    negative_rng = np.random.default_rng(seed + 1)  # random negatives: their own stream, same batches
    kernel, bias = (tf.Variable(np.array(w, np.float32)) for w in initial)
    optimizer = tf.keras.optimizers.Adam(learning_rate)
    run = TrainingRun(name or ("selected" if select else "random"))
    names = np.unique(labels)

    @tf.function(reduce_retracing=True)
    def step_fn(batch, a, p, n):
        with tf.GradientTape() as tape:
            encodings = tf.math.l2_normalize(tf.matmul(batch, kernel) + bias, axis=1)
            triplet = [tf.gather(encodings, a), tf.gather(encodings, p), tf.gather(encodings, n)]
            loss = triplet_loss(None, triplet, alpha) / tf.cast(tf.maximum(1, tf.size(a)), tf.float32)
        optimizer.apply_gradients(zip(tape.gradient(loss, [kernel, bias]), [kernel, bias]))
        return loss

    def measure(step: int) -> None:
        if held_out is not None:
            hard, loss = hard_pairs(encode(held_out[0], (kernel.numpy(), bias.numpy())), held_out[1], alpha)
            run.held_out_steps.append(step)
            run.held_out_hard.append(hard)
            run.held_out_loss.append(loss)

    for step in range(steps):
        if step % every == 0:
            measure(step)
        rows = _batch(labels, names, people, photos, rng)
        batch, batch_labels = features[rows], labels[rows]
        current = encode(batch, (kernel.numpy(), bias.numpy()))
        a, p, n = _checked_triplets(select(current, batch_labels, alpha), len(rows)) if select \
            else random_triplets(batch_labels, negative_rng)
        loss = step_fn(tf.constant(batch), tf.constant(a), tf.constant(p), tf.constant(n))
        dist = squared_distances(current)
        run.losses.append(float(loss))
        run.violating.append(float(np.mean(dist[a, p] - dist[a, n] + alpha > 0)) if len(a) else 0.0)
    measure(steps)
    run.weights = (kernel.numpy(), bias.numpy())
    return run


def _smooth(values: list[float], window: int = 15) -> np.ndarray:
    values = np.asarray(values, np.float64)
    if len(values) < window:
        return values
    return np.convolve(values, np.ones(window) / window, mode="valid")


COLOURS = {"random": "#999999", "selected": "#c44e52"}


def plot_training(runs: list[TrainingRun]) -> Figure:
    """Three panels: each run's loss, the fraction of its triplets violating the margin, and the held-out yardstick."""
    fig, axes = plt.subplots(1, 3, figsize=(13.5, 3.6))
    for run in runs:
        colour = COLOURS.get(run.name)
        offset = (len(run.losses) - len(_smooth(run.losses))) // 2
        steps = np.arange(len(_smooth(run.losses))) + offset
        axes[0].plot(steps, _smooth(run.losses), color=colour, label=f"{run.name} triplets")
        axes[1].plot(steps, _smooth(run.violating), color=colour, label=f"{run.name} triplets")
        axes[2].plot(run.held_out_steps, run.held_out_hard, color=colour, marker=".", label=f"trained on {run.name}")
    axes[0].set(title="training loss (mean per triplet, own triplets)", xlabel="step", ylabel="loss")
    axes[1].set(title="own triplets violating the margin", xlabel="step", ylabel="fraction")
    axes[2].set(title="held-out people: pairs whose closest\nstranger is within the margin", xlabel="step",
                ylabel="fraction of anchor-positive pairs")
    for ax in axes:
        ax.title.set_fontsize(9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        ax.set_ylim(bottom=0)
    fig.tight_layout()
    return fig


def same_and_different_distances(encodings: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(same-person, different-person)`` squared distances of every unordered pair."""
    upper = np.triu_indices(len(labels), k=1)
    dist = squared_distances(encodings)[upper]
    same = np.asarray(labels)[upper[0]] == np.asarray(labels)[upper[1]]
    return dist[same], dist[~same]


def plot_distances(panels: dict[str, np.ndarray], labels: np.ndarray, alpha: float) -> Figure:
    """Histograms of held-out same- and different-person squared distances, one panel per set of encodings."""
    fig, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 3.2), sharey=True, squeeze=False)
    bins = np.linspace(0.0, 4.0, 61)
    for ax, (title, encodings) in zip(axes[0], panels.items()):
        same, different = same_and_different_distances(encodings, labels)
        ax.hist(different, bins=bins, density=True, alpha=0.6, color="#4c72b0", label="different people")
        ax.hist(same, bins=bins, density=True, alpha=0.6, color="#dd8452", label="same person")
        ax.set(title=title, xlabel="squared distance between encodings")
        ax.title.set_fontsize(9)
    axes[0][0].set_ylabel("density")
    axes[0][0].legend(fontsize=8)
    fig.suptitle(f"Held-out people ({len(np.unique(labels))}, never trained on); the margin is alpha = {alpha}",
                 fontsize=10)
    fig.tight_layout()
    return fig


def compare(seeds: int = 4, steps: int = 300) -> list[dict]:
    """The notebook's experiment with the reference solutions, once per batch seed: held-out yardstick and losses."""
    from course import solutions

    model = solutions.load_model()
    features, labels, groups = bfw_features(model)
    held = held_out_split(labels, groups)
    rows = []
    for seed in range(seeds):
        row = {"seed": seed}
        for select in (None, solutions.select_triplets):
            run = train_last_layer(features[~held], labels[~held], fresh_layer(0), solutions.triplet_loss,
                                   select=select, held_out=(features[held], labels[held]), steps=steps, seed=seed)
            row[f"{run.name}_held_out"] = round(run.held_out_hard[-1], 4)
            row[f"{run.name}_final_loss"] = round(float(np.mean(run.losses[-50:])), 5)
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> None:
    import argparse
    import json

    parser = argparse.ArgumentParser(description="The training section's random-vs-selected comparison over seeds.")
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--steps", type=int, default=300)
    args = parser.parse_args(argv)
    for row in compare(args.seeds, args.steps):
        print(json.dumps(row))


if __name__ == "__main__":
    main()
