"""Face detection and alignment to the 96x96 input of nn4.small2.

One alignment is used everywhere (training, evaluation, the notebook, the
command line): a dlib face detector finds faces, dlib's 5-point shape
predictor finds the outer eye corners and the base of the nose, and an affine
warp maps those three points onto OpenFace's template positions, exactly as
OpenFace's ``AlignDlib.align(96, landmarkIndices=OUTER_EYES_AND_NOSE)`` did.

Detectors (``detector=``): ``"hog"``, dlib's HOG + linear SVM frontal face
detector (fast: about 10 ms on a small photo, 0.1 s at 640x480); ``"cnn"``,
dlib's MMOD CNN face detector (finds turned, tilted and small faces that HOG
misses, about 0.3 s on a small photo and seconds on a large one on a CPU);
``"auto"`` (the default of every practical path, :data:`DEFAULT_DETECTOR`): HOG,
and the CNN only when HOG finds nothing. The choice is measured in
MODEL_CARD.md ("Detectors"). No detector's miss is ever papered over: a photo
without a detected face raises :class:`~facerec.exceptions.FaceNotFound`
unless the caller explicitly asks to treat the whole image as the face
(``fallback_to_whole=True``, which only the course uses, for its 96x96 crops).

Bounded work per photo: HOG runs on a copy at most 1600 px a side; the CNN sees
at most :data:`CNN_MAX_PIXELS` pixels (after its upsampling: a larger photo is
given to it downscaled, boxes scaled back), and ``auto`` skips the CNN, raising
:class:`~facerec.exceptions.DetectionBudgetSpent` (a ``FaceNotFound``), when HOG
alone already took the time budget :data:`DETECT_BUDGET_S`. dlib's CNN holds
Python's GIL while it runs: a server calls :func:`use_cnn_processes` to run it in
worker processes, so that one photo's CNN does not stop its other threads. At most
:func:`work_slots` detections run at once (one per core): each takes a detector
from a pool of that many (dlib's detectors are not safe to share between
threads), so :func:`detect_faces` may be called from several threads. The boxes
found in the last :data:`_REMEMBERED` images are remembered by their pixels'
digest, so an image detected once (e.g. by the server, outside its model lock)
is not detected again.

Template: OpenFace's mean 68-landmark face (``align_dlib.py``, Apache-2.0),
min-max normalised to [0, 1]; its landmarks 36 (outer corner of the eye on the
image's left), 45 (outer corner on the image's right) and 33 (base of the nose).

Models, from ``face-recognition-models`` (package: MIT licence; model files by Davis
King, dlib-models, released into the public domain): ``shape_predictor_5_face_landmarks.dat``
(trained on 7,198 faces he annotated; made to work with both detectors' boxes) and
``mmod_human_face_detector.dat`` (the CNN detector, trained on his annotations of
public images: ImageNet, AFLW, Pascal VOC, VGG, WIDER, FaceScrub). The 68-point
model is not used here: its training data restricts commercial use (only the door's optional
flatness check, :mod:`facerec.flatness`, loads it).
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import math
import os
import queue
import tempfile
import threading
import time
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass

import cv2
import numpy as np

from facerec.exceptions import DetectionBudgetSpent, FaceNotFound, InvalidArgument
from facerec.image import ImageInput, load_image
from facerec.paths import cache_dir, dlib_model_file

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
_CNN_MIN_SIDE = 48  # dlib's MMOD CNN refuses images smaller than its filter windows
CNN_MAX_PIXELS = 500_000  # the CNN's input, after upsampling (about 3 s on one core of a 2-core Xeon)
DETECT_BUDGET_S = 3.0  # auto skips the CNN when HOG alone took this long on one photo
_REMEMBERED = 64  # images whose boxes are remembered (by digest)
DETECTORS = ("hog", "cnn", "auto")
DEFAULT_DETECTOR = "auto"  # chosen on the measurements of MODEL_CARD.md ("Detectors")


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


def _hog_cache_path():
    import dlib

    return cache_dir() / f"frontal_face_detector-dlib{dlib.__version__}.svm"


def work_slots() -> int:
    """How many decodes and detections may run at once: the cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not on Linux
        return max(1, os.cpu_count() or 1)


