"""Consistent teacher views: reproducible, both networks cut from the same augmented photo, resumable shards."""

from __future__ import annotations

import numpy as np
import pytest

from facerec.image import load_image
from facerec.paths import assets_dir
from facerec.training import teacher_views as tv

HAPPY = assets_dir() / "happy-house" / "images"
needs_photos = pytest.mark.skipif(not (HAPPY / "younes.jpg").is_file(), reason="needs the Happy House photos")
PHOTOS = ("younes", "kian", "felix")


def _photo(name: str = "younes"):
    image = load_image(HAPPY / f"{name}.jpg")
    box, landmarks, _ = tv.locate(image)
    return image, box, landmarks


@needs_photos
def test_a_view_is_reproducible_and_view_zero_is_the_photo():
    image, box, landmarks = _photo()
    first = tv.make_view(image, box, landmarks, photo=7, k=3, seed=0)
    again = tv.make_view(image, box, landmarks, photo=7, k=3, seed=0)
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    other = tv.make_view(image, box, landmarks, photo=7, k=4, seed=0)
    assert not np.array_equal(tv.student_face(*first), tv.student_face(*other))
    plain = tv.make_view(image, box, landmarks, photo=7, k=0, seed=0)
    assert plain[0] is image and np.array_equal(plain[2], np.round(landmarks))


@needs_photos
def test_a_flipped_view_finds_the_mirrored_landmarks():
    image, box, landmarks = _photo()
    flipped, new_box, new_landmarks = tv._flipped(image, box)
    width = image.shape[1]
    mirrored = np.stack([width - landmarks[:, 0], landmarks[:, 1]], axis=1)[[2, 3, 0, 1, 4]]  # eyes swap sides
    assert np.abs(new_landmarks - mirrored).max() <= 4.0
    assert np.array_equal(flipped[:, 0], image[:, -1])


@needs_photos
def test_student_and_teacher_see_the_same_view():
    """The teacher's descriptor of a view is dlib's descriptor of that view's photo and landmarks: the
    student's plain face is the dataset alignment, and views stay the same person to dlib."""
    from facerec.encoders import dlib_resnet

    image, box, landmarks = _photo()
    plain = tv.teacher_encoding(*tv.make_view(image, box, landmarks, 0, 0, 0))
    assert np.allclose(plain, dlib_resnet.encode_photo(HAPPY / "younes.jpg", "bfw"), atol=1e-6)
    views = [tv.teacher_encoding(*tv.make_view(image, box, landmarks, 0, k, 0)) for k in range(1, 4)]
    stranger = tv.teacher_encoding(*tv.make_view(*_photo("kian"), 0, 0, 0))
    assert max(np.linalg.norm(v - plain) for v in views) < np.linalg.norm(stranger - plain)
    face = tv.student_face(*tv.make_view(image, box, landmarks, 0, 2, 0))
    assert face.shape == (96, 96, 3) and face.dtype == np.uint8


@needs_photos
def test_views_are_written_in_shards_and_a_second_run_continues(tmp_path, monkeypatch):
    monkeypatch.setattr(tv, "SHARD", 2)
    monkeypatch.setattr(tv, "_photos", lambda source: tuple(HAPPY / f"{name}.jpg" for name in PHOTOS))
    folder = tv.build_views("bfw", views=2, out=tmp_path, workers=1, progress=False)
    shards = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.npz"))
    assert shards == ["k0/shard_000000.npz", "k0/shard_000002.npz", "k1/shard_000000.npz", "k1/shard_000002.npz",
                      "located/shard_000000.npz", "located/shard_000002.npz"]
    rows, faces, teacher = tv.read_views(folder, 1)
    assert rows.tolist() == [0, 1, 2] and faces.shape == (3, 96, 96, 3) and teacher.shape == (3, 128)
    kept = folder / "k1" / "shard_000000.npz"
    before = kept.stat().st_mtime_ns
    (folder / "k1" / "shard_000002.npz").unlink()
    tv.build_views("bfw", views=2, out=tmp_path, workers=1, progress=False)
    assert kept.stat().st_mtime_ns == before  # not recomputed
    again = tv.read_views(folder, 1)
    assert np.array_equal(again[1], faces) and np.array_equal(again[2], teacher)  # the same views, recomputed
    shift = tv.view_shift(folder, 1)
    plain = tv.read_views(folder, 0)[2]
    assert shift["photos"] == 3 and shift["max"] == pytest.approx(np.linalg.norm(teacher - plain, axis=1).max())
    with pytest.raises(tv.MissingTrainingData, match="run python -m facerec.training.teacher_views"):
        tv.read_views(folder, 5)


def test_missing_utkface_says_how_to_get_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(tv.UTKFACE_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(tv.MissingTrainingData, match="b06607bf2477c8295b33facb5dea7aada27cac01") as error:
        tv.source_photos("utkface")
    assert isinstance(error.value, ValueError) and isinstance(error.value, FileNotFoundError)
    with pytest.raises(SystemExit) as stop:
        tv.main(["utkface", "--out", str(tmp_path)])
    assert stop.value.code == 2 and "non-commercial" in capsys.readouterr().err
    with pytest.raises(ValueError, match="unknown training source"):
        tv.source_photos("casia")
