"""Train nn4.small2 on consistent teacher views: ``facerec train --recipe consistent``.

The data are the views of :mod:`facerec.training.teacher_views`: for every photo and view ``k``,
the student's 96x96 face and dlib's descriptor of that very augmented face. Each step takes

* ``--identities x --photos`` labelled BFW faces of the training people (BFW minus the 200
  held-out people of :mod:`facerec.training.bfw_split`), each in one of its views at random, and
* ``--unlabeled`` UTKFace faces (no identities; distillation only), also in a random view,

and minimises, on the student's unit encodings ``e``:

* FaceNet's semi-hard triplet loss on the labelled faces (margin ``--margin``);
* ``--embed-weight`` x direct distillation, ``1 - cos(P e, t)`` for the teacher's encoding ``t`` of
  the same view, through a learned affine projector ``P`` (dlib's encodings fill a narrow cone);
* ``--distill-weight`` x relational distillation over the whole batch (1 - the correlation of the
  two cosine-similarity matrices);
* ``--cosface-weight`` x CosFace on the training identities (Wang et al. 2018: softmax of
  ``s (cos(w_y, e) - m)`` against ``s cos(w_j, e)``; ``--cosface-scale`` s, ``--cosface-margin`` m; its
  class weights start random and learn ``--cosface-lr-scale`` times faster than the network).

Validation each epoch: LFW View 1 (development) and the 200 held-out BFW people (AUC and accuracy at
their best threshold, within-group pairs); ``pairs.txt`` is never read. Outputs in ``--run-dir``:
``log.jsonl``, ``checkpoint.weights.h5`` + ``heads.npz`` (projector and CosFace weights; resume with
``--resume``), ``loss.png``, and at the end the 226-file CSV set in ``--out`` (default
``<run-dir>/weights``, never ``weights/``: new weights are committed by hand, only when better) with
its ``model.json`` (operating points calibrated on View 1, as for the committed set), so that
``facerec evaluate lfw --weights <out>`` and every other command take it as it is.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from facerec.paths import DATASETS_DIR, REPO_ROOT, WEIGHTS_DIR


class ViewSet:
    """Faces and teacher encodings of views ``0 .. K-1`` of one source, in memory (uint8 faces)."""

    def __init__(self, folder: Path, views: int, rows: np.ndarray | None = None):
        from facerec.training.teacher_views import read_views

        faces, teacher, found = [], [], None
        for k in range(views):
            try:
                r, f, t = read_views(folder, k)
            except FileNotFoundError:
                if k == 0:
                    raise
                break
            if found is not None and not np.array_equal(r, found):
                break  # view k is not complete yet: train on the complete ones
            found = r
            faces.append(f)
            teacher.append(t / np.linalg.norm(t, axis=1, keepdims=True))
        keep = np.isin(found, rows) if rows is not None else np.ones(len(found), bool)
        self.rows = found[keep]
        self.faces = np.stack([f[keep] for f in faces])  # (K, n, 96, 96, 3)
        self.teacher = np.stack([t[keep] for t in teacher]).astype(np.float32)  # (K, n, 128)

    @property
    def views(self) -> int:
        return self.faces.shape[0]

    def take(self, index: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``(faces float32 in [0, 1], teacher)`` of rows ``index``, each in a random view."""
        k = rng.integers(0, self.views, len(index))
        return self.faces[k, index].astype(np.float32) / 255.0, self.teacher[k, index]


def bfw_training_rows() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(training rows, their labels 0..n_people-1, held-out rows)`` of ``datasets/bfw_aligned.h5``'s order."""
    from facerec import datasets
    from facerec.training.train import held_out_rows

    bfw = datasets.load("bfw")
    held = np.zeros(len(bfw.labels), bool)
    held[held_out_rows(bfw)] = True
    train_rows = np.flatnonzero(~held)
    _, labels = np.unique(bfw.labels[train_rows], return_inverse=True)
    return train_rows, labels.astype(np.int32), np.flatnonzero(held)


