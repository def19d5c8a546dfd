"""Train nn4.small2 on BFW: restore OpenFace's five missing kernels, fine-tune the rest.

Start: OpenFace's 221 CSV tensors (``$FACEREC_ASSETS/openface-nn4.small2.v1``);
the five missing convolution kernels start from He-normal noise.
Data: ``datasets/bfw_aligned.h5`` (800 identities x 25 aligned photos), never LFW.
Loss: FaceNet's triplet loss, margin 0.2 on squared L2 distances of the unit
encodings, with in-batch semi-hard negatives (Schroff et al. 2015, sec. 3.2):
for each anchor-positive pair the closest negative that is still farther than
the positive, or, if none is, the farthest negative. Optionally
(``--distill-weight``) plus relational distillation from dlib's ResNet encoder:
1 - the correlation between the batch's cosine-similarity matrices of student
and teacher, so the student learns which faces the teacher finds alike.
Batches: ``P`` identities x ``K`` photos.
Two phases, each Adam with linear warm-up and cosine decay:

1. ``--top-epochs``: everything before inception_3c is frozen (its outputs, for
   every photo and its mirror image, are computed once and cached in memory);
   inception_3c to the dense layer train fast on those features.
2. ``--full-epochs``: the whole network fine-tunes on augmented photos (flips,
   small shifts and zooms, brightness and contrast); layers before inception_3c
   learn at ``--early-lr-scale`` of the rate. Every tensor is updated, batch-norm
   statistics included.
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
import os
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

    def rows(self) -> np.ndarray:
        """Row indices of one batch: ``P`` random identities, ``K`` random photos each."""
        chosen = self.rng.choice(len(self.by_label), self.p, replace=False)
        return np.concatenate([self.rng.choice(self.by_label[c], self.k, replace=False) for c in chosen])

    def batch(self) -> tuple[np.ndarray, np.ndarray]:
        """``(faces (P*K, 96, 96, 3) float32 augmented, labels (P*K,))``."""
        rows = self.rows()
        return self.augment(self.images[rows]), self.labels[rows]

    def batch_with_rows(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        rows = self.rows()
        return self.augment(self.images[rows]), self.labels[rows], rows

    def augment(self, faces: np.ndarray) -> np.ndarray:
        """Flip half the faces, shift by up to 3 px, zoom 0.95-1.05, jitter brightness/contrast."""
        import cv2

        out = np.empty(faces.shape, np.float32)
        for i, face in enumerate(faces):
            if self.rng.random() < 0.5:
                face = face[:, ::-1]
            zoom = self.rng.uniform(0.95, 1.05)
            shift = self.rng.uniform(-3, 3, size=2)
            offset = 48 * (1 - zoom) + shift
            matrix = np.array([[zoom, 0, offset[0]], [0, zoom, offset[1]]], np.float32)
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


def early_variables(model) -> set[int]:
    """Ids of the trainable variables of the layers before ``EARLY_LAYERS_END`` (trained at ``--early-lr-scale``)."""
    names = [layer.name for layer in model.layers]
    end = names.index(EARLY_LAYERS_END)
    return {id(v) for layer in model.layers[:end] for v in layer.trainable_weights}


def copy_weights_by_name(source, target) -> None:
    """Copy the weights of every weighted layer that both models have (matched by name)."""
    source_layers = {layer.name: layer for layer in source.layers if layer.weights}
    for layer in target.layers:
        if layer.weights and layer.name in source_layers:
            layer.set_weights(source_layers[layer.name].get_weights())


def trunk_features(model, images: np.ndarray, batch: int = 256) -> np.ndarray:
    """inception_3b outputs (float16) of ``images`` and of their mirror images, stacked: ``(2N, 12, 12, 320)``."""
    import keras
    import tensorflow as tf
    from tqdm import tqdm

    trunk = keras.Model(model.input, model.get_layer("inception_3b").output)
    forward = tf.function(lambda x: trunk(x, training=False))
    out = np.empty((2 * len(images), 12, 12, 320), np.float16)
    for flip in (0, 1):
        label = f"caching trunk features ({'mirrored' if flip else 'original'})"
        for i in tqdm(range(0, len(images), batch), desc=label):
            x = images[i:i + batch, :, ::-1] if flip else images[i:i + batch]
            out[flip * len(images) + i: flip * len(images) + i + len(x)] = forward(
                tf.constant(x.astype(np.float32) / 255.0)).numpy()
    return out


def predict_faces(model, images: np.ndarray, batch: int = 256) -> np.ndarray:
    """``model``'s inference outputs for uint8 faces ``(N, 96, 96, 3)``, in batches of ``batch``, concatenated."""
    import tensorflow as tf

    forward = tf.function(lambda x: model(x, training=False))
    return np.concatenate([forward(tf.constant(images[i:i + batch].astype(np.float32) / 255.0)).numpy()
                           for i in range(0, len(images), batch)])


