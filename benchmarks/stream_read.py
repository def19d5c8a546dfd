"""How fast a stream reader opens and decodes a local 640x480 MJPEG stream (OpenCV's FFmpeg backend; PyAV too
when it is installed). Used to choose the reader of :mod:`facerec.sources.stream`.

A thread serves ``--frames`` JPEG frames as ``multipart/x-mixed-replace`` on 127.0.0.1
as fast as the reader takes them; each reader is timed from open to the last frame.

Usage: ``python benchmarks/stream_read.py [--frames N] [--json]``
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import threading
import time

import cv2
import numpy as np


def serve(frames: int) -> str:
    """Start a one-connection MJPEG server on 127.0.0.1 sending ``frames`` frames; returns its URL."""
    rng = np.random.default_rng(0)
    frame = cv2.GaussianBlur(rng.integers(0, 255, (480, 640, 3), np.uint8), (0, 0), 3)
    jpeg = cv2.imencode(".jpg", frame)[1].tobytes()
    part = b"--f\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n%s\r\n" % (len(jpeg), jpeg)
    listener = socket.create_server(("127.0.0.1", 0))

    def run() -> None:
        with listener, listener.accept()[0] as connection:
            connection.recv(65536)
            connection.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: multipart/x-mixed-replace; boundary=f\r\n\r\n")
            for _ in range(frames):
                connection.sendall(part)

    threading.Thread(target=run, daemon=True).start()
    return f"http://127.0.0.1:{listener.getsockname()[1]}/video.mjpg"


def opencv_reader(url: str) -> tuple[float, int]:
    """``(seconds to open, frames decoded)`` with ``cv2.VideoCapture(url, cv2.CAP_FFMPEG)``."""
    start = time.perf_counter()
    capture = cv2.VideoCapture(url, cv2.CAP_FFMPEG)
    opened, count = time.perf_counter() - start, 0
    while capture.read()[0]:
        count += 1
    capture.release()
    return opened, count


def pyav_reader(url: str) -> tuple[float, int]:
    """``(seconds to open, frames decoded)`` with PyAV (``av.open``), frames converted to RGB arrays."""
    import av

    start = time.perf_counter()
    with av.open(url) as container:
        opened, count = time.perf_counter() - start, 0
        try:
            for frame in container.decode(video=0):
                frame.to_ndarray(format="rgb24")
                count += 1
        except OSError:  # PyAV raises at the end of an HTTP stream that the server closed
            pass
    return opened, count


def measure(reader, frames: int) -> dict:
    url = serve(frames)
    start = time.perf_counter()
    opened, count = reader(url)
    seconds = time.perf_counter() - start
    return {"open_seconds": round(opened, 4), "frames": count, "frames_per_second": round(count / seconds, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=300, help="frames served (default 300)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    result = {"opencv": measure(opencv_reader, args.frames), "opencv_version": cv2.__version__}
    try:
        import av  # noqa: F401
    except ImportError:
        result["pyav"] = "not installed"
    else:
        result["pyav"] = measure(pyav_reader, args.frames)
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
