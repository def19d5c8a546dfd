"""The UTKFace-LFW overlap check: nearest LFW face of each UTKFace face, likely copies left out of training."""

from __future__ import annotations

import json

import numpy as np

from facerec.training import teacher_views, utkface_overlap


def test_nearest_finds_each_querys_closest_gallery_row_in_chunks():
    rng = np.random.default_rng(0)
    gallery = rng.normal(size=(50, 8)).astype(np.float32)
    queries = rng.normal(size=(7, 8)).astype(np.float32)
    index, distance = utkface_overlap.nearest(queries, gallery, chunk=3)
    brute = np.linalg.norm(queries[:, None] - gallery[None], axis=2)
    assert index.tolist() == brute.argmin(axis=1).tolist()
    assert np.allclose(distance, brute.min(axis=1), atol=1e-5)


def test_the_check_reports_near_copies_and_training_leaves_them_out(tmp_path, monkeypatch):
    rng = np.random.default_rng(1)
    lfw = rng.normal(size=(6, 128)).astype(np.float32)
    lfw /= np.linalg.norm(lfw, axis=1, keepdims=True)
    utk = rng.normal(size=(4, 128)).astype(np.float32)
    utk /= np.linalg.norm(utk, axis=1, keepdims=True)
    utk[2] = lfw[5] + 0.01  # a copy of LFW photo 5
    teacher_views._save_atomically(tmp_path / "k0" / "shard_000000.npz", rows=np.arange(4),
                                   faces=np.zeros((4, 96, 96, 3), np.uint8), teacher=utk)
    listings = []

    def photos(source):
        listings.append(source)
        return [tmp_path / f"utk_{i}.jpg" for i in range(4)]

    monkeypatch.setattr(teacher_views, "source_photos", photos)
    monkeypatch.setattr("facerec.datasets.list_photos", lambda name: [(f"p/{i}.jpg", "p", 0) for i in range(6)])
    monkeypatch.setattr("facerec.encoders.dlib_resnet.encode_collection", lambda name, paths: lfw)
    monkeypatch.setattr(utkface_overlap, "same_photo_distances", lambda: np.array([0.05, 0.1]))
    report = utkface_overlap.check(tmp_path)
    assert listings == ["utkface"]  # listed once, not once a photo
    assert [(c["utkface"], c["lfw"]) for c in report["likely_copies"]] == [("utk_2.jpg", "p/5.jpg")]
    assert report["utkface_faces"] == 4 and report["lfw_faces"] == 6 and report["within"]["0.25"] == 1
    result = tmp_path / "overlap.json"
    result.write_text(json.dumps(report))
    assert utkface_overlap.excluded_photos(result) == {"utk_2.jpg"}
    assert utkface_overlap.excluded_photos(tmp_path / "absent.json") == set()