def _aux_stats(model, images: np.ndarray) -> dict[str, np.ndarray]:
    """Mean and variance of the 96 input channels of inception_5a_3x3_conv2 over ``images``."""
    import keras

    layer = model.get_layer("inception_5a_3x3_conv2")
    probe = keras.Model(model.input, layer.input)
    feats = predict_faces(probe, images)
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

        enc = predict_faces(model, self.faces)
        d_train = pair_distances(enc, self.index, self.train_pairs)
        d_test = pair_distances(enc, self.index, self.test_pairs)
        same_train = np.array([p.same for p in self.train_pairs])
        same_test = np.array([p.same for p in self.test_pairs])
        threshold = best_threshold(d_train, same_train)
        return {"dev_accuracy": accuracy_at(d_test, same_test, threshold), "dev_auc": roc_auc(d_test, same_test),
                "dev_threshold": threshold}


def append_log(log: list[dict], row: dict, log_path: Path) -> None:
    """Print an epoch's row, add it to ``log`` and to the run's ``log.jsonl``."""
    print(json.dumps(row))
    log.append(row)
    with log_path.open("a") as handle:
        handle.write(json.dumps(row) + "\n")


def plot_log(log: list[dict], path: Path) -> None:
    """Save the loss curve and the validation accuracy per epoch as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [row["epoch"] for row in log]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.plot(epochs, [np.nan if row["loss"] is None else row["loss"] for row in log], marker="o")
    left.set(xlabel="epoch", ylabel="semi-hard triplet loss", title="training loss (BFW)")
    right.plot(epochs, [row["dev_accuracy"] for row in log], marker="o", color="tab:green")
    right.set(xlabel="epoch", ylabel="accuracy", title="LFW View 1 dev-test accuracy")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def build_start_model(seed: int, init: str | os.PathLike | None = None):
    """nn4.small2 with OpenFace's 221 tensors (the missing kernels stay He-normal), or a complete CSV set ``init``.

    Returns:
        ``(model, names of the CSV tensors that were missing and start random)``.
    """
    import keras

    from facerec.models.nn4_small2 import build_nn4_small2
    from facerec.models.weights import load_csv_weights

    keras.utils.set_random_seed(seed)
    model = build_nn4_small2()
    if init:
        load_csv_weights(model, Path(init))
        return model, []
    missing = load_csv_weights(model, openface_weights_dir(), allow_missing=True)
    return model, missing


def similarity_correlation_loss(embeddings, teacher):
    """Relational distillation: 1 - Pearson correlation of the two cosine-similarity matrices.

    Only the off-diagonal entries count. Scale-free: the student keeps its own
    range of similarities (set by the triplet margin) and learns the teacher's
    ordering of which faces are alike.
    """
    import tensorflow as tf

    n = tf.shape(embeddings)[0]
    mask = tf.logical_not(tf.eye(n, dtype=tf.bool))
    student = tf.boolean_mask(tf.matmul(embeddings, embeddings, transpose_b=True), mask)
    target = tf.boolean_mask(tf.matmul(teacher, teacher, transpose_b=True), mask)
    student -= tf.reduce_mean(student)
    target -= tf.reduce_mean(target)
    corr = tf.reduce_sum(student * target) / tf.sqrt(tf.reduce_sum(student ** 2) * tf.reduce_sum(target ** 2) + 1e-12)
    return 1.0 - corr


def embedding_distillation_loss(embeddings, teacher):
    """Direct distillation: mean ``1 - cos`` between each student encoding and the teacher's encoding of that face.

    Both are unit vectors, so the student (through :func:`_make_step`'s linear
    projector) learns where dlib's ResNet places each face, not only the ordering
    that :func:`similarity_correlation_loss` matches. Equal to half the mean squared L2 distance.
    """
    import tensorflow as tf

    return tf.reduce_mean(1.0 - tf.reduce_sum(embeddings * teacher, axis=1))


def fit_projector(student: np.ndarray, teacher: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares affine map ``student @ kernel + bias ~ teacher``, the projector's starting point.

    dlib's unit encodings fill a narrow cone (mean cosine of two BFW faces about
    0.83, printed by :func:`_initial_projector`), while the triplet margin needs the student's to spread over the
    sphere; the projector's bias and matrix absorb that difference, so the direct
    distillation (:func:`embedding_distillation_loss`) does not fight the triplet loss.

    Args:
        student: ``(N, 128)`` the student's encodings of the training faces; teacher: ``(N, 128)`` dlib's.

    Returns:
        ``(kernel (128, 128), bias (128,))`` float32.
    """
    design = np.concatenate([student, np.ones((len(student), 1), student.dtype)], axis=1).astype(np.float64)
    solution = np.linalg.lstsq(design, teacher.astype(np.float64), rcond=None)[0]
    return solution[:-1].astype(np.float32), solution[-1].astype(np.float32)


