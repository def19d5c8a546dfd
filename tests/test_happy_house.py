"""The course's door with the trained weights and the model card's threshold."""

from __future__ import annotations

import numpy as np
import pytest

from course.photos import find_and_align
from facerec.encoders.nn4 import default_threshold, get_encoder

RESIDENTS = ["andrew", "arnaud", "benoit", "bertrand", "dan", "danielle", "felix", "kevin", "kian",
             "sebastiano", "tian", "younes"]


@pytest.fixture(scope="module")
def door(happy_house, trained_weights):
    encoder = get_encoder(trained_weights)

    def encode(name: str) -> np.ndarray:
        path = next(happy_house.glob(f"{name}.*"))
        return encoder.encode(find_and_align(path)[0])[0]

    database = {name: encode(name) for name in RESIDENTS}
    cameras = {i: encode(f"camera_{i}") for i in range(6)}
    return database, cameras, default_threshold(trained_weights)


def _closest(database, encoding):
    distances = {name: float(np.linalg.norm(enc - encoding)) for name, enc in database.items()}
    name = min(distances, key=distances.get)
    return name, distances[name], distances


def test_camera_0_is_younes_and_gets_in(door):
    database, cameras, threshold = door
    name, distance, _ = _closest(database, cameras[0])
    assert name == "younes"
    assert distance <= threshold


def test_camera_1_is_closest_to_bertrand(door):
    database, cameras, _ = door
    assert _closest(database, cameras[1])[0] == "bertrand"


def test_camera_2_benoit_is_not_let_in_as_kian(door):
    database, cameras, threshold = door
    assert np.linalg.norm(database["kian"] - cameras[2]) > threshold
