"""A local camera: ``/dev/videoN`` or its index ``N`` (OpenCV's default backend, V4L2 on Linux)."""

from __future__ import annotations

import cv2
import numpy as np

from facerec.sources.live import LiveSource


class CameraSource(LiveSource):
    """A camera on this machine (see :class:`facerec.sources.live.LiveSource` for the options).

    Args:
        device: ``/dev/video0`` or ``0``.
    """

    def __init__(self, device: str, **options):
        super().__init__(**options)
        self.index = int(device.removeprefix("/dev/video"))
        self.name = f"camera{self.index}"

    def _open(self) -> cv2.VideoCapture | None:
        capture = cv2.VideoCapture(self.index)
        if capture.isOpened():
            return capture
        capture.release()
        return None

    def _read(self, handle: cv2.VideoCapture) -> np.ndarray | None:
        ok, bgr = handle.read()
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB) if ok and bgr is not None else None

    def _release(self, handle: cv2.VideoCapture) -> None:
        handle.release()
