"""FaceEncoder: flip averaging, shapes, unit norm."""

from __future__ import annotations

import numpy as np
import pytest

from facerec.encoder import FaceEncoder
from facerec.exceptions import InvalidArgument
from facerec.models.nn4_small2 import build_nn4_small2
from facerec.models.weights import save_csv_weights


@pytest.fixture(scope="module")
def weights_dir(tmp_path_factory):
    import keras

    keras.utils.set_random_seed(3)
    folder = tmp_path_factory.mktemp("random_weights")
    save_csv_weights(build_nn4_small2(), folder)
    return folder


@pytest.fixture(scope="module")
def faces():
    return np.random.default_rng(0).integers(0, 256, (5, 96, 96, 3), dtype=np.uint8)


def test_flip_average_is_the_normalised_mean_of_face_and_mirror(weights_dir, faces):
    plain = FaceEncoder(weights_dir, flip_average=False)
    averaged = FaceEncoder(weights_dir).encode(faces)
    expected = plain.encode(faces) + plain.encode(faces[:, :, ::-1])
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    np.testing.assert_allclose(averaged, expected, atol=1e-5)


def test_flip_averaged_encoding_ignores_mirroring(weights_dir, faces):
    encoder = FaceEncoder(weights_dir)
    np.testing.assert_allclose(encoder.encode(faces), encoder.encode(faces[:, :, ::-1]), atol=1e-5)


def test_encodings_are_unit_rows_in_input_order(weights_dir, faces):
    encoder = FaceEncoder(weights_dir)
    all_at_once = encoder.encode(faces, batch_size=2)
    assert all_at_once.shape == (5, 128) and all_at_once.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(all_at_once, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(encoder.encode(faces[3]), all_at_once[3:4], atol=1e-5)
    assert encoder.encode(np.zeros((0, 96, 96, 3), np.uint8)).shape == (0, 128)


def test_wrong_shape_is_a_typed_error(weights_dir):
    with pytest.raises(InvalidArgument, match="96, 96, 3"):
        FaceEncoder(weights_dir).encode(np.zeros((2, 64, 64, 3), np.uint8))


def test_bfloat16_encodings_stay_close_to_float32(faces):
    """The bfloat16 network (trained weights) moves encodings far less than the 0.85 threshold's margin."""
    exact = FaceEncoder(flip_average=False).encode(faces)
    fast = FaceEncoder(flip_average=False, precision="bfloat16")
    approximate = fast.encode(faces)
    assert approximate.dtype == np.float32 and fast.precision == "bfloat16"
    np.testing.assert_allclose(np.linalg.norm(approximate, axis=1), 1.0, atol=1e-5)
    moved = np.linalg.norm(approximate - exact, axis=1)
    assert moved.max() < 0.05 and moved.max() > 0.0  # bfloat16 rounding really happened, and stayed small


def test_unknown_precision_is_a_typed_error(weights_dir):
    with pytest.raises(InvalidArgument, match="bfloat16"):
        FaceEncoder(weights_dir, precision="float16")
