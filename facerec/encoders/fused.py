"""The ``dlib+facenet`` encoder: dlib's ResNet and FaceNet on each face, fused (issue 23, item 6).

Each face is encoded by both (:mod:`facerec.encoders.dlib_resnet`, 128-d; :mod:`facerec.encoders.facenet`,
512-d, unit length) and the encoding is their concatenation, each part divided by its encoder's median
impostor distance on LFW View 1 (the card's ``parts``: 0.8276 for dlib, 1.31372 for FaceNet). The encoding
has two blocks, ``(128, 512)``, and its distance is the sum of the blocks' L2 distances
(:mod:`facerec.distances`): ``d_dlib / 0.8276 + d_facenet / 1.31372``, the fusion measured in MODEL_CARD.md
("A second encoder: FaceNet, alone and fused with dlib"). Its card is ``dlib+facenet.json``
(operating points calibrated on LFW View 1 by ``python -m facerec.training.calibrate --encoder
dlib+facenet``), its fingerprint the SHA-256 of its parts' fingerprints joined by ``+``. Licence: the
stricter of its parts' (FaceNet's CASIA-WebFace terms; the cohort's BFW/VGGFace2 research terms).
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

import numpy as np

from facerec.align import Face
from facerec.encoders.cards import read_card
from facerec.exceptions import WeightsError

NAME = "dlib+facenet"
CARD_PATH = Path(__file__).with_name("dlib+facenet.json")
BLOCKS = (128, 512)


def model_card() -> dict:
    """The fused encoder's model card (``dlib+facenet.json``)."""
    return read_card(CARD_PATH, "rerun python -m facerec.training.calibrate --encoder dlib+facenet")


def fused_fingerprint(dlib_fingerprint: str, facenet_fingerprint: str) -> str:
    """SHA-256 of the parts' fingerprints joined by ``+`` (the card's ``fingerprint_source``)."""
    return hashlib.sha256(f"{dlib_fingerprint}+{facenet_fingerprint}".encode()).hexdigest()


class FusedEncoder:
    """dlib and FaceNet on each face: ``encode_faces(rgb, faces) -> (F, 640)`` scaled, concatenated encodings.

    Same interface as the other encoders (:attr:`name`, :attr:`fingerprint`, :meth:`card`,
    :meth:`encode_faces`), plus :attr:`blocks` ``(128, 512)``: compare encodings with
    :func:`facerec.distances.block_distance`, never a plain L2.

    Raises:
        WeightsError: the card's part fingerprints are not those of the loaded dlib and FaceNet models.
    """

    name = NAME
    blocks = BLOCKS

    def __init__(self):
        from facerec.encoders.dlib_resnet import get_dlib_encoder
        from facerec.encoders.facenet import get_facenet_encoder

        self.parts = (get_dlib_encoder(), get_facenet_encoder())
        self._card = model_card()
        self.fingerprint = fused_fingerprint(*(part.fingerprint for part in self.parts))
        stored = self._card["parts"]
        for part in self.parts:
            if stored[part.name]["fingerprint"] != part.fingerprint:
                raise WeightsError(f"{CARD_PATH.name} was calibrated with another {part.name} model "
                                   f"({stored[part.name]['fingerprint'][:12]}, loaded {part.fingerprint[:12]}); "
                                   "reinstall facerec or rerun python -m facerec.training.calibrate --encoder "
                                   "dlib+facenet")
        self.scales = tuple(float(stored[part.name]["median_impostor"]) for part in self.parts)

    def card(self) -> dict:
        """The model card, read once."""
        return self._card

    def fuse(self, dlib_encodings: np.ndarray, facenet_encodings: np.ndarray) -> np.ndarray:
        """``(N, 640)`` float32: ``[dlib / scale_dlib, facenet / scale_facenet]`` of ``(N, 128)`` and ``(N, 512)``."""
        return np.concatenate([np.asarray(dlib_encodings, np.float32) / np.float32(self.scales[0]),
                               np.asarray(facenet_encodings, np.float32) / np.float32(self.scales[1])], axis=1)

    def encode_faces(self, rgb: np.ndarray, faces: list[Face]) -> np.ndarray:
        """Encode detected faces of one image.

        Args:
            rgb: RGB uint8 image ``(h, w, 3)``.
            faces: :class:`facerec.align.Face` objects found in it (may be empty).

        Returns:
            ``(len(faces), 640)`` float32 fused encodings, in the order of ``faces``.
        """
        return self.fuse(*(part.encode_faces(rgb, faces) for part in self.parts))


@functools.cache
def get_fused_encoder() -> FusedEncoder:
    """The shared :class:`FusedEncoder` (both parts loaded once per process)."""
    return FusedEncoder()
