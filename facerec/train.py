"""Train nn4.small2 on BFW: restore OpenFace's five missing kernels, fine-tune the rest.

Start: OpenFace's 221 CSV tensors (``$FACEREC_ASSETS/openface-nn4.small2.v1``);
the five missing convolution kernels start from He-normal noise.
Data: ``datasets/bfw_aligned.h5`` (800 identities x 25 aligned photos), never LFW.
Loss: FaceNet's triplet loss, margin 0.2 on squared L2 distances of the unit
encodings, with in-batch semi-hard negatives (Schroff et al. 2015, sec. 3.2):
for each anchor-positive pair the closest negative that is still farther than
the positive, or, if none is, the farthest negative.
Batches: ``P`` identities x ``K`` photos, random flips and small shifts/zooms.
Optimiser: Adam with linear warm-up and cosine decay; layers before
inception_3c learn at ``--early-lr-scale`` of the rate.
Validation each epoch: LFW View 1 (``pairsDevTest.txt``, threshold from
``pairsDevTrain.txt``), which is allowed for development; ``pairs.txt`` is never read.

Outputs in ``--run-dir``: ``checkpoint.weights.h5`` (resume with ``--resume``),
``log.jsonl`` (one line per epoch), ``loss.png``, and the final 226-file CSV set
in ``--out`` (default ``weights/``).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np

from facerec.paths import REPO_ROOT, WEIGHTS_DIR, openface_weights_dir

EARLY_LAYERS_END = "inception_3c"  # layers built before this block learn slower


def triplet_semihard_loss(embeddings, labels, margin: float = 0.2):
    """Mean semi-hard triplet loss over all anchor-positive pairs of a batch.

    Args:
        embeddings: ``(B, D)`` unit-length encodings (tf tensor).
        labels: ``(B,)`` integer identities.
        margin: alpha of FaceNet, on squared L2 distances.

    Returns:
        ``(loss, fraction of active triplets)`` as scalar tensors.
    """
    import tensorflow as tf

    sq = tf.reduce_sum(tf.square(embeddings), axis=1)
    dist = tf.maximum(sq[:, None] + sq[None, :] - 2.0 * tf.matmul(embeddings, embeddings, transpose_b=True), 0.0)
    same = tf.equal(labels[:, None], labels[None, :])
    eye = tf.eye(tf.shape(labels)[0], dtype=tf.bool)
    positive_mask = tf.logical_and(same, tf.logical_not(eye))
    negative_mask = tf.logical_not(same)
    # For each (anchor a, positive p): d_an over negatives n, shape (B, B, B) indexed [a, p, n].
    d_ap = dist[:, :, None]
    d_an = dist[:, None, :]
    neg = negative_mask[:, None, :]
    big = tf.constant(1e9, dist.dtype)
    semihard = tf.logical_and(neg, d_an > d_ap)
    closest_semihard = tf.reduce_min(tf.where(semihard, d_an, big), axis=2)
    farthest = tf.reduce_max(tf.where(neg, d_an, -big), axis=2)
    has_semihard = tf.reduce_any(semihard, axis=2)
    chosen = tf.where(has_semihard, closest_semihard, farthest)
    losses = tf.maximum(dist - chosen + margin, 0.0)
    pos = tf.cast(positive_mask, dist.dtype)
    n_pos = tf.maximum(tf.reduce_sum(pos), 1.0)
    loss = tf.reduce_sum(losses * pos) / n_pos
    active = tf.reduce_sum(tf.cast(losses > 0, dist.dtype) * pos) / n_pos
    return loss, active


class BatchSampler:
    """Random ``P`` identities x ``K`` photos batches with augmentation (seeded)."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, identities_per_batch: int, photos_per_identity: int,
                 seed: int):
        self.images, self.labels = images, labels
        self.p, self.k = identities_per_batch, photos_per_identity
        self.rng = np.random.default_rng(seed)
        self.by_label = [np.flatnonzero(labels == label) for label in np.unique(labels)]

    def __len__(self) -> int:
        return len(self.labels) // (self.p * self.k)

    def batch(self) -> tuple[np.ndarray, np.ndarray]:
        chosen = self.rng.choice(len(self.by_label), self.p, replace=False)
        rows = np.concatenate([self.rng.choice(self.by_label[c], self.k, replace=False) for c in chosen])
        return self.augment(self.images[rows]), self.labels[rows]

    def augment(self, faces: np.ndarray) -> np.ndarray:
        """Flip half the faces, shift by up to 3 px, zoom 0.95-1.05, jitter brightness/contrast."""
        import cv2

        out = np.empty(faces.shape, np.float32)
        for i, face in enumerate(faces):
            if self.rng.random() < 0.5:
                face = face[:, ::-1]
            zoom = self.rng.uniform(0.95, 1.05)
            shift = self.rng.uniform(-3, 3, size=2)
            matrix = np.array([[zoom, 0, 48 * (1 - zoom) + shift[0]], [0, zoom, 48 * (1 - zoom) + shift[1]]], np.float32)
            face = cv2.warpAffine(np.ascontiguousarray(face), matrix, (96, 96), borderMode=cv2.BORDER_REPLICATE)
            face = face.astype(np.float32) / 255.0
            face = (face - 0.5) * self.rng.uniform(0.85, 1.15) + 0.5 + self.rng.uniform(-0.08, 0.08)
            out[i] = np.clip(face, 0.0, 1.0)
        return out


