"""Turn aligned faces into 128-d encodings with nn4.small2.

:class:`FaceEncoder` owns one model with its weights; :func:`get_encoder`
returns a shared instance per weights folder, so the CSVs are read once.
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
    return json.loads(path.read_text())


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
    """nn4.small2 with loaded weights, encoding aligned 96x96 RGB faces.

    Args:
        weights_dir: folder of the 226 per-layer CSVs (default: :func:`default_weights_dir`).
    """

    def __init__(self, weights_dir: str | os.PathLike | None = None):
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
        spec = tf.TensorSpec([None, 96, 96, 3], tf.float32)
        self._forward = tf.function(lambda x: self.model(x, training=False), input_signature=[spec])

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
def _cached_encoder(weights_dir: str) -> FaceEncoder:
    return FaceEncoder(weights_dir)


def get_encoder(weights_dir: str | os.PathLike | None = None) -> FaceEncoder:
    """A shared :class:`FaceEncoder` for ``weights_dir`` (built on first use)."""
    return _cached_encoder(str(Path(weights_dir or default_weights_dir()).resolve()))
