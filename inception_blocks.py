"""The course's FaceRecoModel: OpenFace nn4.small2 (96x96 RGB in, 128-d unit encoding out).

Students build the network with ``faceRecoModel(input_shape=(96, 96, 3))``. The
layers live in :mod:`facerec.models.nn4_small2`; this module keeps the course's
entry point where the notebook looks for it.
"""

from __future__ import annotations

import keras

from facerec.models.nn4_small2 import INPUT_SHAPE, N_PARAMS, build_nn4_small2

__all__ = ["faceRecoModel", "N_PARAMS"]


def faceRecoModel(input_shape: tuple[int, int, int] = INPUT_SHAPE) -> keras.Model:  # noqa: N802 (course name)
    """Build FaceRecoModel (untrained): channels-last, 3,743,280 parameters.

    Args:
        input_shape: ``(96, 96, 3)``; height, width, RGB channels.

    Returns:
        A Keras model mapping ``(m, 96, 96, 3)`` float32 in [0, 1] to ``(m, 128)``
        L2-normalised encodings. Load weights with
        :func:`fr_utils.load_weights_from_FaceNet`.
    """
    return build_nn4_small2(input_shape)
