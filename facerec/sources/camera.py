"""A local camera: ``/dev/videoN`` or its index ``N`` (OpenCV's default backend, V4L2 on Linux)."""

from __future__ import annotations

import cv2

from facerec.sources.live import CaptureSource


class CameraSource(CaptureSource):
    """A camera on this machine (see :class:`facerec.sources.live.LiveSource` for the options).

    Args:
        device: ``/dev/video0`` or ``0``.
    """

    def __init__(self, device: str, **options):
        super().__init__(**options)
        self.index = int(device.removeprefix("/dev/video"))
        self.name = f"camera{self.index}"

    def _capture(self) -> cv2.VideoCapture:
        return cv2.VideoCapture(self.index)
