"""The course's names for the ``nn4`` encoder (kept stable for the notebook and its tests).

Everything here is :mod:`facerec.encoders.nn4`, except :func:`default_threshold`:
the course's graded functions encode each face with one pass of the network
(``img_to_encoding``), not with the practical encoder's mirror average, so the
course decides at the threshold calibrated for that plain encoding. The
practical tool chooses its encoder through :func:`facerec.encoders.load_encoder`
and its thresholds through :mod:`facerec.operating_points`.
"""

from __future__ import annotations

import os

from facerec.encoders.nn4 import (  # noqa: F401
    BATCH_SIZE,
    PRECISIONS,
    FaceEncoder,
    default_weights_dir,
    faces_to_input,
    get_encoder,
    inference_network,
    model_info,
)
from facerec.encoders.nn4 import default_threshold as balanced_threshold  # noqa: F401


def default_threshold(weights_dir: str | os.PathLike | None = None) -> float:
    """The course's verification threshold (L2 distance): the model card's ``course_threshold``.

    That is the best-accuracy threshold on LFW View 1 of the plain encoding the
    graded functions compute (0.882 for the committed weights, against 0.8497 for
    the mirror-averaged encoding of the practical tool, :func:`balanced_threshold`).
    A card without it (older weights) gives its ``threshold``.
    """
    info = model_info(weights_dir)
    course = info.get("course_threshold")
    return float(course["threshold"]) if isinstance(course, dict) else float(info["threshold"])