@functools.cache
def _detector():
    """dlib's HOG frontal face detector, read from its serialised copy in the cache (written on first use).

    ``dlib.get_frontal_face_detector()`` rebuilds the detector from source code on
    every call (about 0.35 s); its saved copy (dlib's own format, 155 kB) loads in
    about 2 ms and finds the same boxes with the same scores (a test checks).
    """
    import dlib

    path = _hog_cache_path()
    if path.is_file():
        try:
            return dlib.fhog_object_detector(str(path))
        except RuntimeError:
            pass  # damaged: rebuilt below
    detector = dlib.get_frontal_face_detector()
    try:
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".svm.tmp", delete=False) as handle:
            pass
        detector.save(handle.name)
        os.replace(handle.name, path)
    except (OSError, RuntimeError):
        pass  # a cache we cannot write only costs start-up time
    return detector


@functools.cache
def _cnn_detector():
    return _load_cnn()


def _load_cnn():
    import dlib

    return dlib.cnn_face_detection_model_v1(str(dlib_model_file("mmod_human_face_detector.dat")))


class _Pool:
    """At most :func:`work_slots` instances of one detector, each used by one thread at a time."""

    def __init__(self, first, make):
        self.first, self.make, self.free, self.made, self.lock = first, make, queue.LifoQueue(), 0, threading.Lock()

    @contextmanager
    def take(self):
        item = None
        with self.lock:
            if self.free.empty() and self.made < work_slots():
                item = self.first() if self.made == 0 else self.make()
                self.made += 1
        if item is None:
            item = self.free.get()  # waits for a free detector: at most work_slots() detections at once
        try:
            yield item
        finally:
            self.free.put(item)


_POOLS = {"hog": _Pool(lambda: _detector(), lambda: _load_hog()),
          "cnn": _Pool(lambda: _cnn_detector(), lambda: _load_cnn())}
_remembered: OrderedDict = OrderedDict()
_remembered_lock = threading.Lock()


_cnn_processes = None  # a process pool for the CNN, once use_cnn_processes() is called
_cnn_processes_lock = threading.Lock()


def use_cnn_processes(workers: int | None = None) -> None:
    """Run the CNN in ``workers`` worker processes (default :func:`work_slots`) from now on, in this process.

    dlib's CNN holds Python's GIL for its whole run (seconds on a large photo), so in a threaded
    server one photo's CNN would stop every other request, even the ones on another core; in a
    worker process it does not. ``facerec serve`` calls this; the workers start in the background.
    """
    global _cnn_processes
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with _cnn_processes_lock:
        if _cnn_processes is None:
            workers = workers or work_slots()
            _cnn_processes = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                                 initializer=_cnn_detector)
            for _ in range(workers):  # start the workers (and load the model) now, not on the first photo
                _cnn_processes.submit(int)
            atexit.register(_stop_cnn_processes)


def _stop_cnn_processes() -> None:
    global _cnn_processes
    with _cnn_processes_lock:
        pool, _cnn_processes = _cnn_processes, None
    if pool is not None:
        pool.shutdown(wait=True, cancel_futures=True)


def _cnn_boxes(small: np.ndarray, upsample: int) -> list[tuple[tuple[float, ...], float]]:
    """The CNN's ``(box, score)`` list for ``small`` (picklable: runs in a worker process too)."""
    with _POOLS["cnn"].take() as cnn:
        found = cnn(small, upsample)
    return [((d.rect.left(), d.rect.top(), d.rect.right(), d.rect.bottom()), float(d.confidence)) for d in found]


def _run_cnn(small: np.ndarray, upsample: int) -> list[tuple[tuple[float, ...], float]]:
    global _cnn_processes
    pool = _cnn_processes
    if pool is not None:
        from concurrent.futures.process import BrokenProcessPool

        try:
            return pool.submit(_cnn_boxes, small, upsample).result()
        except BrokenProcessPool:  # a worker died (e.g. killed for memory): this process runs the CNN itself
            with _cnn_processes_lock:
                if _cnn_processes is pool:
                    _cnn_processes = None
    return _cnn_boxes(small, upsample)


def _load_hog():
    import dlib

    path = _hog_cache_path()
    return dlib.fhog_object_detector(str(path)) if path.is_file() else dlib.get_frontal_face_detector()


