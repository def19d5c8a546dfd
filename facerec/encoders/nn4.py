"""The ``nn4`` encoder: this project's FaceRecoModel (OpenFace nn4.small2), 96x96 faces to 128-d encodings.

:class:`FaceEncoder` owns one model with its weights; :func:`get_encoder`
returns a shared instance per weights folder, so the CSVs are read once. Its
model card is ``model.json`` beside the weights (:func:`model_info`): the
thresholds of its operating points (:mod:`facerec.operating_points`).
The course imports these names through :mod:`facerec.encoder`.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path

import numpy as np

from facerec.exceptions import InvalidArgument, WeightsError
from facerec.paths import WEIGHTS_DIR

BATCH_SIZE = 64


def default_weights_dir() -> Path:
    """``$FACEREC_WEIGHTS`` if set, else the repository's trained ``weights/`` folder."""
    return Path(os.environ.get("FACEREC_WEIGHTS", WEIGHTS_DIR))


def model_info(weights_dir: str | os.PathLike | None = None) -> dict:
    """The ``model.json`` beside the weights: verification threshold and its provenance.

    Keys: ``threshold`` (L2 distance; accept a pair when distance <= threshold),
    ``threshold_source`` (how it was chosen), and training facts.
    """
    path = Path(weights_dir or default_weights_dir()) / "model.json"
    if not path.is_file():
        raise WeightsError(f"{path} is missing; it holds the verification threshold of these weights")
    try:
        info = json.loads(path.read_text())
        float(info["threshold"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise WeightsError(f"{path} is not a valid model card ({type(error).__name__}: {error}); it must be JSON "
                           "with a numeric \"threshold\"; restore it with its weights") from error
    return info


def default_threshold(weights_dir: str | os.PathLike | None = None) -> float:
    """The model card's verification threshold (L2 distance) for the weights in use."""
    return float(model_info(weights_dir)["threshold"])


def faces_to_input(faces: np.ndarray) -> np.ndarray:
    """Aligned faces ``(N, 96, 96, 3)`` uint8 (or float in [0, 1]) to float32 network input."""
    faces = np.asarray(faces)
    if faces.ndim == 3:
        faces = faces[None]
    if faces.ndim != 4 or faces.shape[1:] != (96, 96, 3):
        raise InvalidArgument(f"expected aligned faces of shape (N, 96, 96, 3), got {faces.shape}; "
                              "align them with facerec.align first")
    if faces.dtype == np.uint8:
        return faces.astype(np.float32) / np.float32(255.0)
    return faces.astype(np.float32, copy=False)


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


PRECISIONS = ("float32", "bfloat16")


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

    if precision not in PRECISIONS:
        raise InvalidArgument(f"precision must be one of {PRECISIONS}, got {precision!r}")
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


class FaceEncoder:
    """The ``nn4`` encoder: nn4.small2 with loaded weights, encoding aligned 96x96 RGB faces.

    ``model`` is the network as loaded (its weights define :attr:`fingerprint`);
    encoding runs :func:`inference_network`'s faster copy of it, made when the
    encoder is built (change ``model``'s weights and build a new encoder).

    By default each face is encoded together with its mirror image and the two
    encodings are averaged and renormalised: on LFW View 1 (development pairs)
    this raised accuracy from 92.9 % to 93.6 % and the AUC from 0.982 to 0.985,
    for twice the computation. The model card's threshold is calibrated for it.

    Args:
        weights_dir: folder of the 226 per-layer CSVs (default: :func:`default_weights_dir`).
        flip_average: average each face's encoding with its mirror image's (default True).
        precision: ``"float32"`` (default) or ``"bfloat16"`` arithmetic inside the
            network (see :func:`inference_network`); the threshold was calibrated in float32.
    """

    name = "nn4"
    aligned_size = 96

    def __init__(self, weights_dir: str | os.PathLike | None = None, flip_average: bool = True,
                 precision: str = "float32"):
        import tensorflow as tf

        from facerec.models.nn4_small2 import build_nn4_small2
        from facerec.models.weights import load_csv_weights, weights_fingerprint

        self.weights_dir = Path(weights_dir) if weights_dir else default_weights_dir()
        if not self.weights_dir.is_dir():
            raise WeightsError(f"weights folder {self.weights_dir} does not exist; "
                               "clone the repository with its weights/ or set FACEREC_WEIGHTS")
        self.model = build_nn4_small2()
        load_csv_weights(self.model, self.weights_dir)
        self.fingerprint = weights_fingerprint(self.model)
        self._network = inference_network(self.model, precision)
        self.flip_average, self.precision = flip_average, precision
        self._card: dict | None = None
        spec = tf.TensorSpec([None, 96, 96, 3], tf.float32)
        self._forward = tf.function(self._flip_averaged if flip_average else self._plain, input_signature=[spec])

    def _plain(self, x):
        import tensorflow as tf

        return tf.cast(self._network(x, training=False), tf.float32)

    def _flip_averaged(self, x):
        import tensorflow as tf

        both = tf.cast(self._network(tf.concat([x, tf.reverse(x, axis=[2])], axis=0), training=False), tf.float32)
        mean = both[: tf.shape(x)[0]] + both[tf.shape(x)[0]:]
        return tf.math.l2_normalize(mean, axis=1)

    def card(self) -> dict:
        """This encoder's model card (``model.json`` beside the weights; see :func:`model_info`), read once."""
        if self._card is None:
            self._card = model_info(self.weights_dir)
        return self._card

    def encode_faces(self, rgb: np.ndarray, faces: list) -> np.ndarray:
        """Encode detected faces of one image (the interface every encoder shares).

        Args:
            rgb: RGB uint8 image ``(h, w, 3)``.
            faces: :class:`facerec.align.Face` objects found in it (may be empty).

        Returns:
            ``(len(faces), 128)`` float32 unit-length encodings, in the order of ``faces``.
        """
        from facerec.align import align_all

        return self.encode(align_all(rgb, faces))

    def encode(self, faces: np.ndarray, batch_size: int = BATCH_SIZE) -> np.ndarray:
        """Encode aligned faces.

        Args:
            faces: ``(N, 96, 96, 3)`` (or one ``(96, 96, 3)``) aligned RGB faces,
                uint8 or float32 in [0, 1].
            batch_size: faces per forward pass.

        Returns:
            ``(N, 128)`` float32 unit-length encodings, in input order.
        """
        inputs = faces_to_input(faces)
        if len(inputs) == 0:
            return np.zeros((0, 128), np.float32)
        chunks = [self._forward(inputs[i:i + batch_size]).numpy() for i in range(0, len(inputs), batch_size)]
        return np.concatenate(chunks).astype(np.float32, copy=False)


@functools.cache
def _cached_encoder(weights_dir: str, flip_average: bool, precision: str) -> FaceEncoder:
    return FaceEncoder(weights_dir, flip_average, precision)


def get_encoder(weights_dir: str | os.PathLike | None = None, flip_average: bool = True,
                precision: str = "float32") -> FaceEncoder:
    """A shared :class:`FaceEncoder` for ``weights_dir`` (built on first use); arguments as for the class."""
    return _cached_encoder(str(Path(weights_dir or default_weights_dir()).resolve()), flip_average, precision)
