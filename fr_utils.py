"""Course utilities: load and save FaceRecoModel's per-layer CSV weights.

``load_weights_from_FaceNet(model)`` reads the project's trained 226-file CSV
set in ``weights/`` (Torch ``[out, in, kh, kw]`` kernels converted to Keras
channels-last); ``save_weights_to_FaceNet(model, folder)`` writes the same
layout back, bit-exactly. A binary cache makes the second load fast (< 1 s).
"""

from __future__ import annotations

import os

import keras

from facerec.encoder import default_weights_dir
from facerec.models.weights import load_csv_weights, save_csv_weights, weights_fingerprint

__all__ = ["load_weights_from_FaceNet", "save_weights_to_FaceNet", "weights_fingerprint"]


def load_weights_from_FaceNet(model: keras.Model, weights_dir: str | os.PathLike | None = None) -> keras.Model:  # noqa: N802
    """Load the per-layer CSV weights into ``model`` (built by ``faceRecoModel``).

    Args:
        model: the FaceRecoModel to fill.
        weights_dir: folder of CSVs; default ``$FACEREC_WEIGHTS`` or the repo's ``weights/``.

    Returns:
        The same model, for chaining.

    Raises:
        facerec.exceptions.WeightsError: a file is missing, has the wrong number of
            values or holds NaN; the message names the file and its expected shape.
    """
    load_csv_weights(model, weights_dir or default_weights_dir())
    return model


def save_weights_to_FaceNet(model: keras.Model, weights_dir: str | os.PathLike) -> list:  # noqa: N802
    """Write ``model``'s weights as per-layer CSVs that ``load_weights_from_FaceNet`` reads back exactly."""
    return save_csv_weights(model, weights_dir)
