"""Presentation attacks and moving heads made from one photo, for the flatness check's tests and benchmark.

:func:`planar_attack` places a photo in a 640x480 frame and moves it as a plane (a printed photo or a phone
held up to the door camera): each frame is the photo under the homography of a plane turned by a few degrees
and shifted, optionally degraded like a re-captured photo (blur, JPEG, moiré, glare). :func:`turning_head`
moves the photo's own 68 landmarks as the 3D head of :mod:`facerec.face_shape` would move under a small head
rotation, and warps the photo smoothly to follow them (a non-planar sequence: the nose moves against the eyes
and the jaw line).
"""

from __future__ import annotations

import cv2
import numpy as np

from facerec.face_shape import mean_face_3d, project, rotation

FRAME = (640, 480)  # width, height


def place(rgb: np.ndarray, side: int = 220) -> tuple[np.ndarray, np.ndarray]:
    """The photo resized to ``side`` px on its longer side, centred on a grey 640x480 frame: ``(frame, H)``
    where ``H`` maps the photo's pixels to the frame's."""
    scale = side / max(rgb.shape[:2])
    width, height = FRAME
    left, top = (width - rgb.shape[1] * scale) / 2, (height - rgb.shape[0] * scale) / 2
    matrix = np.array([[scale, 0, left], [0, scale, top], [0, 0, 1]])
    frame = cv2.warpPerspective(rgb, matrix, FRAME, flags=cv2.INTER_CUBIC, borderValue=(120, 120, 120))
    return frame, matrix


def plane_motion(rng: np.random.Generator, frames: int, max_tilt: float = 25.0, focal: float = 600.0,
                 distance: float = 700.0) -> list[np.ndarray]:
    """``frames`` homographies of the 640x480 frame: a plane through the frame's centre, ``distance`` mm from
    a pinhole camera of ``focal`` px, turned (yaw, pitch up to ``max_tilt`` degrees, roll up to 8) and shifted
    along a smooth random path."""
    width, height = FRAME
    camera = np.array([[focal, 0, width / 2], [0, focal, height / 2], [0, 0, 1]])
    ends = rng.uniform(-1, 1, (2, 3)) * [max_tilt, max_tilt, 8]
    shifts = rng.uniform(-1, 1, (2, 2)) * 60  # mm
    motions = []
    for t in np.linspace(0, 1, frames):
        yaw, pitch, roll = ends[0] + (ends[1] - ends[0]) * t
        shift = shifts[0] + (shifts[1] - shifts[0]) * t
        r = rotation(yaw, pitch, roll)
        # plane z = 0 in the plane's coordinates (mm), seen at ``distance``: H = K [r1 r2 t] K0^-1
        translation = np.array([shift[0], shift[1], distance])
        flat_to_camera = camera @ np.column_stack([r[:, 0], r[:, 1], translation])
        frame_to_flat = np.linalg.inv(camera @ np.column_stack([[1, 0, 0], [0, 1, 0], [0, 0, distance]]))
        matrix = flat_to_camera @ frame_to_flat
        motions.append(matrix / matrix[2, 2])
    return motions


def degrade(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A re-captured look: moiré (a fine sine grating), glare (a bright blob), blur and JPEG, each drawn at random."""
    image = rgb.astype(np.float32)
    height, width = image.shape[:2]
    if rng.random() < 0.5:
        yy, xx = np.mgrid[0:height, 0:width]
        angle, period = rng.uniform(0, np.pi), rng.uniform(2.5, 5.0)
        image *= (1 + 0.08 * np.sin(2 * np.pi * (xx * np.cos(angle) + yy * np.sin(angle)) / period))[..., None]
    if rng.random() < 0.5:
        yy, xx = np.mgrid[0:height, 0:width]
        cx, cy, radius = rng.uniform(0.3, 0.7) * width, rng.uniform(0.3, 0.7) * height, rng.uniform(30, 90)
        image += (rng.uniform(60, 140) * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * radius ** 2)))[..., None]
    image = np.clip(image, 0, 255).astype(np.uint8)
    sigma = rng.uniform(0, 1.5)
    if sigma > 0.3:
        image = cv2.GaussianBlur(image, (0, 0), sigma)
    quality = int(rng.integers(40, 95))
    encoded = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])[1]
    return cv2.cvtColor(cv2.imdecode(encoded, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def planar_attack(rgb: np.ndarray, rng: np.random.Generator, frames: int = 20, side: int = 220,
                  degraded: bool = True, max_tilt: float = 25.0) -> list[np.ndarray]:
    """``frames`` RGB 640x480 frames of the photo moved as one plane (see the module docstring)."""
    frame, _ = place(rgb, side)
    out = []
    for matrix in plane_motion(rng, frames, max_tilt):
        moved = cv2.warpPerspective(frame, matrix, FRAME, flags=cv2.INTER_LINEAR, borderValue=(120, 120, 120))
        out.append(degrade(moved, rng) if degraded else moved)
    return out


def turning_head(rgb: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator, frames: int = 20,
                 max_turn: float = 20.0) -> list[np.ndarray]:
    """``frames`` RGB frames of a head turning and nodding (up to ``max_turn`` degrees), made by warping
    ``rgb`` (a 640x480 frame, e.g. from :func:`place`) so that its 68 ``landmarks`` follow the 3D mean head's.

    Each frame moves every landmark by the 3D head's projected displacement (scaled to the face's size) and
    warps the image with a smooth field through those displacements.
    """
    head = mean_face_3d()
    still = project(head, np.eye(3), 700.0)
    scale = np.sqrt(((landmarks - landmarks.mean(axis=0)) ** 2).sum() / ((still - still.mean(axis=0)) ** 2).sum())
    yaw, pitch = rng.choice([-1, 1], 2) * rng.uniform(0.5, 1.0, 2) * max_turn
    out = []
    for t in np.linspace(0, 1, frames):
        turned = project(head, rotation(yaw * np.sin(np.pi * t), pitch * t), 700.0)
        target = landmarks + (turned - still) * scale
        out.append(_warp_to(rgb, target, landmarks))
    return out


def _warp_to(rgb: np.ndarray, target: np.ndarray, source: np.ndarray, width_px: float = 25.0) -> np.ndarray:
    """``rgb`` warped so that its ``source`` points land near ``target``: each pixel is read from where the
    Gaussian-weighted mean of the nearby points' displacements (``width_px`` wide) sends it; far from every
    point the image stays."""
    height, width = rgb.shape[:2]
    step = 4
    ys, xs = np.mgrid[0:height:step, 0:width:step].astype(np.float64)
    grid = np.column_stack([xs.ravel(), ys.ravel()])
    weights = np.exp(-((grid[:, None] - target[None]) ** 2).sum(-1) / (2 * width_px ** 2))
    field = weights @ (source - target) / (weights.sum(axis=1, keepdims=True) + 0.05)
    maps = (grid + field).reshape(ys.shape + (2,)).astype(np.float32)
    maps = cv2.resize(maps, (width, height), interpolation=cv2.INTER_LINEAR)
    return cv2.remap(rgb, maps[..., 0], maps[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
