"""An approximate mean adult head: dlib's 68 landmarks in 3D (mm), for the flatness check, its tests and benchmark.

The points follow the 68-point iBUG 300-W order that dlib's landmark models use (0-16 jaw line from the
image's left, 17-26 brows, 27-30 nose bridge, 31-35 nostrils, 36-47 eyes, 48-67 lips). They are not a scan:
they are drawn from published adult mean proportions (Farkas, *Anthropometry of the Head and Face*, 2nd ed.,
1994): outer eye corners 90 mm apart (ex-ex), inner 32 mm (en-en), face width 140 mm (zy-zy), jaw angles 100 mm
(go-go), nose 35 mm wide (al-al) and 50 mm high (n-sn), mouth 50 mm wide (ch-ch), lower face 70 mm (sn-gn), nasal
tip protrusion about 20 mm (sn-prn). Depth follows an ellipsoid 150 mm wide and 95 mm deep from the face front to
the jaw line's ends (near the ears), plus the nose, lips, chin and eye sockets as offsets from it.

Axes: x to the image's right, y down, z towards the camera; the origin is between the eyes.
"""

from __future__ import annotations

import numpy as np

FIVE_OF_68 = [45, 42, 36, 39, 33]  # dlib's 5-point model's points among the 68 (see facerec.align)


def _jaw() -> list[tuple[float, float]]:
    angles = np.linspace(0.0, np.pi, 17)
    return [(float(-70 * np.cos(a)), float(10 + 108 * np.sin(a))) for a in angles]


def _brows() -> list[tuple[float, float]]:
    xs = np.linspace(-55, -12, 5)
    left = [(float(x), float(-15 - 6 * np.sin(np.pi * (x + 55) / 43))) for x in xs]
    return left + [(-x, y) for x, y in reversed(left)]


_NOSE = [(0, -2), (0, 13), (0, 28), (0, 40), (-17, 47), (-9, 49), (0, 50), (9, 49), (17, 47)]
_EYES = [(-45, 2), (-36, -3), (-25, -3), (-16, 2), (-25, 5), (-36, 5),
         (16, 2), (25, -3), (36, -3), (45, 2), (36, 5), (25, 5)]
_LIPS = [(-25, 68), (-15, 62), (-5, 59), (0, 60), (5, 59), (15, 62), (25, 68), (15, 75), (5, 78), (0, 78),
         (-5, 78), (-15, 75), (-21, 68), (-8, 66), (0, 66), (8, 66), (21, 68), (8, 69), (0, 69), (-8, 69)]
# mm in front of the ellipsoid, by landmark index (the rest: 0)
_OFFSETS = {7: 8, 8: 10, 9: 8, 27: 10, 28: 15, 29: 21, 30: 27, 31: 10, 32: 14, 33: 16, 34: 14, 35: 10,
            **{i: 2 for i in range(17, 27)}, **{i: -6 for i in (36, 41, 40, 37, 38, 43, 44, 45, 46, 47)},
            39: -3, 42: -3, 48: 2, 54: 2, **{i: 7 for i in (49, 53, 55, 59, *range(60, 68))},
            **{i: 10 for i in (50, 51, 52, 56, 57, 58)}}


def mean_face_3d() -> np.ndarray:
    """The 68 landmarks of the approximate mean head: ``(68, 3)`` float64 ``(x, y, z)`` in mm (see module)."""
    xy = np.array(_jaw() + _brows() + _NOSE + _EYES + _LIPS, dtype=np.float64)
    x, y = xy[:, 0], xy[:, 1]
    z = -95.0 * (1.0 - np.sqrt(np.clip(1.0 - (x / 75.0) ** 2, 0.0, None))) - 0.002 * (y - 40.0) ** 2
    z += np.array([_OFFSETS.get(i, 0.0) for i in range(68)])
    return np.column_stack([x, y, z])


def rotation(yaw: float, pitch: float, roll: float = 0.0) -> np.ndarray:
    """The ``(3, 3)`` rotation of a head turning by ``yaw`` (about y), nodding by ``pitch`` (about x) and
    tilting by ``roll`` (about z), in degrees."""
    a, b, c = np.radians([yaw, pitch, roll])
    turn = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    nod = np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
    tilt = np.array([[np.cos(c), -np.sin(c), 0], [np.sin(c), np.cos(c), 0], [0, 0, 1]])
    return tilt @ nod @ turn


def project(points: np.ndarray, rotation_matrix: np.ndarray, distance: float, shift: tuple[float, float] = (0, 0),
            focal: float = 600.0, center: tuple[float, float] = (320.0, 240.0)) -> np.ndarray:
    """Pixel positions ``(n, 2)`` of 3D points (mm, :func:`mean_face_3d`'s axes) rotated about their origin
    and placed ``distance`` mm in front of a pinhole camera of ``focal`` px (shifted by ``shift`` mm)."""
    moved = points @ rotation_matrix.T
    depth = distance - moved[:, 2]  # z points towards the camera
    return np.column_stack([center[0] + focal * (moved[:, 0] + shift[0]) / depth,
                            center[1] + focal * (moved[:, 1] + shift[1]) / depth])