@functools.cache
def _predictor():
    import dlib

    return dlib.shape_predictor(str(dlib_model_file("shape_predictor_5_face_landmarks.dat")))


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


def check_detector(detector: str) -> str:
    """``detector`` itself if it is one of :data:`DETECTORS`, else :class:`InvalidArgument`."""
    if detector not in DETECTORS:
        raise InvalidArgument(f"detector must be one of {', '.join(DETECTORS)}, got {detector!r}")
    return detector


def _run_detector(small: np.ndarray, detector: str, upsample: int) -> list[tuple[tuple[float, ...], float]]:
    """``(box, score)`` of each face found by one dlib detector in ``small`` (its pixels).

    The CNN is given at most :data:`CNN_MAX_PIXELS` pixels: beyond that, instead of
    upsampling ``small`` it gets a copy resized to that many pixels (boxes scaled back).
    """
    if detector == "hog":
        with _POOLS["hog"].take() as hog:
            rects, scores, _ = hog.run(small, upsample, 0.0)
        return [((r.left(), r.top(), r.right(), r.bottom()), float(s)) for r, s in zip(rects, scores)]
    height, width = small.shape[:2]
    factor = 2.0 ** upsample
    if height * width * factor * factor > CNN_MAX_PIXELS:
        factor = math.sqrt(CNN_MAX_PIXELS / (height * width))
    if min(height, width) * factor < _CNN_MIN_SIDE:  # smaller than the CNN's filters: no face fits
        return []
    if factor != 2.0 ** upsample:
        small = cv2.resize(small, (max(1, round(width * factor)), max(1, round(height * factor))),
                           interpolation=cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR)
        upsample, scale = 0, factor
    else:
        scale = 1.0
    return [((left / scale, top / scale, right / scale, bottom / scale), score)
            for (left, top, right, bottom), score in _run_cnn(small, upsample)]


def _detect_with(small: np.ndarray, detector: str, upsample: int | None) -> list[tuple[tuple[float, ...], float]]:
    """One detector with facerec's upsampling rule (see :func:`detect_faces`)."""
    auto = upsample is None
    if auto:
        upsample = 1 if max(small.shape[:2]) < _UPSAMPLE_BELOW else 0
    found = _run_detector(small, detector, upsample)
    if not found and auto and max(small.shape[:2]) <= _SMALL_IMAGE:
        found = _run_detector(small, detector, upsample + 1)
    return found


def _digest(small: np.ndarray, *extra) -> tuple:
    return (hashlib.blake2b(memoryview(np.ascontiguousarray(small)).cast("B"), digest_size=16).digest(),
            small.shape, *extra)


def _recall(key: tuple):
    with _remembered_lock:
        found = _remembered.get(key)
        if found is not None:
            _remembered.move_to_end(key)
        return found


def _remember(key: tuple, found: list) -> None:
    with _remembered_lock:
        _remembered[key] = found
        while len(_remembered) > _REMEMBERED:
            _remembered.popitem(last=False)


