"""RTSP and HTTP(S) MJPEG streams, read with OpenCV's FFmpeg backend.

OpenCV's FFmpeg backend was chosen over PyAV by measurement (``benchmarks/stream_read.py``,
noted in MODEL_CARD.md, "The door on a stream"): on a local 640x480 MJPEG stream both
opened within milliseconds, OpenCV decoded 350-620 frames/s and PyAV (18.1, frames to
RGB arrays) 150-230, both far above the 5-15 frames/s the door searches; OpenCV is
already a dependency, PyAV would be a new one.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # FFmpeg quiet (a stream that ends is not an error);
import cv2  # noqa: E402 - read when OpenCV's FFmpeg backend starts; set the variable yourself to see its logs

from facerec.sources import safe_name
from facerec.sources.live import CaptureSource

OPEN_TIMEOUT_MS = 5000  # a stream that does not answer within this is retried with back-off
READ_TIMEOUT_MS = 5000  # a stream that stalls this long counts as dropped


class StreamSource(CaptureSource):
    """An RTSP or HTTP(S) MJPEG stream (see :class:`facerec.sources.live.LiveSource` for the options).

    Args:
        url: ``rtsp://``, ``http://`` or ``https://`` (credentials in the URL are never printed or logged).
    """

    def __init__(self, url: str, **options):
        super().__init__(**options)
        self.url = url
        self.name = safe_name(url)

    def _capture(self) -> cv2.VideoCapture:
        params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, OPEN_TIMEOUT_MS, cv2.CAP_PROP_READ_TIMEOUT_MSEC, READ_TIMEOUT_MS]
        return cv2.VideoCapture(self.url, cv2.CAP_FFMPEG, params)