def _learning_rate(step: int, total: int, peak: float, warmup: int) -> float:
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return peak * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def _early_variables(model) -> set[int]:
    names = [layer.name for layer in model.layers]
    end = names.index(EARLY_LAYERS_END)
    return {id(v) for layer in model.layers[:end] for v in layer.trainable_weights}


def _aux_stats(model, images: np.ndarray) -> dict[str, np.ndarray]:
    """Mean and variance of the 96 input channels of inception_5a_3x3_conv2 over ``images``."""
    import keras

    layer = model.get_layer("inception_5a_3x3_conv2")
    probe = keras.Model(model.input, layer.input)
    feats = np.concatenate([probe(images[i:i + 256].astype(np.float32) / 255.0, training=False).numpy()
                            for i in range(0, len(images), 256)])
    feats = feats.reshape(-1, feats.shape[-1])
    return {"inception_5a_3x3_conv2_m": feats.mean(0), "inception_5a_3x3_conv2_v": feats.var(0)}


class DevValidator:
    """LFW View 1 accuracy: threshold from pairsDevTrain applied to pairsDevTest."""

    def __init__(self):
        from facerec import datasets
        from facerec.evaluate import read_pairs
        from facerec.paths import assets_dir

        lfw = datasets.load("lfw")
        self.train_pairs = read_pairs(assets_dir() / "lfw" / "pairsDevTrain.txt")
        self.test_pairs = read_pairs(assets_dir() / "lfw" / "pairsDevTest.txt")
        needed = sorted({p for pair in self.train_pairs + self.test_pairs for p in (pair.first, pair.second)})
        full_index = lfw.index_of()
        self.faces = lfw.images[[full_index[p] for p in needed]]
        self.index = {path: i for i, path in enumerate(needed)}

    def __call__(self, model) -> dict[str, float]:
        from facerec.evaluate import accuracy_at, best_threshold, pair_distances, roc_auc

        enc = np.concatenate([model(self.faces[i:i + 256].astype(np.float32) / 255.0, training=False).numpy()
                              for i in range(0, len(self.faces), 256)])
        d_train = pair_distances(enc, self.index, self.train_pairs)
        d_test = pair_distances(enc, self.index, self.test_pairs)
        same_train = np.array([p.same for p in self.train_pairs])
        same_test = np.array([p.same for p in self.test_pairs])
        threshold = best_threshold(d_train, same_train)
        return {"dev_accuracy": accuracy_at(d_test, same_test, threshold), "dev_auc": roc_auc(d_test, same_test),
                "dev_threshold": threshold}


def plot_log(log: list[dict], path: Path) -> None:
    """Save the loss curve and the validation accuracy per epoch as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [row["epoch"] for row in log]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.plot(epochs, [row["loss"] for row in log], marker="o")
    left.set(xlabel="epoch", ylabel="semi-hard triplet loss", title="training loss (BFW)")
    right.plot(epochs, [row["dev_accuracy"] for row in log], marker="o", color="tab:green")
    right.set(xlabel="epoch", ylabel="accuracy", title="LFW View 1 dev-test accuracy")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def build_start_model(seed: int):
    """nn4.small2 with OpenFace's 221 tensors; the missing kernels stay He-normal."""
    import keras

    from facerec.models.nn4_small2 import build_nn4_small2
    from facerec.models.weights import load_csv_weights

    keras.utils.set_random_seed(seed)
    model = build_nn4_small2()
    missing = load_csv_weights(model, openface_weights_dir(), allow_missing=True)
    return model, missing


