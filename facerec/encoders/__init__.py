"""The encoders behind one interface: ``nn4`` (this project's FaceRecoModel) and ``dlib`` (dlib's ResNet).

Every encoder has a :attr:`name`, a :attr:`fingerprint` (SHA-256 of its weights),
a model card with its operating points (:meth:`card`, see
:mod:`facerec.operating_points`) and ``encode_faces(rgb, faces) -> (F, 128)``,
doing its own alignment from the detected faces (nn4: OpenFace's 96x96 warp;
dlib: its 150x150 chip). A database records the encoder it was made with
(:class:`facerec.database.FaceDatabase`), and every later call on it uses that one.

================  =======================================  ============  ====================================
name              model                                    LFW 10-fold   speed (BENCHMARKS.md, MODEL_CARD.md)
================  =======================================  ============  ====================================
``dlib``          dlib ResNet-29, 150x150 chips (default)  98.95 %       8.1 faces/s in batches
``nn4``           nn4.small2, 96x96, face + mirror         94.33 %       221 faces/s in batches
``dlib+facenet``  dlib and FaceNet per face, 640-d         not measured  1.10x dlib's door time a photo
================  =======================================  ============  ====================================

``dlib`` is the default for new databases: on LFW 1:K it names the right person
for 98.6 % of the queries against nn4's 69.1 %, and only it keeps strangers out
at a useful true-accept rate (MODEL_CARD.md). ``nn4`` is the course's network and
the fast choice (27x faster per face in batches, 2026-12-02).

A third encoder, ``facenet`` (:mod:`facerec.encoders.facenet`: FaceNet Inception-ResNet-v1 on
CASIA-WebFace, 512-d, same ``name``/``fingerprint``/``card()``/``encode_faces`` interface), is measured
(issue 23) and offered fused with dlib: ``dlib+facenet`` (:mod:`facerec.encoders.fused`), 640-d
encodings in two blocks whose distance is ``d_dlib / m_dlib + d_facenet / m_facenet`` (see
:data:`ENCODER_BLOCKS`; a database records a width other than 128, :mod:`facerec.stores.widths`).
"""

from __future__ import annotations

import os
from typing import Protocol

import numpy as np

from facerec.exceptions import InvalidArgument

ENCODERS = ("dlib", "nn4", "dlib+facenet")
DEFAULT_ENCODER = "dlib"
# Each encoder's encoding layout: block widths, summing to its width (facerec.distances): the distance is
# the sum of the blocks' L2 distances. A database records a layout other than (128,) (facerec.stores.widths).
ENCODER_BLOCKS = {"dlib": (128,), "nn4": (128,), "dlib+facenet": (128, 512)}


class Encoder(Protocol):
    """What every encoder offers (see the module docstring)."""

    name: str
    fingerprint: str

    def card(self) -> dict: ...

    def encode_faces(self, rgb: np.ndarray, faces: list) -> np.ndarray: ...


def check_encoder_name(name: str) -> str:
    """``name`` if it is one of :data:`ENCODERS`, else :class:`InvalidArgument`."""
    if name not in ENCODERS:
        raise InvalidArgument(f"unknown encoder {name!r}; choose one of {', '.join(ENCODERS)}")
    return name


def load_encoder(name: str | None = None, weights_dir: str | os.PathLike | None = None,
                 precision: str = "float32", runtime: str | None = None) -> Encoder:
    """The shared encoder called ``name`` (default :data:`DEFAULT_ENCODER`), loaded on first use.

    Args:
        name: ``"dlib"``, ``"nn4"`` or ``"dlib+facenet"`` (:mod:`facerec.encoders.fused`).
        weights_dir: nn4's weights folder (default ``$FACEREC_WEIGHTS``, the repository's
            ``weights/``, or the weights packed with an installed facerec).
        precision: nn4's arithmetic, ``"float32"`` (default) or ``"bfloat16"``.
        runtime: where nn4 runs (:mod:`facerec.runtimes`; default OpenVINO).
    """
    name = check_encoder_name(name or DEFAULT_ENCODER)
    if name == "dlib+facenet":
        from facerec.encoders.fused import get_fused_encoder

        return get_fused_encoder()
    if name == "dlib":
        from facerec.encoders.dlib_resnet import get_dlib_encoder

        return get_dlib_encoder()
    from facerec.encoders.nn4 import get_encoder

    return get_encoder(weights_dir, precision=precision, runtime=runtime)
