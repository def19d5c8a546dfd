"""The course's names for the ``nn4`` encoder (kept stable for the notebook and its tests).

Everything here is :mod:`facerec.encoders.nn4`; the practical tool chooses its
encoder through :func:`facerec.encoders.get_encoder` instead.
"""

from facerec.encoders.nn4 import (  # noqa: F401
    BATCH_SIZE,
    PRECISIONS,
    FaceEncoder,
    default_threshold,
    default_weights_dir,
    faces_to_input,
    get_encoder,
    inference_network,
    model_info,
)
