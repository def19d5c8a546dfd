"""FaceRecoModel architecture: layer names, parameter count, output shape and norm."""

from __future__ import annotations

import numpy as np
import pytest

from facerec.models.nn4_small2 import N_PARAMS, build_nn4_small2, build_top
from facerec.models.weights import expected_files
from inception_blocks import faceRecoModel


@pytest.fixture(scope="module")
def model():
    return faceRecoModel(input_shape=(96, 96, 3))


def test_parameter_count_matches_the_course(model):
    assert model.count_params() == N_PARAMS == 3_743_280


def test_output_is_batch_of_unit_128d_encodings(model):
    x = np.random.default_rng(0).random((3, 96, 96, 3), dtype=np.float32)
    y = model(x, training=False).numpy()
    assert y.shape == (3, 128)
    np.testing.assert_allclose(np.linalg.norm(y, axis=1), 1.0, atol=1e-5)


def test_channels_last_input(model):
    assert model.input_shape == (None, 96, 96, 3)


def test_layer_names_cover_the_226_file_layout(model):
    stems = expected_files(model)
    assert len(stems) == 224  # + 2 auxiliary statistics = 226 files
    for name in ("conv1_w", "bn1_m", "inception_3a_1x1_conv_w", "inception_5b_pool_bn_v", "dense_w", "dense_b"):
        assert name in stems
    assert stems["dense_w"] == (128, 736)
    assert stems["inception_5a_3x3_conv2_w"] == (384, 96, 3, 3)  # Torch order [out, in, kh, kw]
    assert stems["inception_3c_3x3_conv2_w"] == (256, 128, 3, 3)


def test_top_model_shares_layer_names_with_full_model(model):
    top = build_top()
    full_names = {layer.name for layer in model.layers if layer.weights}
    top_names = {layer.name for layer in top.layers if layer.weights}
    assert top_names < full_names
    assert "inception_3c_3x3_conv2" in top_names and "conv1" not in top_names


def test_l2_pooling_gradient_is_finite_on_zero_windows():
    import tensorflow as tf

    model = build_nn4_small2()
    x = tf.zeros((2, 96, 96, 3))
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(model(x, training=True))
    grads = tape.gradient(y, model.trainable_variables)
    assert all(np.all(np.isfinite(g.numpy())) for g in grads if g is not None)
