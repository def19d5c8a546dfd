"""OpenFace nn4.small2.v1 ("FaceRecoModel") in Keras 3, channels-last.

The network maps a 96x96 RGB face (float32 in [0, 1], aligned by
:func:`facerec.align.align_face`) to a 128-d L2-normalised encoding.

Topology: the v1 layout that OpenFace's ``nn4.small2.v1.t7`` was trained with,
as ported by Keras-OpenFace (pool branches strided; "L2 pooling" where the
original has it).  Every layer that holds weights is named like its CSV files
(``conv1``, ``bn1``, ``inception_3a_1x1_conv``, ..., ``dense_layer``), so the
loader in :mod:`facerec.models.weights` can map files to layers by name.

Reference: Amos, Ludwiczuk, Satyanarayanan, "OpenFace: A general-purpose face
recognition library with mobile applications", CMU-CS-16-118, 2016.
"""

from __future__ import annotations

import keras
from keras import layers, ops

INPUT_SHAPE = (96, 96, 3)
EMBEDDING_DIM = 128
BN_EPSILON = 1e-5
N_PARAMS = 3_743_280


@keras.saving.register_keras_serializable(package="facerec")
class LocalResponseNorm(layers.Layer):
    """Cross-channel local response normalisation (Torch ``SpatialCrossMapLRN``).

    ``y = x / (k + alpha / size * sum_{window} x^2) ** beta`` over ``size``
    neighbouring channels, with OpenFace's size=5, alpha=1e-4, beta=0.75, k=1.
    It has no weights.
    """

    def __init__(self, size: int = 5, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def call(self, x):
        squared = ops.square(x)
        half = self.size // 2
        padded = ops.pad(squared, [[0, 0], [0, 0], [0, 0], [half, half]])
        channels = ops.shape(x)[-1]
        window_sum = sum(padded[..., i : i + channels] for i in range(self.size))
        return x / ops.power(self.k + self.alpha / self.size * window_sum, self.beta)

    def get_config(self) -> dict:
        return {**super().get_config(), "size": self.size, "alpha": self.alpha, "beta": self.beta, "k": self.k}


@keras.saving.register_keras_serializable(package="facerec")
class L2Normalize(layers.Layer):
    """Scale each row to unit Euclidean length (the encoding lies on the unit sphere)."""

    def call(self, x):
        return x / ops.sqrt(ops.maximum(ops.sum(ops.square(x), axis=-1, keepdims=True), 1e-12))


def _conv_bn(x, name: str, bn_name: str, filters: int, kernel: int, strides: int = 1, padding: int = 0):
    """Zero-pad, convolve, batch-normalise and ReLU (one Torch conv block)."""
    if padding:
        x = layers.ZeroPadding2D(padding)(x)
    x = layers.Conv2D(filters, kernel, strides=strides, name=name)(x)
    x = layers.BatchNormalization(axis=-1, epsilon=BN_EPSILON, name=bn_name)(x)
    return layers.Activation("relu")(x)


def _l2_pool(x, size: int = 3, strides: int = 3):
    """L2 pooling: sqrt of the sum of squares over each window (Torch ``SpatialLPPooling``)."""
    x = layers.Lambda(ops.square)(x)
    x = layers.AveragePooling2D(pool_size=size, strides=strides)(x)
    # max(., tiny) keeps the gradient finite where a whole window is zero (after ReLU)
    x = layers.Lambda(lambda t: ops.sqrt(ops.maximum(t * float(size * size), 1e-12)))(x)
    return x


def _branch(x, block: str, kind: str, reduce: int, filters: int, kernel: int, strides: int = 1):
    """A reduce-then-convolve tower: 1x1 conv to ``reduce`` channels, then ``kernel`` x ``kernel``."""
    prefix = f"inception_{block}_{kind}"
    x = _conv_bn(x, f"{prefix}_conv1", f"{prefix}_bn1", reduce, 1)
    return _conv_bn(x, f"{prefix}_conv2", f"{prefix}_bn2", filters, kernel, strides, padding=kernel // 2)


def _pool_branch(x, block: str, pool: str, filters: int | None, pad):
    """Pooling tower: max or L2 pooling, an optional 1x1 conv, then zero padding back to size."""
    if pool == "max":
        x = layers.MaxPooling2D(pool_size=3, strides=2)(x)
    else:
        x = _l2_pool(x)
    if filters:
        x = _conv_bn(x, f"inception_{block}_pool_conv", f"inception_{block}_pool_bn", filters, 1)
    return layers.ZeroPadding2D(pad)(x)


def _one_by_one(x, block: str, filters: int):
    return _conv_bn(x, f"inception_{block}_1x1_conv", f"inception_{block}_1x1_bn", filters, 1)


def _stem(x):
    x = _conv_bn(x, "conv1", "bn1", 64, 7, strides=2, padding=3)
    x = layers.ZeroPadding2D(1)(x)
    x = layers.MaxPooling2D(pool_size=3, strides=2)(x)
    x = LocalResponseNorm(name="lrn_1")(x)
    x = _conv_bn(x, "conv2", "bn2", 64, 1)
    x = _conv_bn(x, "conv3", "bn3", 192, 3, padding=1)
    x = LocalResponseNorm(name="lrn_2")(x)
    x = layers.ZeroPadding2D(1)(x)
    return layers.MaxPooling2D(pool_size=3, strides=2)(x)


def _block_3a(x):
    return layers.Concatenate(axis=-1, name="inception_3a")([
        _branch(x, "3a", "3x3", 96, 128, 3),
        _branch(x, "3a", "5x5", 16, 32, 5),
        _pool_branch(x, "3a", "max", 32, ((3, 4), (3, 4))),
        _one_by_one(x, "3a", 64),
    ])


def _block_3b(x):
    return layers.Concatenate(axis=-1, name="inception_3b")([
        _branch(x, "3b", "3x3", 96, 128, 3),
        _branch(x, "3b", "5x5", 32, 64, 5),
        _pool_branch(x, "3b", "l2", 64, 4),
        _one_by_one(x, "3b", 64),
    ])


def _block_3c(x):
    return layers.Concatenate(axis=-1, name="inception_3c")([
        _branch(x, "3c", "3x3", 128, 256, 3, strides=2),
        _branch(x, "3c", "5x5", 32, 64, 5, strides=2),
        _pool_branch(x, "3c", "max", None, ((0, 1), (0, 1))),
    ])


def _block_4a(x):
    return layers.Concatenate(axis=-1, name="inception_4a")([
        _branch(x, "4a", "3x3", 96, 192, 3),
        _branch(x, "4a", "5x5", 32, 64, 5),
        _pool_branch(x, "4a", "l2", 128, 2),
        _one_by_one(x, "4a", 256),
    ])


def _block_4e(x):
    return layers.Concatenate(axis=-1, name="inception_4e")([
        _branch(x, "4e", "3x3", 160, 256, 3, strides=2),
        _branch(x, "4e", "5x5", 64, 128, 5, strides=2),
        _pool_branch(x, "4e", "max", None, ((0, 1), (0, 1))),
    ])


def _block_5a(x):
    return layers.Concatenate(axis=-1, name="inception_5a")([
        _branch(x, "5a", "3x3", 96, 384, 3),
        _pool_branch(x, "5a", "l2", 96, 1),
        _one_by_one(x, "5a", 256),
    ])


def _block_5b(x):
    return layers.Concatenate(axis=-1, name="inception_5b")([
        _branch(x, "5b", "3x3", 96, 384, 3),
        _pool_branch(x, "5b", "max", 96, 1),
        _one_by_one(x, "5b", 256),
    ])


def _top(x):
    """inception_3c to the L2-normalised encoding."""
    for block in (_block_3c, _block_4a, _block_4e, _block_5a, _block_5b):
        x = block(x)
    x = layers.AveragePooling2D(pool_size=3, strides=1)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(EMBEDDING_DIM, name="dense_layer")(x)
    return L2Normalize(name="l2_normalize")(x)


def build_nn4_small2(input_shape: tuple[int, int, int] = INPUT_SHAPE, name: str = "FaceRecoModel") -> keras.Model:
    """Build the (untrained) nn4.small2.v1 network.

    Args:
        input_shape: ``(height, width, channels)``, channels-last. Only
            ``(96, 96, 3)`` gives the 3x3 map the final 3x3 average pool expects.
        name: Keras model name.

    Returns:
        A ``keras.Model`` from ``(batch, 96, 96, 3)`` float32 RGB in [0, 1] to
        ``(batch, 128)`` unit-length encodings; ``count_params() == 3743280``.
    """
    inputs = keras.Input(shape=input_shape, name="input_image")
    return keras.Model(inputs, _top(_block_3b(_block_3a(_stem(inputs)))), name=name)


def build_top(name: str = "FaceRecoModel_top") -> keras.Model:
    """The layers from inception_3c on, taking inception_3b's ``(12, 12, 320)`` output.

    Its weighted layers carry the same names as in the full model, so weights
    move between the two by name (used to train the top on cached features).
    """
    inputs = keras.Input(shape=(12, 12, 320), name="inception_3b_output")
    return keras.Model(inputs, _top(inputs), name=name)