def detect_faces(image: np.ndarray, upsample: int | None = None, detector: str = DEFAULT_DETECTOR,
                 budget: float | None = None) -> list[Face]:
    """Find every face in an RGB image.

    Args:
        image: RGB uint8 array ``(h, w, 3)`` (see :func:`facerec.load_image`).
        upsample: times to double the image before detecting (finds smaller
            faces, slower); default 1 for images under 640 px, else 0, and one
            more retry for images of at most 200 px (the course's 96x96 crops).
        detector: ``"hog"``, ``"cnn"`` or ``"auto"`` (default: HOG, then the CNN
            only if HOG finds nothing); see the module docstring.
        budget: seconds (default :data:`DETECT_BUDGET_S`): with ``auto``, when HOG alone took
            longer, the CNN is skipped and :class:`DetectionBudgetSpent` raised.

    Returns:
        Faces sorted by box area, largest first; empty if there is none.

    Raises:
        DetectionBudgetSpent: (a :class:`FaceNotFound`) HOG found nothing and spent the budget.
    """
    start = time.monotonic()
    image = _check_image(image)
    check_detector(detector)
    budget = DETECT_BUDGET_S if budget is None else budget
    height, width = image.shape[:2]
    scale = min(1.0, _DETECT_MAX_SIDE / max(height, width))
    small = cv2.resize(image, (max(1, round(width * scale)), max(1, round(height * scale))),
                       interpolation=cv2.INTER_AREA) if scale < 1.0 else image
    key = _digest(small, image.shape, detector, upsample, CNN_MAX_PIXELS)
    found = _recall(key)
    if found is None:
        found = _detect_with(small, "cnn" if detector == "cnn" else "hog", upsample)
        if not found and detector == "auto":
            spent = time.monotonic() - start
            if spent > budget:
                raise DetectionBudgetSpent(
                    f"no face found by the fast detector, and the slow one was skipped: this photo took {spent:.1f} s "
                    f"of its {budget:g} s detection budget (the machine is busy or the photo is large); send a "
                    "smaller photo cropped around the face (about 1000 px a side), or try again later")
            found = _detect_with(small, "cnn", upsample)
        _remember(key, found)
    faces = []
    for (left, top, right, bottom), score in found:
        box = (max(0, left / scale), max(0, top / scale), min(width, right / scale), min(height, bottom / scale))
        if box[2] - box[0] >= 2 and box[3] - box[1] >= 2:
            faces.append(face_from_box(image, box, score))
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
    """True for images of 32 to 200 px a side: sizes of pre-cropped face photos (the course's)."""
    return 32 <= min(image.shape[:2]) and max(image.shape[:2]) <= _SMALL_IMAGE


def find_and_align(source: ImageInput, fallback_to_whole: bool = False, size: int = ALIGNED_SIZE,
                   detector: str = DEFAULT_DETECTOR) -> tuple[np.ndarray, Face]:
    """Load an image, find its largest face and align it.

    Args:
        source: image path or array (anything :func:`facerec.load_image` takes).
        fallback_to_whole: when no face is detected, treat the whole image as the
            face box. Default False: no face means :class:`FaceNotFound`, for images
            of every size. Only the course sets it, for its 96x96 Happy House crops
            (:func:`course.photos.find_and_align`).
        size: output side in pixels (96 for nn4.small2).
        detector: ``"hog"``, ``"cnn"`` or ``"auto"`` (default), see :func:`detect_faces`.

    Returns:
        ``(aligned, face)``: the ``(size, size, 3)`` uint8 crop and its :class:`Face`.

    Raises:
        FaceNotFound: no face was detected and ``fallback_to_whole`` is False.
    """
    image = load_image(source)
    faces = detect_faces(image, detector=detector)
    if faces:
        face = faces[0]
    elif fallback_to_whole:
        height, width = image.shape[:2]
        face = face_from_box(image, (0, 0, width, height))
    else:
        raise FaceNotFound(no_face_message(source))
    return align_face(image, face, size), face


def find_faces(source: ImageInput, all_faces: bool = True,
               detector: str = DEFAULT_DETECTOR) -> tuple[np.ndarray, list[Face]]:
    """Load an image and find its faces.

    Args:
        source: path or array (anything :func:`facerec.load_image` takes).
        all_faces: every face (default), or only the largest.
        detector: ``"hog"``, ``"cnn"`` or ``"auto"`` (default), see :func:`detect_faces`.

    Returns:
        ``(rgb, faces)``: the RGB uint8 image ``(h, w, 3)`` and its faces, largest first.

    Raises:
        FaceNotFound: no face detected in the image (whatever its size: a blank
            wall never becomes a face).
    """
    rgb = load_image(source)
    faces = detect_faces(rgb, detector=detector)
    if not faces:
        raise FaceNotFound(no_face_message(source))
    return rgb, faces if all_faces else faces[:1]


def no_face_message(source: ImageInput) -> str:
    """The one-line :class:`FaceNotFound` message for ``source`` (a path or an array)."""
    name = source if not isinstance(source, np.ndarray) else "the image"
    return (f"no face found in {name}; use a photo where the face is clearly visible and at least about "
            "40 pixels wide (or try --detector cnn)")


def align_all(image: np.ndarray, faces: list[Face], size: int = ALIGNED_SIZE) -> np.ndarray:
    """Align several faces of one image: ``(len(faces), size, size, 3)`` uint8."""
    if not faces:
        return np.zeros((0, size, size, 3), np.uint8)
    return np.stack([align_face(image, face, size) for face in faces])