def cosface_loss(embeddings, labels, weights, scale: float, margin: float):
    """CosFace: cross-entropy of ``scale * (cos(w_j, e) - margin [j = y])`` over the identities."""
    import tensorflow as tf

    cosines = tf.matmul(embeddings, tf.math.l2_normalize(weights, axis=0))
    one_hot = tf.one_hot(labels, tf.shape(weights)[1])
    logits = scale * (cosines - margin * one_hot)
    return tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(one_hot, logits))


class HeldOutValidator:
    """The 200 held-out BFW people: AUC and best-threshold accuracy of within-group pairs (plain network)."""

    def __init__(self, held_rows: np.ndarray):
        from facerec import datasets
        from facerec.training.bfw_split import held_out_pairs

        bfw = datasets.load("bfw")
        self.faces = bfw.images[held_rows]
        self.pairs = held_out_pairs(bfw.labels[held_rows], np.asarray(bfw.groups)[held_rows])

    def __call__(self, model) -> dict[str, float]:
        from facerec.evaluate import accuracy_at, best_threshold, roc_auc, tar_at_far
        from facerec.training.train import predict_faces

        encodings = predict_faces(model, self.faces)
        first, second, same, _ = self.pairs
        distances = np.linalg.norm(encodings[first] - encodings[second], axis=1)
        return {"bfw_held_out_auc": roc_auc(distances, same),
                "bfw_held_out_accuracy": accuracy_at(distances, same, best_threshold(distances, same)),
                "bfw_held_out_tar_1e-3": tar_at_far(distances, same, 1e-3)}


def _make_step(model, optimizer, args, identities: int, projector_init):
    import tensorflow as tf

    from facerec.training.train import (
        early_variables,
        embedding_distillation_loss,
        projector_layer,
        similarity_correlation_loss,
        triplet_semihard_loss,
    )

    projector = projector_layer(projector_init)
    cosface = tf.Variable(np.random.default_rng(args.seed).normal(size=(128, identities)).astype(np.float32),
                          name="cosface_weights")
    early = early_variables(model)
    variables = model.trainable_variables + projector.trainable_variables + [cosface]
    scales = [args.early_lr_scale if id(v) in early else 1.0 for v in model.trainable_variables]
    scales += [1.0] * len(projector.trainable_variables) + [args.cosface_lr_scale]
    n_labeled = args.identities * args.photos

    @tf.function
    def step(x, y, teacher, lr):
        with tf.GradientTape() as tape:
            embeddings = model(x, training=True)
            labeled = embeddings[:n_labeled]
            triplet, active = triplet_semihard_loss(labeled, y, args.margin)
            parts = {"triplet": triplet}
            if args.embed_weight:
                projected = tf.math.l2_normalize(projector(embeddings), axis=1)
                parts["embed"] = args.embed_weight * embedding_distillation_loss(projected, teacher)
            if args.distill_weight:
                parts["relational"] = args.distill_weight * similarity_correlation_loss(embeddings, teacher)
            if args.cosface_weight:
                parts["cosface"] = args.cosface_weight * cosface_loss(labeled, y, cosface, args.cosface_scale,
                                                                      args.cosface_margin)
            loss = tf.add_n(list(parts.values()))
        grads = tape.gradient(loss, variables)  # None for a head whose loss is switched off
        optimizer.learning_rate.assign(lr)
        optimizer.apply_gradients([(g * s if s != 1.0 else g, v) for g, s, v in zip(grads, scales, variables)
                                   if g is not None])
        return loss, active, parts

    return step, projector, cosface


