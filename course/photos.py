"""The course's face finder: the practical one, plus the course's own rule for its 96x96 crops.

The Happy House photos are 96x96 face crops. In a few of them dlib's HOG
detector finds no face (``danielle.png`` at any upsampling), so the course
treats such a small image as a face filling the whole image, as the original
assignment did with its pre-cropped faces. That rule lives here and only here:
every practical path of ``facerec`` (API, command line, door) answers
:class:`~facerec.exceptions.FaceNotFound` when no face is detected, at any size.
"""

from __future__ import annotations

import numpy as np

from facerec import align
from facerec.exceptions import FaceNotFound
from facerec.image import ImageInput, load_image


def find_and_align(image_path: ImageInput, fallback_to_whole: bool | None = None) -> tuple[np.ndarray, align.Face]:
    """Find and align the largest face of a photo, the course's way.

    Detection is dlib's HOG detector (the detector the course's Expected outputs
    were made with). When it finds nothing in a crop-sized image (32 to 200 px a
    side, like the Happy House photos) the whole image is taken as the face box.

    Args:
        image_path: path or RGB array of the photo.
        fallback_to_whole: ``None`` (default): the whole-image rule above for
            crop-sized images only; ``True``/``False``: always / never.

    Returns:
        ``(face, details)``: the aligned ``(96, 96, 3)`` uint8 RGB face and its
        :class:`facerec.align.Face` (box, landmarks, detector score).

    Raises:
        FaceNotFound: no face detected in a larger image (or with ``fallback_to_whole=False``).
    """
    image = load_image(image_path)
    if fallback_to_whole is None:
        fallback_to_whole = align.is_face_crop_sized(image)
    try:
        return align.find_and_align(image, fallback_to_whole=fallback_to_whole, detector="hog")
    except FaceNotFound:
        raise FaceNotFound(align.no_face_message(image_path)) from None