def projector_layer(initial: tuple[np.ndarray, np.ndarray] | None):
    """The affine map from student to teacher space of the direct distillation; discarded after training."""
    import keras

    projector = keras.layers.Dense(128, kernel_initializer="identity", name="distill_projector")
    projector.build((None, 128))
    if initial is not None:
        projector.set_weights(list(initial))
    return projector


def _initial_projector(model, images: np.ndarray, teacher: np.ndarray | None, embed_weight: float):
    """:func:`fit_projector` on every second training face as ``model`` encodes it now (None without distillation)."""
    if not embed_weight or teacher is None:
        return None
    rows = np.arange(0, len(images), 2)
    student = predict_faces(model, images[rows])
    kernel, bias = fit_projector(student, teacher[rows])
    fitted = student @ kernel + bias
    fitted /= np.linalg.norm(fitted, axis=1, keepdims=True)
    print(f"distillation projector fitted: mean 1 - cos {np.mean(1 - np.sum(fitted * teacher[rows], axis=1)):.4f}; "
          f"the teacher's mean cosine of two faces {np.linalg.norm(teacher.mean(0)) ** 2:.3f}")
    return kernel, bias


def _make_step(model, optimizer, scales: list[float], margin: float, distill_weight: float = 0.0,
               embed_weight: float = 0.0, projector_init: tuple[np.ndarray, np.ndarray] | None = None):
    import tensorflow as tf

    projector = projector_layer(projector_init) if embed_weight else None
    variables = model.trainable_variables + (projector.trainable_variables if projector else [])
    scales = list(scales) + [1.0] * (len(variables) - len(scales))

    @tf.function
    def step(x, y, teacher, lr):
        with tf.GradientTape() as tape:
            embeddings = model(x, training=True)
            loss, active = triplet_semihard_loss(embeddings, y, margin)
            if distill_weight:
                loss += distill_weight * similarity_correlation_loss(embeddings, teacher)
            if embed_weight:
                projected = tf.math.l2_normalize(projector(embeddings), axis=1)
                loss += embed_weight * embedding_distillation_loss(projected, teacher)
        grads = tape.gradient(loss, variables)
        grads = [g * s if s != 1.0 else g for g, s in zip(grads, scales)]
        optimizer.learning_rate.assign(lr)
        optimizer.apply_gradients(zip(grads, variables))
        return loss, active

    return step


class _Phase:
    """One training phase: its model, batch source, optimiser and schedule."""

    def __init__(self, name, model, batches, epochs, steps, lr, warmup, margin, scales=None, teacher=None,
                 distill_weight=0.0, embed_weight=0.0, projector_init=None):
        import keras

        self.name, self.model, self.batches = name, model, batches
        self.epochs, self.steps, self.lr, self.warmup = epochs, steps, lr, warmup
        self.teacher = teacher if teacher is not None else np.zeros((1, 128), np.float32)
        optimizer = keras.optimizers.Adam(learning_rate=lr)
        self.step = _make_step(model, optimizer, scales or [1.0] * len(model.trainable_variables), margin,
                               distill_weight if teacher is not None else 0.0,
                               embed_weight if teacher is not None else 0.0, projector_init)

    def run_epoch(self, epoch_in_phase: int, label: str) -> tuple[float, float]:
        import tensorflow as tf
        from tqdm import tqdm

        losses, actives = [], []
        total = self.steps * self.epochs
        bar = tqdm(range(self.steps), desc=label, unit="batch")
        for i in bar:
            lr = _learning_rate((epoch_in_phase - 1) * self.steps + i, total, self.lr, self.warmup)
            x, y, rows = self.batches()
            teacher = self.teacher[rows % len(self.teacher)]
            loss, active = self.step(tf.constant(x), tf.constant(y), tf.constant(teacher), tf.constant(lr, tf.float32))
            losses.append(float(loss))
            actives.append(float(active))
            bar.set_postfix(loss=f"{np.mean(losses[-50:]):.4f}", active=f"{np.mean(actives[-50:]):.2f}")
        return float(np.mean(losses)), float(np.mean(actives))


