"""nn4 in TensorFlow: the course's Keras model, batch norms folded; the comparison and the fallback runtime.

:func:`inference_network` makes the faster copy of a loaded Keras model
(:func:`facerec.models.nn4_small2.build_nn4_small2`); :func:`load` builds one from
a ``WeightSource`` and wraps it in a ``tf.function``. This is the only runtime
that imports TensorFlow (about 4 s); choose it with ``runtime="tensorflow"``.
"""

from __future__ import annotations

import functools

import numpy as np

from facerec.exceptions import InvalidArgument
from facerec.runtimes import check_precision


def keras_model(weights):
    """A Keras nn4.small2 holding ``weights`` (a ``WeightSource``: CSV folder or packed)."""
    from facerec.models.nn4_small2 import build_nn4_small2
    from facerec.models.weights import assign_arrays, load_csv_weights

    model = build_nn4_small2()
    if weights.folder:
        load_csv_weights(model, weights.folder)
    else:
        assign_arrays(model, weights.arrays())
    return model


def _fast_lrn(x, size: int, alpha: float, k: float):
    """Inference form of :class:`~facerec.models.nn4_small2.LocalResponseNorm` with ``beta = 0.75``.

    ``y ** -0.75`` is computed as ``rsqrt(y) * sqrt(rsqrt(y))``: the same value,
    without TensorFlow's slow general ``Pow`` (a sixth of the network's time).
    """
    from keras import ops

    half, channels = size // 2, x.shape[-1]
    padded = ops.pad(ops.square(x), [[0, 0], [0, 0], [0, 0], [half, half]])
    window_sum = sum(padded[..., i:i + channels] for i in range(size))
    inverse_root = ops.rsqrt(k + alpha / size * window_sum)
    return x * inverse_root * ops.sqrt(inverse_root)


def _folded_conv(conv, bn, dtype: str = "float32"):
    """A copy of the Conv2D ``conv`` whose kernel and bias include the inference-time batch norm ``bn`` after it."""
    import keras

    gamma, beta, mean, variance = (keras.ops.convert_to_numpy(w).astype(np.float64)
                                   for w in (bn.gamma, bn.beta, bn.moving_mean, bn.moving_variance))
    kernel, bias = (keras.ops.convert_to_numpy(w).astype(np.float64) for w in (conv.kernel, conv.bias))
    scale = gamma / np.sqrt(variance + bn.epsilon)
    folded = keras.layers.Conv2D.from_config({**conv.get_config(), "dtype": dtype})
    folded.build(conv.input.shape)
    folded.set_weights([(kernel * scale).astype(np.float32), ((bias - mean) * scale + beta).astype(np.float32)])
    return folded


def _with_policy(layer, dtype: str):
    """``layer`` itself for float32; for bfloat16 a copy computing in bfloat16 (weights kept in float32)."""
    import keras

    if dtype == "float32" or isinstance(layer, keras.layers.InputLayer):
        return layer
    if isinstance(layer, keras.layers.Lambda):
        return keras.layers.Lambda(layer.function, name=layer.name, dtype=dtype)
    copy = layer.__class__.from_config({**layer.get_config(), "dtype": dtype})
    if layer.weights:
        copy.build(layer.input.shape)
        copy.set_weights(layer.get_weights())
    return copy


def inference_network(model, precision: str = "float32"):
    """A copy of nn4.small2 for fast inference: same encodings (within about 1e-6), about 1.5x faster on CPU.

    Every batch norm is folded into the convolution before it, and the two local
    response normalisations avoid ``Pow`` (:func:`_fast_lrn`). Other layers are
    shared with ``model``. Measured in ``benchmarks/run.py`` (BENCHMARKS.md).

    Args:
        model: a ``keras.Model`` built by :func:`facerec.models.nn4_small2.build_nn4_small2`,
            weights loaded.
        precision: ``"float32"`` (default), or ``"bfloat16"``: the convolutions,
            pooling and concatenations compute in bfloat16 (Keras ``mixed_bfloat16``
            policy; weights stay float32), while the local response normalisations,
            the dense layer and the final normalisation stay float32. On CPUs with
            AVX-512 BF16 this is faster; encodings move by about 0.006 in L2
            distance (see BENCHMARKS.md and MODEL_CARD.md).

    Returns:
        A new ``keras.Model`` with the same input and output shapes (float32 output).
    """
    import keras

    from facerec.models.nn4_small2 import L2Normalize, LocalResponseNorm

    check_precision(precision)
    body = "mixed_bfloat16" if precision == "bfloat16" else "float32"
    producers = {id(layer.output): layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)}
    folds = {}
    for layer in model.layers:
        conv = producers.get(id(layer.input)) if isinstance(layer, keras.layers.BatchNormalization) else None
        if conv is not None and conv.use_bias and layer.center and layer.scale:
            folds[conv.name] = _folded_conv(conv, layer, body)
            folds[layer.name] = keras.layers.Lambda(lambda x: x, name=layer.name, dtype=body)  # folded away

    def clone(layer):
        if isinstance(layer, LocalResponseNorm) and layer.beta == 0.75:
            lrn = functools.partial(_fast_lrn, size=layer.size, alpha=layer.alpha, k=layer.k)
            return keras.layers.Lambda(lrn, name=layer.name)  # float32: k + tiny sum needs the mantissa
        if isinstance(layer, (keras.layers.Dense, L2Normalize)):
            return layer
        return folds[layer.name] if layer.name in folds else _with_policy(layer, body)

    return keras.models.clone_model(model, clone_function=clone)


class TensorFlowNetwork:
    """:func:`inference_network` of a Keras model in a ``tf.function``; call it on ``(N, 96, 96, 3)`` float32."""

    runtime = "tensorflow"

    def __init__(self, model, precision: str):
        import tensorflow as tf

        self.model, self.precision = model, precision
        self.inference = network = inference_network(model, precision)
        spec = tf.TensorSpec([None, 96, 96, 3], tf.float32)
        self._forward = tf.function(lambda x: tf.cast(network(x, training=False), tf.float32), input_signature=[spec])

    def __call__(self, inputs: np.ndarray) -> np.ndarray:
        return self._forward(np.ascontiguousarray(inputs, dtype=np.float32)).numpy()


def load(weights, precision: str) -> TensorFlowNetwork:
    """nn4 with ``weights`` (a ``WeightSource``) in TensorFlow, ``precision`` ``"float32"`` or ``"bfloat16"``."""
    if precision == "int8":
        raise InvalidArgument("the tensorflow runtime has no int8 model; use runtime='openvino' for int8")
    return TensorFlowNetwork(keras_model(weights), precision)