def train(args: argparse.Namespace) -> dict:
    """Run training as configured by the command line; returns the last log row."""
    import keras
    import tensorflow as tf
    from tqdm import tqdm

    from facerec import datasets
    from facerec.models.weights import save_csv_weights

    run_dir = Path(args.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    bfw = datasets.load("bfw")
    model, missing = build_start_model(args.seed)
    print(f"started from OpenFace's CSVs; {len(missing)} tensors start random: {', '.join(missing)}")
    sampler = BatchSampler(bfw.images, bfw.labels, args.identities, args.photos, args.seed)
    steps_per_epoch = args.steps_per_epoch or len(sampler)
    total_steps = steps_per_epoch * args.epochs
    optimizer = keras.optimizers.Adam(learning_rate=args.lr)
    early = _early_variables(model)
    scales = [args.early_lr_scale if id(v) in early else 1.0 for v in model.trainable_variables]
    validator = DevValidator()
    log_path, ckpt = run_dir / "log.jsonl", run_dir / "checkpoint.weights.h5"
    log, start_epoch = [], 0
    if args.resume and ckpt.exists() and log_path.exists():
        model.load_weights(ckpt)
        log = [json.loads(line) for line in log_path.read_text().splitlines() if line.strip()]
        start_epoch = len(log)
        sampler.rng = np.random.default_rng(args.seed + 1000 * start_epoch)
        print(f"resumed after epoch {start_epoch}")

    @tf.function
    def step(x, y, lr):
        with tf.GradientTape() as tape:
            emb = model(x, training=True)
            loss, active = triplet_semihard_loss(emb, y, args.margin)
        grads = tape.gradient(loss, model.trainable_variables)
        grads = [g * s if s != 1.0 else g for g, s in zip(grads, scales)]
        optimizer.learning_rate.assign(lr)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss, active

    if start_epoch == 0:
        row = {"epoch": 0, "loss": float("nan"), "active": float("nan"), **validator(model), "seconds": 0.0}
        print(json.dumps(row))
        log = [row]
        log_path.write_text(json.dumps(row) + "\n")
        start_epoch = 1
    t0 = time.time()
    for epoch in range(start_epoch, args.epochs + 1):
        losses, actives = [], []
        bar = tqdm(range(steps_per_epoch), desc=f"epoch {epoch}/{args.epochs}", unit="batch")
        for i in bar:
            global_step = (epoch - 1) * steps_per_epoch + i
            x, y = sampler.batch()
            loss, active = step(tf.constant(x), tf.constant(y), tf.constant(
                _learning_rate(global_step, total_steps, args.lr, args.warmup), tf.float32))
            losses.append(float(loss))
            actives.append(float(active))
            bar.set_postfix(loss=f"{np.mean(losses[-50:]):.4f}", active=f"{np.mean(actives[-50:]):.2f}")
        row = {"epoch": epoch, "loss": float(np.mean(losses)), "active": float(np.mean(actives)),
               **validator(model), "seconds": round(time.time() - t0, 1)}
        print(json.dumps(row))
        log.append(row)
        with log_path.open("a") as handle:
            handle.write(json.dumps(row) + "\n")
        model.save_weights(ckpt)
        plot_log(log, run_dir / "loss.png")
    aux = _aux_stats(model, bfw.images[:: max(1, len(bfw.images) // 2000)])
    save_csv_weights(model, args.out, aux_stats=aux)
    print(f"wrote {args.out}")
    return log[-1]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``facerec train``."""
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--steps-per-epoch", type=int, default=0, help="0: one pass over BFW per epoch")
    parser.add_argument("--identities", type=int, default=32, help="identities per batch (P)")
    parser.add_argument("--photos", type=int, default=4, help="photos per identity in a batch (K)")
    parser.add_argument("--lr", type=float, default=3e-4, help="peak learning rate")
    parser.add_argument("--early-lr-scale", type=float, default=0.1, help="learning-rate factor before inception_3c")
    parser.add_argument("--warmup", type=int, default=200, help="warm-up steps")
    parser.add_argument("--margin", type=float, default=0.2, help="triplet margin alpha")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--run-dir", default=str(REPO_ROOT / "runs" / "train"))
    parser.add_argument("--out", default=str(WEIGHTS_DIR), help="folder for the trained 226-file CSV set")
    parser.add_argument("--resume", action="store_true", help="continue from the run folder's checkpoint")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="facerec train", description=__doc__.splitlines()[0])
    add_arguments(parser)
    train(parser.parse_args(argv))


if __name__ == "__main__":
    main()