def _feature_batches(features: np.ndarray, sampler: BatchSampler):
    """Batches of cached trunk features; each photo is taken mirrored half of the time."""
    n = len(sampler.labels)

    def batches():
        rows = sampler.rows()
        mirrored = rows + n * sampler.rng.integers(0, 2, len(rows))
        return features[mirrored].astype(np.float32), sampler.labels[rows], rows

    return batches


def load_teacher(paths: list[str], count: int) -> np.ndarray:
    """Unit-length dlib encodings ``(count, 128)`` of the BFW photos, in dataset order (computed once, cached)."""
    from facerec.encoders.dlib_resnet import encode_collection

    teacher = encode_collection("bfw", list(paths[:count]))
    return (teacher / np.linalg.norm(teacher, axis=1, keepdims=True)).astype(np.float32)


def held_out_rows(bfw) -> np.ndarray:
    """Rows of ``bfw`` (an aligned BFW set) whose person is one of the 200 held-out people (``bfw_split``)."""
    from facerec.training.bfw_split import held_out_mask

    return np.flatnonzero(held_out_mask([bfw.identities[label] for label in bfw.labels], bfw.groups))


def keep_rows(bfw, keep: np.ndarray) -> None:
    """Keep only the rows of ``bfw`` where ``keep`` (boolean, one per row) is true: images, labels, paths, groups."""
    if keep.all():
        return
    bfw.images, bfw.labels = bfw.images[keep], bfw.labels[keep]
    bfw.paths = [p for p, k in zip(bfw.paths, keep) if k]
    bfw.groups = [g for g, k in zip(bfw.groups, keep) if k]
    bfw.detected = bfw.detected[keep]


class ValidatorPair:
    """Two validators called in turn; their figures merged into one log row."""

    def __init__(self, first, second):
        self.first, self.second = first, second

    def __call__(self, model) -> dict[str, float]:
        return {**self.first(model), **self.second(model)}


def _fresh_layers(missing: list[str]) -> set[str]:
    """Layers that start untrained: each missing kernel's conv, the batch norm after it, and the dense layer."""
    convs = {stem.removesuffix("_w") for stem in missing}
    norms = {name.replace("_conv2", "_bn2").replace("_1x1_conv", "_1x1_bn") for name in convs}
    return convs | norms | {"dense_layer"}


def _resume(args, model, log_path: Path, ckpt: Path) -> list[dict]:
    if not (args.resume and ckpt.exists() and log_path.exists()):
        return []
    model.load_weights(ckpt)
    log = [json.loads(line) for line in log_path.read_text().splitlines() if line.strip()]
    print(f"resumed after epoch {log[-1]['epoch']}")
    return log


