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


def test_pixel_correlation_sees_a_blurred_copy_as_the_same_picture():
    import cv2

    rng = np.random.default_rng(2)
    face = cv2.GaussianBlur(rng.integers(0, 256, (96, 96, 3), dtype=np.uint8), (0, 0), 3)
    other = cv2.GaussianBlur(rng.integers(0, 256, (96, 96, 3), dtype=np.uint8), (0, 0), 3)
    blurred = cv2.GaussianBlur(face, (0, 0), 2)
    assert utkface_overlap.pixel_correlation(face, blurred) > utkface_overlap.COPY_CORRELATION
    assert utkface_overlap.pixel_correlation(face, other) < 0.5


def _unit(rows):
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def test_the_check_reports_near_copies_and_training_leaves_them_out(tmp_path, monkeypatch):
    import types

    import cv2

    rng = np.random.default_rng(1)
    lfw = _unit(rng.normal(size=(6, 128)))
    lfw_faces = np.stack([cv2.GaussianBlur(rng.integers(0, 256, (96, 96, 3), dtype=np.uint8), (0, 0), 3)
                          for _ in range(6)])  # pictures with a face's smoothness, not pixel noise
    utk = _unit(rng.normal(size=(4, 128)))
    utk_faces = rng.integers(0, 256, (4, 96, 96, 3), dtype=np.uint8)
    utk[2] = _unit(lfw[5:6] + 0.01)[0]  # a close copy of LFW photo 5 by dlib
    direction = _unit(rng.normal(size=(1, 128)))[0]
    utk[3] = lfw[1] + 0.3 * direction  # 0.3 from LFW photo 1, and a blurred copy of its picture
    utk_faces[3] = cv2.GaussianBlur(lfw_faces[1], (0, 0), 1.5)
    utk[0] = lfw[0] + 0.3 * direction  # 0.3 from LFW photo 0, another picture: kept
    teacher_views._save_atomically(tmp_path / "k0" / "shard_000000.npz", rows=np.arange(4), faces=utk_faces,
                                   teacher=utk)
    listings = []

    def photos(source):
        listings.append(source)
        return [tmp_path / f"utk_{i}.jpg" for i in range(4)]

    paths = [f"p/{i}.jpg" for i in range(6)]
    aligned = types.SimpleNamespace(images=lfw_faces, index_of=lambda: {p: i for i, p in enumerate(paths)})
    monkeypatch.setattr(teacher_views, "source_photos", photos)
    monkeypatch.setattr("facerec.datasets.list_photos", lambda name: [(p, "p", 0) for p in paths])
    monkeypatch.setattr("facerec.datasets.load", lambda name: aligned)
    monkeypatch.setattr("facerec.encoders.dlib_resnet.encode_collection", lambda name, paths: lfw)
    monkeypatch.setattr(utkface_overlap, "same_photo_distances", lambda: np.array([0.05, 0.1]))
    report = utkface_overlap.check(tmp_path)
    assert listings == ["utkface"]  # listed once, not once a photo
    assert [(c["utkface"], c["lfw"]) for c in report["likely_copies"]] == [("utk_2.jpg", "p/5.jpg"),
                                                                          ("utk_3.jpg", "p/1.jpg")]
    assert {c["utkface"] for c in report["pairs_to_look_at"]} == {"utk_0.jpg", "utk_2.jpg", "utk_3.jpg"}
    assert report["utkface_faces"] == 4 and report["lfw_faces"] == 6 and report["within"]["0.25"] == 1
    result = tmp_path / "overlap.json"
    result.write_text(json.dumps(report))
    assert utkface_overlap.excluded_photos(result) == {"utk_2.jpg", "utk_3.jpg"}
    assert utkface_overlap.excluded_photos(tmp_path / "absent.json") == set()
