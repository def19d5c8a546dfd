"""Detectors: hog, cnn and auto (HOG, then the CNN only when HOG finds nothing)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from helpers_issue4 import photo

import facerec
from facerec.align import DEFAULT_DETECTOR, detect_faces
from facerec.image import load_image


@pytest.fixture(scope="module")
def turned_face(assets) -> np.ndarray:
    """An LFW face rotated by 60 degrees on a 400x400 canvas: HOG's frontal templates miss it."""
    face = load_image(assets / "lfw" / "Colin_Powell" / "Colin_Powell_0001.jpg")
    canvas = cv2.copyMakeBorder(face, 75, 75, 75, 75, cv2.BORDER_REPLICATE)
    matrix = cv2.getRotationMatrix2D((200, 200), 60, 1.0)
    return cv2.warpAffine(canvas, matrix, (400, 400), borderMode=cv2.BORDER_REPLICATE)


def test_auto_finds_a_turned_face_that_hog_misses(turned_face):
    assert detect_faces(turned_face, detector="hog") == []
    [cnn] = detect_faces(turned_face, detector="cnn")
    [auto] = detect_faces(turned_face, detector="auto")
    assert auto.box == cnn.box and auto.landmarks.shape == (5, 2)
    left, top, right, bottom = auto.box
    assert 100 < (left + right) / 2 < 300 and 100 < (top + bottom) / 2 < 300  # the face, near the middle


def test_auto_is_hog_when_hog_finds_the_face():
    rgb = load_image(photo("younes"))
    assert [f.box for f in detect_faces(rgb, detector="auto")] == [f.box for f in detect_faces(rgb, detector="hog")]


def test_the_happy_house_is_whole_with_auto_detection(happy_house):
    assert DEFAULT_DETECTOR == "auto"
    danielle = load_image(happy_house / "danielle.png")
    assert detect_faces(danielle, detector="hog") == []  # HOG misses it at every upsampling
    for path in sorted(happy_house.iterdir()):
        assert facerec.find_faces(path)[1], path.name


def test_the_api_and_command_line_take_a_detector(turned_face, tmp_path, capsys):
    from facerec.cli import main

    with pytest.raises(facerec.FaceNotFound):
        facerec.find_faces(turned_face, detector="hog")
    assert len(facerec.find_faces(turned_face)[1]) == 1
    path = tmp_path / "turned.png"
    cv2.imwrite(str(path), cv2.cvtColor(turned_face, cv2.COLOR_RGB2BGR))
    db = str(tmp_path / "faces.sqlite")
    assert main(["--db", db, "enroll", "colin", str(path), "--detector", "hog"]) == 2
    assert main(["--db", db, "enroll", "colin", str(path)]) == 0
    assert "colin" in capsys.readouterr().out
