"""The consistent-teacher recipe (facerec train --recipe consistent): its data, its losses, a tiny resumable run."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest
import tensorflow as tf

from facerec.paths import WEIGHTS_DIR
from facerec.training import distill, teacher_views


def _write_views(folder, rows, views=2, seed=0):
    rng = np.random.default_rng(seed)
    for k in range(views):
        faces = rng.integers(0, 256, size=(len(rows), 96, 96, 3), dtype=np.uint8)
        teacher = rng.normal(size=(len(rows), 128)).astype(np.float32)
        teacher_views._save_atomically(folder / f"k{k}" / "shard_000000.npz", rows=np.asarray(rows), faces=faces,
                                       teacher=teacher)


def test_a_view_set_keeps_the_complete_views_and_the_rows_asked_for(tmp_path):
    _write_views(tmp_path, np.arange(10), views=2)
    teacher_views._save_atomically(tmp_path / "k2" / "shard_000000.npz", rows=np.arange(4),
                                   faces=np.zeros((4, 96, 96, 3), np.uint8), teacher=np.ones((4, 128), np.float32))
    views = distill.ViewSet(tmp_path, views=3, rows=np.array([1, 3, 5]))
    assert views.views == 2  # view 2 is incomplete
    assert views.rows.tolist() == [1, 3, 5] and views.faces.shape == (2, 3, 96, 96, 3)
    assert np.allclose(np.linalg.norm(views.teacher, axis=2), 1.0)
    faces, teacher = views.take(np.array([0, 2, 2]), np.random.default_rng(0))
    assert faces.dtype == np.float32 and faces.max() <= 1.0 and teacher.shape == (3, 128)


def test_cosface_prefers_the_right_identity_by_the_margin():
    weights = tf.constant(np.eye(128, 3, dtype=np.float32))
    right = tf.constant(np.eye(3, 128, dtype=np.float32))
    easy = float(distill.cosface_loss(right, tf.constant([0, 1, 2]), weights, scale=4.0, margin=0.35))
    wrong = float(distill.cosface_loss(right, tf.constant([1, 2, 0]), weights, scale=4.0, margin=0.35))
    no_margin = float(distill.cosface_loss(right, tf.constant([0, 1, 2]), weights, scale=4.0, margin=0.0))
    assert no_margin < easy < wrong and easy == pytest.approx(np.log(1 + 2 * np.exp(-4 * 0.65)), rel=1e-4)


def test_utkface_photos_found_to_be_lfw_copies_are_left_out(tmp_path, monkeypatch):
    _write_views(tmp_path, np.arange(5), views=1)
    listings = []

    def photos(source):
        listings.append(source)
        return [tmp_path / f"face_{i}.jpg" for i in range(5)]

    monkeypatch.setattr(teacher_views, "source_photos", photos)
    monkeypatch.setattr("facerec.training.utkface_overlap.excluded_photos", lambda: {"face_1.jpg", "face_4.jpg"})
    utk = distill.without_lfw_copies(distill.ViewSet(tmp_path, views=1))
    assert utk.rows.tolist() == [0, 2, 3] and utk.faces.shape[1] == 3 and utk.teacher.shape[1] == 3
    assert listings == ["utkface"]  # the folder is listed once, not once a photo


@pytest.mark.skipif(not (WEIGHTS_DIR / "model.json").is_file(), reason="needs the committed weights")
def test_a_tiny_run_trains_saves_and_resumes(tmp_path, monkeypatch):
    labels = np.repeat(np.arange(4), 4).astype(np.int32)
    _write_views(tmp_path / "bfw", np.arange(16))
    _write_views(tmp_path / "utk", np.arange(6), seed=1)
    monkeypatch.setattr(distill, "bfw_training_rows", lambda: (np.arange(16), labels, np.arange(0)))
    monkeypatch.setattr(distill, "HeldOutValidator", lambda rows: lambda model: {"bfw_held_out_auc": 0.5})
    monkeypatch.setattr("facerec.training.train.DevValidator", lambda: lambda model: {"dev_accuracy": 0.5})
    monkeypatch.setattr("facerec.training.utkface_overlap.excluded_photos", lambda: set())
    monkeypatch.setattr(teacher_views, "source_photos", lambda source: [tmp_path / f"{i}.jpg" for i in range(6)])
    calibrated = []
    monkeypatch.setattr("facerec.training.calibrate.calibrate", lambda out, log: calibrated.append((out, log)) or
                        {"threshold": 0.9, "view1_accuracy": 0.5})
    parser = argparse.ArgumentParser()
    distill.add_arguments(parser)
    args = parser.parse_args(["--bfw-views", str(tmp_path / "bfw"), "--utkface-views", str(tmp_path / "utk"),
                              "--epochs", "1", "--steps-per-epoch", "2", "--identities", "2", "--photos", "2",
                              "--unlabeled", "2", "--cosface-weight", "0.1", "--run-dir", str(tmp_path / "run"),
                              "--warmup", "1"])
    distill.train(args)
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [row["epoch"] for row in log] == [0, 1]
    assert {"loss_triplet", "loss_embed", "loss_relational", "loss_cosface"} <= set(log[1])
    assert len(list((tmp_path / "run" / "weights").glob("*.csv"))) == 226
    assert calibrated == [(tmp_path / "run" / "weights", tmp_path / "run" / "log.jsonl")]  # model.json beside them
    args.epochs, args.resume, args.cosface_weight = 2, True, 0.0  # a switched-off head has no gradient
    distill.train(args)
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [row["epoch"] for row in log] == [0, 1, 2]
