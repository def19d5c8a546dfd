"""The ``nn4`` encoder: this project's FaceRecoModel (OpenFace nn4.small2), 96x96 faces to 128-d encodings.

:class:`FaceEncoder` holds one set of weights (:func:`weight_source`: a CSV
folder, or the copy packed into an installed facerec) running in one runtime
(:mod:`facerec.runtimes`: OpenVINO by default, no TensorFlow); :func:`get_encoder`
returns a shared instance, so the weights are read once. Its model card is
``model.json`` beside the weights (:func:`model_info`): the thresholds of its
operating points (:mod:`facerec.operating_points`). The course imports these
names through :mod:`facerec.encoder`.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np

from facerec.exceptions import InvalidArgument, WeightsError
from facerec.models.weight_files import WeightSource, packed_available
from facerec.paths import WEIGHTS_DIR
from facerec.runtimes import PRECISIONS, load_network
from facerec.runtimes.tensorflow_runtime import inference_network

__all__ = ["BATCH_SIZE", "FaceEncoder", "PRECISIONS", "default_threshold", "default_weights_dir", "faces_to_input",
           "get_encoder", "inference_network", "model_info", "weight_source"]

BATCH_SIZE = 64


def default_weights_dir() -> Path:
    """``$FACEREC_WEIGHTS`` if set, else the repository's trained ``weights/`` folder."""
    return Path(os.environ.get("FACEREC_WEIGHTS", WEIGHTS_DIR))


def weight_source(weights_dir: str | os.PathLike | None = None) -> WeightSource:
    """Where nn4's weights come from: ``weights_dir``, else ``$FACEREC_WEIGHTS``, else the repository's
    ``weights/`` folder (in a clone), else the copy packed into the installed package.

    Raises:
        WeightsError: the folder named does not exist, or there are no weights at all.
    """
    folder = weights_dir or os.environ.get("FACEREC_WEIGHTS")
    if folder or WEIGHTS_DIR.is_dir():
        folder = Path(folder or WEIGHTS_DIR)
        if not folder.is_dir():
            raise WeightsError(f"weights folder {folder} does not exist; point weights_dir or FACEREC_WEIGHTS at "
                               "a folder of nn4 CSV weights, or leave both unset to use the packed weights")
        return WeightSource(folder)
    if packed_available():
        return WeightSource(None)
    raise WeightsError("facerec has no nn4 weights: this installation carries no packed copy and "
                       f"{WEIGHTS_DIR} is absent; reinstall facerec from its wheel or set FACEREC_WEIGHTS")


def model_info(weights_dir: str | os.PathLike | None = None) -> dict:
    """The model card of the weights (``model.json`` beside them, or the packed copy's).

    Keys: ``threshold`` (L2 distance; accept a pair when distance <= threshold),
    ``operating_points``, ``fingerprint``, training facts.
    """
    source = weight_source(weights_dir)
    info = source.card()
    try:
        float(info["threshold"])
    except (ValueError, KeyError, TypeError) as error:
        raise WeightsError(f"the model card of {source.description} is not valid ({type(error).__name__}: "
                           f"{error}); it must hold a numeric \"threshold\"; restore it with its weights") from error
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


class FaceEncoder:
    """The ``nn4`` encoder: nn4.small2 with loaded weights, encoding aligned 96x96 RGB faces.

    By default each face is encoded together with its mirror image and the two
    encodings are averaged and renormalised: on LFW View 1 (development pairs)
    this raised accuracy from 92.9 % to 93.6 % and the AUC from 0.982 to 0.985,
    for twice the computation. The model card's threshold is calibrated for it.

    Args:
        weights_dir: folder of the 226 per-layer CSVs (default: :func:`weight_source`).
        flip_average: average each face's encoding with its mirror image's (default True).
        precision: ``"float32"`` (default) or ``"bfloat16"`` arithmetic inside the
            network; the thresholds were calibrated in float32.
        runtime: ``"openvino"`` (default), ``"onnxruntime"`` or ``"tensorflow"``
            (:mod:`facerec.runtimes`; also ``$FACEREC_RUNTIME``).

    Attributes:
        fingerprint: SHA-256 of the weights (a database records it).
        runtime: the runtime's name.
        weights_dir: the CSV folder, or ``None`` for the packed weights.
    """

    name = "nn4"
    blocks = (128,)  # one 128-d block: plain L2 (facerec.distances)
    aligned_size = 96

    def __init__(self, weights_dir: str | os.PathLike | None = None, flip_average: bool = True,
                 precision: str = "float32", runtime: str | None = None):
        self.weights = weight_source(weights_dir)
        self.weights_dir = self.weights.folder
        self.fingerprint = self.weights.fingerprint
        self.network = load_network(self.weights, runtime, precision)
        self.runtime, self.precision, self.flip_average = self.network.runtime, precision, flip_average
        self._card: dict | None = None
        self._model = None

    @property
    def model(self):
        """The Keras model with these weights (imports TensorFlow; built on first use)."""
        if self._model is None:
            from facerec.runtimes.tensorflow_runtime import keras_model

            self._model = getattr(self.network, "model", None) or keras_model(self.weights)
        return self._model

    def card(self) -> dict:
        """This encoder's model card (see :func:`model_info`), read once."""
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

    def _forward(self, inputs: np.ndarray) -> np.ndarray:
        if not self.flip_average:
            return self.network(inputs)
        both = self.network(np.concatenate([inputs, inputs[:, :, ::-1]]))
        mean = both[:len(inputs)] + both[len(inputs):]
        return mean / np.sqrt(np.maximum(np.sum(mean * mean, axis=1, keepdims=True), 1e-12))

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
        chunks = [self._forward(inputs[i:i + batch_size]) for i in range(0, len(inputs), batch_size)]
        return np.concatenate(chunks).astype(np.float32, copy=False)


@functools.cache
def _cached_encoder(weights_dir: str | None, flip_average: bool, precision: str, runtime: str) -> FaceEncoder:
    return FaceEncoder(weights_dir, flip_average, precision, runtime)


def get_encoder(weights_dir: str | os.PathLike | None = None, flip_average: bool = True,
                precision: str = "float32", runtime: str | None = None) -> FaceEncoder:
    """A shared :class:`FaceEncoder` (built on first use); arguments as for the class."""
    from facerec.runtimes import choose_runtime

    folder = weight_source(weights_dir).folder
    return _cached_encoder(str(folder.resolve()) if folder else None, flip_average, precision,
                           choose_runtime(runtime))