class Batches:
    """Seeded batches: ``P x K`` labelled BFW views, then ``U`` unlabelled UTKFace views."""

    def __init__(self, bfw: ViewSet, labels: np.ndarray, utk: ViewSet | None, args, seed: int):
        self.bfw, self.labels, self.utk = bfw, labels, utk
        self.p, self.k, self.u = args.identities, args.photos, args.unlabeled if utk is not None else 0
        self.rng = np.random.default_rng(seed)
        self.by_label = [np.flatnonzero(labels == label) for label in np.unique(labels)]

    def __call__(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        people = self.rng.choice(len(self.by_label), self.p, replace=False)
        index = np.concatenate([self.rng.choice(self.by_label[c], self.k, replace=False) for c in people])
        faces, teacher = self.bfw.take(index, self.rng)
        if self.u:
            more_faces, more_teacher = self.utk.take(self.rng.integers(0, len(self.utk.rows), self.u), self.rng)
            faces, teacher = np.concatenate([faces, more_faces]), np.concatenate([teacher, more_teacher])
        return faces, self.labels[index], teacher


def without_lfw_copies(utk: ViewSet) -> ViewSet:
    """``utk`` without the UTKFace photos that :mod:`facerec.training.utkface_overlap` found to be LFW copies."""
    from facerec.training.teacher_views import source_photos
    from facerec.training.utkface_overlap import excluded_photos

    photos, excluded = source_photos("utkface"), excluded_photos()  # once each: 23,708 files to list
    keep = np.array([photos[row].name not in excluded for row in utk.rows], bool)
    utk.rows, utk.faces, utk.teacher = utk.rows[keep], utk.faces[:, keep], utk.teacher[:, keep]
    return utk


def _load_data(args) -> tuple[ViewSet, np.ndarray, ViewSet | None, np.ndarray]:
    from facerec.training.teacher_views import MissingTrainingData

    train_rows, labels, held_rows = bfw_training_rows()
    bfw = ViewSet(Path(args.bfw_views), args.views, train_rows)
    if not np.array_equal(bfw.rows, train_rows):
        raise MissingTrainingData(f"{args.bfw_views} lacks views of {len(train_rows) - len(bfw.rows)} training "
                                  "photos; run python -m facerec.training.teacher_views bfw")
    utk = None
    if args.unlabeled:
        try:
            utk = ViewSet(Path(args.utkface_views), args.views)
        except FileNotFoundError as error:
            raise MissingTrainingData(f"{error}\n(or train without UTKFace: --unlabeled 0)") from error
        utk = without_lfw_copies(utk)
    print(f"training on {len(train_rows)} BFW photos of {labels.max() + 1} people x {bfw.views} views"
          + (f", {len(utk.rows)} UTKFace photos x {utk.views} views" if utk else ", no UTKFace")
          + f"; {len(held_rows)} photos of the held-out people for validation")
    return bfw, labels, utk, held_rows


def _save_heads(path: Path, projector, cosface) -> None:
    kernel, bias = projector.get_weights()
    tmp = path.with_name(f"{path.stem}.tmp.npz")
    np.savez(tmp, projector_kernel=kernel, projector_bias=bias, cosface=cosface.numpy())
    os.replace(tmp, path)


def train(args: argparse.Namespace) -> dict:
    """Run the recipe; returns the last log row."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    from tqdm import tqdm

    from facerec.models.weights import save_csv_weights
    from facerec.training.train import (
        DevValidator,
        _aux_stats,
        _learning_rate,
        append_log,
        build_start_model,
        fit_projector,
        plot_log,
        predict_faces,
    )

    t0 = time.time()
    run_dir = Path(args.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    bfw, labels, utk, held_rows = _load_data(args)
    model, _ = build_start_model(args.seed, args.init)
    log_path, ckpt, heads = run_dir / "log.jsonl", run_dir / "checkpoint.weights.h5", run_dir / "heads.npz"
    resumed = args.resume and ckpt.is_file() and heads.is_file() and log_path.is_file()
    if resumed:
        model.load_weights(ckpt)
    sample = np.arange(0, len(bfw.rows), 4)
    projector_init = fit_projector(predict_faces(model, bfw.faces[0, sample]), bfw.teacher[0, sample])
    optimizer = keras.optimizers.Adam(learning_rate=args.lr)
    step, projector, cosface = _make_step(model, optimizer, args, int(labels.max()) + 1, projector_init)
    validators = [DevValidator(), HeldOutValidator(held_rows)]

    def validate() -> dict:
        return {key: value for check in validators for key, value in check(model).items()}

    if resumed:
        with np.load(heads) as saved:
            projector.set_weights([saved["projector_kernel"], saved["projector_bias"]])
            cosface.assign(saved["cosface"])
        log = [json.loads(line) for line in log_path.read_text().splitlines() if line.strip()]
        print(f"resumed after epoch {log[-1]['epoch']}")
    else:
        log = [{"epoch": 0, "loss": None, "active": None, **validate(), "seconds": 0.0}]
        log_path.write_text(json.dumps(log[0]) + "\n")
        print(json.dumps(log[0]))
    done, elapsed_before = log[-1]["epoch"], log[-1]["seconds"]
    steps = args.steps_per_epoch or len(bfw.rows) // (args.identities * args.photos)
    import tensorflow as tf

    for epoch in range(done + 1, args.epochs + 1):
        batches = Batches(bfw, labels, utk, args, args.seed + 1000 * epoch)
        losses, actives, parts_sum = [], [], {}
        bar = tqdm(range(steps), desc=f"epoch {epoch}/{args.epochs}", unit="batch")
        for i in bar:
            lr = _learning_rate((epoch - 1) * steps + i, args.epochs * steps, args.lr, args.warmup)
            x, y, teacher = batches()
            loss, active, parts = step(tf.constant(x), tf.constant(y), tf.constant(teacher),
                                       tf.constant(lr, tf.float32))
            losses.append(float(loss))
            actives.append(float(active))
            for name, value in parts.items():
                parts_sum[name] = parts_sum.get(name, 0.0) + float(value) / steps
            bar.set_postfix(loss=f"{np.mean(losses[-50:]):.4f}", active=f"{np.mean(actives[-50:]):.2f}")
        row = {"epoch": epoch, "loss": float(np.mean(losses)), "active": float(np.mean(actives)),
               **{f"loss_{k}": round(v, 5) for k, v in parts_sum.items()}, **validate(),
               "seconds": round(elapsed_before + time.time() - t0, 1)}
        append_log(log, row, log_path)
        model.save_weights(ckpt)
        _save_heads(heads, projector, cosface)
        plot_log(log, run_dir / "loss.png")
    out = Path(args.out or run_dir / "weights")
    save_csv_weights(model, out, aux_stats=_aux_stats(model, bfw.faces[0, :: max(1, len(bfw.rows) // 2000)]))
    from facerec.training.calibrate import calibrate

    card = calibrate(out, log_path)  # model.json: operating points on View 1, so every command can use the set
    print(f"wrote {out} after {log[-1]['seconds']:.0f} s of training; all 3,200 View 1 pairs at its balanced "
          f"threshold {card['threshold']}: {card['view1_accuracy']:.4f} (compare it with weights/ before committing)")
    return log[-1]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The recipe's options (``facerec train --recipe consistent --help``)."""
    parser.add_argument("--bfw-views", default=str(DATASETS_DIR / "views" / "bfw_s0"))
    parser.add_argument("--utkface-views", default=str(DATASETS_DIR / "views" / "utkface_s0"))
    parser.add_argument("--views", type=int, default=2, help="use views k = 0 .. views - 1 (those present)")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--steps-per-epoch", type=int, default=0, help="0: one pass over the BFW training photos")
    parser.add_argument("--identities", type=int, default=24, help="labelled identities per batch (P)")
    parser.add_argument("--photos", type=int, default=4, help="photos per identity in a batch (K)")
    parser.add_argument("--unlabeled", type=int, default=32, help="UTKFace faces per batch (0: no UTKFace)")
    parser.add_argument("--lr", type=float, default=1e-4, help="peak learning rate")
    parser.add_argument("--early-lr-scale", type=float, default=0.3, help="learning-rate factor before inception_3c")
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--margin", type=float, default=0.2, help="triplet margin alpha")
    parser.add_argument("--embed-weight", type=float, default=2.0, help="direct distillation weight")
    parser.add_argument("--distill-weight", type=float, default=1.0, help="relational distillation weight")
    parser.add_argument("--cosface-weight", type=float, default=0.0, help="CosFace weight (0: off)")
    parser.add_argument("--cosface-scale", type=float, default=30.0)
    parser.add_argument("--cosface-margin", type=float, default=0.35)
    parser.add_argument("--cosface-lr-scale", type=float, default=100.0,
                        help="learning-rate factor of the CosFace class weights (they start random)")
    parser.add_argument("--init", default=str(WEIGHTS_DIR), help="CSV set to start from (default: weights/)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--run-dir", default=str(REPO_ROOT / "runs" / "consistent"))
    parser.add_argument("--out", default=None, help="where to write the CSV set (default: <run-dir>/weights)")
    parser.add_argument("--resume", action="store_true", help="continue from the run folder's checkpoint")