def train(args: argparse.Namespace) -> dict:
    """Run both phases as configured by the command line; returns the last log row."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from facerec import datasets
    from facerec.models.nn4_small2 import build_top
    from facerec.models.weights import save_csv_weights

    t0 = time.time()
    run_dir = Path(args.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    bfw = datasets.load("bfw")
    keep = np.ones(len(bfw.labels), bool)
    if args.max_identities:
        keep &= bfw.labels < args.max_identities
    held = held_out_rows(bfw) if args.exclude_held_out else None
    if held is not None:
        keep[held] = False
        print(f"left out of training: the {len(held)} photos of the 200 held-out BFW people")
    keep_rows(bfw, keep)
    teacher = load_teacher(bfw.paths, len(bfw.labels)) if args.distill_weight or args.embed_weight else None
    model, missing = build_start_model(args.seed, args.init)
    print(f"started from {args.init or 'OpenFace'}'s CSVs; {len(missing)} tensors start random: {', '.join(missing)}")
    validator = DevValidator()
    if held is not None:
        from facerec.training.distill import HeldOutValidator

        validator = ValidatorPair(validator, HeldOutValidator(held))
    log_path, ckpt = run_dir / "log.jsonl", run_dir / "checkpoint.weights.h5"
    log = _resume(args, model, log_path, ckpt)
    if not log:
        log = [{"epoch": 0, "phase": "start", "loss": None, "active": None, **validator(model), "seconds": 0.0}]
        log_path.write_text(json.dumps(log[0]) + "\n")
        print(json.dumps(log[0]))
    done = log[-1]["epoch"]
    elapsed_before = log[-1]["seconds"]
    sampler = BatchSampler(bfw.images, bfw.labels, args.identities, args.photos, args.seed + 1000 * done)
    steps = args.steps_per_epoch or len(sampler)
    top, phases = None, []
    if done < args.top_epochs:
        top = build_top()
        copy_weights_by_name(model, top)
        features = trunk_features(model, bfw.images)
        fresh = _fresh_layers(missing)
        top_scales = [1.0 if v.path.split("/")[0] in fresh else args.pretrained_lr_scale
                      for v in top.trainable_variables]
        phases.append(_Phase("top", top, _feature_batches(features, sampler), args.top_epochs, steps,
                             args.top_lr, args.warmup, args.margin, top_scales, teacher, args.distill_weight,
                             args.embed_weight, _initial_projector(model, bfw.images, teacher, args.embed_weight)))

    def full_phase() -> _Phase:  # built when phase 1 is over, so its projector fits the model as phase 1 left it
        early = early_variables(model)
        scales = [args.early_lr_scale if id(v) in early else 1.0 for v in model.trainable_variables]
        return _Phase("full", model, sampler.batch_with_rows, args.full_epochs, steps, args.lr, args.warmup,
                      args.margin, scales, teacher, args.distill_weight, args.embed_weight,
                      _initial_projector(model, bfw.images, teacher, args.embed_weight))

    for epoch in range(done + 1, args.top_epochs + args.full_epochs + 1):
        if epoch > args.top_epochs and (not phases or phases[-1].name != "full"):
            phases.append(full_phase())
        phase = phases[0] if epoch <= args.top_epochs else phases[-1]
        in_phase = epoch if phase.name == "top" else epoch - args.top_epochs
        loss, active = phase.run_epoch(in_phase, f"epoch {epoch} ({phase.name})")
        if phase.name == "top":
            copy_weights_by_name(top, model)
        row = {"epoch": epoch, "phase": phase.name, "loss": loss, "active": active, **validator(model),
               "seconds": round(elapsed_before + time.time() - t0, 1)}
        append_log(log, row, log_path)
        model.save_weights(ckpt)
        plot_log(log, run_dir / "loss.png")
    aux = _aux_stats(model, bfw.images[:: max(1, len(bfw.images) // 2000)])
    save_csv_weights(model, args.out, aux_stats=aux)
    from facerec.training.calibrate import calibrate

    info = calibrate(Path(args.out), log_path)
    print(f"wrote {args.out} after {log[-1]['seconds']:.0f} s of training; threshold {info['threshold']}")
    return log[-1]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``facerec train``."""
    parser.add_argument("--top-epochs", type=int, default=12, help="epochs of phase 1 (top layers on cached features)")
    parser.add_argument("--full-epochs", type=int, default=4, help="epochs of phase 2 (whole network)")
    parser.add_argument("--steps-per-epoch", type=int, default=0, help="0: one pass over BFW per epoch")
    parser.add_argument("--identities", type=int, default=32, help="identities per batch (P)")
    parser.add_argument("--photos", type=int, default=4, help="photos per identity in a batch (K)")
    parser.add_argument("--top-lr", type=float, default=1e-3, help="peak learning rate of phase 1")
    parser.add_argument("--pretrained-lr-scale", type=float, default=0.2,
                        help="phase 1 learning-rate factor of the layers that start from OpenFace's values")
    parser.add_argument("--lr", type=float, default=1e-4, help="peak learning rate of phase 2")
    parser.add_argument("--early-lr-scale", type=float, default=0.1, help="learning-rate factor before inception_3c")
    parser.add_argument("--warmup", type=int, default=100, help="warm-up steps of each phase")
    parser.add_argument("--margin", type=float, default=0.2, help="triplet margin alpha")
    parser.add_argument("--distill-weight", type=float, default=0.0,
                        help="weight of relational distillation from dlib's encoder (0: off)")
    parser.add_argument("--embed-weight", type=float, default=0.0,
                        help="weight of direct distillation: 1 - cos to dlib's encoding of the same face (0: off)")
    parser.add_argument("--init", default=None,
                        help="start from this complete CSV set (e.g. weights/) instead of OpenFace's 221 tensors")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--run-dir", default=str(REPO_ROOT / "runs" / "train"))
    parser.add_argument("--out", default=str(WEIGHTS_DIR), help="folder for the trained 226-file CSV set")
    parser.add_argument("--max-identities", type=int, default=0, help="train on the first N identities only (tests)")
    parser.add_argument("--exclude-held-out", action="store_true",
                        help="leave BFW's 200 held-out people out of training and validate on them too "
                             "(the fair reference for the consistent recipe)")
    parser.add_argument("--resume", action="store_true", help="continue from the run folder's checkpoint")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="facerec train", description=__doc__.splitlines()[0])
    add_arguments(parser)
    train(parser.parse_args(argv))


if __name__ == "__main__":
    main()
