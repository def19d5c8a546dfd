"""The door on a live 640x480 stream at 10 frames/s (issue 24, item 6): frames processed a second, frames
dropped, and each visit's decision latency, with the default encoder, detection and tracking included.

A thread serves an MJPEG stream (``multipart/x-mixed-replace``) on 127.0.0.1, paced at ``--fps`` frames a
second by the wall clock: grey 640x480 frames into which Happy House door-camera shots (``camera_0``: younes,
``camera_1``: bertrand, ``camera_2``: benoit, who is not enrolled) are pasted at ``--face`` px, drifting 2 px a
frame with a little noise (no two frames alike, so no detection is answered from a cache). Each visit is
``--visit`` seconds of face and ``--gap`` seconds of empty door. The eleven other Happy House residents are
enrolled with the default encoder. :func:`facerec.door.run_door` reads the stream as ``facerec door URL``
does (the newest frame, the others dropped), once per setting of ``--settings`` (``detector@scale``, or
``detector@scalexN`` to encode a tracked face every N-th frame only: ``run_door``'s ``encode_every``).

Per setting: ``processed_fps`` (frames searched a second over the whole stream), ``face_encoded_fps``
(frames in which the face was encoded and added to its visit, per second of face on screen), ``dropped``,
the visits found against the truth, and the latency of each visit's decision after its face appeared (p50,
p99) and after it left (the visit timeout, 2 s, is part of it: a visit is decided when it ends), and the
process's CPU time per searched frame (``cpu_ms_per_searched_frame``: the door and its stream reader, every
thread, whatever else shares the machine; the stream's server runs in a process of its own and is not counted).

Usage: ``python benchmarks/door_stream.py [--visits N] [--settings hog@1,hog@0.5,auto@1] [--json]``; with
``--serve PORT`` it only serves the stream once on ``http://127.0.0.1:PORT/door.mjpg`` (for ``facerec door``: the
README's stream example) and exits when the stream ends.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import platform
import socket
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

VISITORS = [("camera_0", "younes"), ("camera_1", "bertrand"), ("camera_2", None)]  # (photo, truth)
SIZE = (640, 480)


def happy_house() -> Path:
    from facerec.paths import assets_dir

    folder = assets_dir() / "happy-house" / "images"
    if not folder.is_dir():
        sys.exit(f"no Happy House photos in {folder}; set FACEREC_ASSETS")
    return folder


def script(visits: int, fps: float, face: int, visit_s: float, gap_s: float) -> list[tuple[int | None, int]]:
    """Per frame: ``(visit index or None, drift in px)``; one second of empty door first."""
    frames: list[tuple[int | None, int]] = [(None, 0)] * int(fps)
    for index in range(visits):
        frames += [(index, step * 2) for step in range(int(visit_s * fps))]
        frames += [(None, 0)] * int(gap_s * fps)
    return frames


def render(photo: np.ndarray | None, drift: int, face: int, rng: np.random.Generator) -> bytes:
    """One JPEG frame: grey, the photo pasted at ``face`` px (drifting right), light noise."""
    frame = np.full((SIZE[1], SIZE[0], 3), 120, np.uint8)
    if photo is not None:
        left, top = 160 + drift, (SIZE[1] - face) // 2
        frame[top:top + face, left:left + face] = cv2.resize(photo, (face, face), interpolation=cv2.INTER_CUBIC)
    noisy = cv2.add(frame, rng.integers(0, 3, frame.shape, np.uint8))
    return cv2.imencode(".jpg", noisy, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()


class PacedMjpeg:
    """Serves the frames once, at ``fps`` by the wall clock, on 127.0.0.1, from a process of its own (as a camera
    is: the door's work cannot delay it); records when each frame was sent (:attr:`sent`, after :meth:`join`)."""

    def __init__(self, jpegs: list[bytes], fps: float, port: int = 0):
        self.jpegs, self.fps = jpegs, fps
        self.listener = socket.create_server(("127.0.0.1", port))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/door.mjpg"
        self._times = multiprocessing.Array("d", len(jpegs), lock=False)
        self._process = multiprocessing.get_context("fork").Process(target=self._run, daemon=True)
        self._process.start()
        self.listener.close()

    @property
    def sent(self) -> list[float]:
        return [t for t in self._times if t > 0]

    def join(self, timeout: float | None = 5) -> None:
        self._process.join(timeout=timeout)
        if self._process.is_alive():
            self._process.kill()

    def _run(self) -> None:
        with self.listener, self.listener.accept()[0] as connection:
            connection.recv(65536)
            connection.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: multipart/x-mixed-replace; boundary=f\r\n\r\n")
            start = time.time()
            for index, jpeg in enumerate(self.jpegs):
                time.sleep(max(0.0, start + index / self.fps - time.time()))
                self._times[index] = time.time()
                try:
                    connection.sendall(b"--f\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n%s\r\n"
                                       % (len(jpeg), jpeg))
                except OSError:  # the door gave up on the stream
                    return


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``), else the platform's machine type."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        return next(line.split(":", 1)[1].strip() for line in lines if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.machine()


def percentile(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 3) if values else None


def run_setting(db: Path, encoder, setting: str, frames: list, jpegs: list[bytes], fps: float) -> dict:
    """One door run on a fresh stream; the figures of one setting."""
    from datetime import datetime

    from facerec.door import run_door

    detector, rest = setting.split("@")
    scale, _, every = rest.partition("x")
    server = PacedMjpeg(jpegs, fps)
    decided: list[tuple[float, dict]] = []
    started, cpu = time.time(), time.process_time()
    report = run_door(server.url, db, encoder=encoder, detector=detector, detect_scale=float(scale), progress=False,
                      encode_every=int(every or 1),
                      log=False, give_up=10.0, on_visit=lambda visit: decided.append((time.time(), visit)))
    elapsed, cpu = time.time() - started, time.process_time() - cpu
    server.join()
    truth_of = {index: VISITORS[index % len(VISITORS)][1] for index, _ in frames if index is not None}
    sent = [(t, i) for t, (i, _) in zip(server.sent, frames) if i is not None]
    spans = {index: (min(t for t, i in sent if i == index), max(t for t, i in sent if i == index))
             for index in {i for _, i in sent}}
    after_appear, after_leave, right, found = [], [], 0, []
    for when, visit in decided:
        start = datetime.fromisoformat(visit["start"]).timestamp()
        index = next((i for i, (a, b) in spans.items() if a - 0.05 <= start <= b + 0.5), None)
        found.append(index)
        if index is None:
            continue
        after_appear.append(when - spans[index][0])
        after_leave.append(when - spans[index][1])
        right += visit["identity"] == truth_of[index]
    face_seconds = sum(b - a + 1 / fps for a, b in spans.values()) or math.inf
    stream_seconds = server.sent[-1] - server.sent[0] + 1 / fps
    return {"setting": setting, "served": len(server.sent), "read": report.frames + report.dropped,
            "processed": report.processed, "encoded": report.encoded, "dropped": report.dropped,
            "seconds": round(elapsed, 1), "load_average_1min": round(os.getloadavg()[0], 2),
            "processed_fps": round(report.processed / stream_seconds, 2),
            "cpu_ms_per_searched_frame": round(1000 * cpu / max(1, report.processed), 1),
            "face_encoded_fps": round(sum(v["seen"] for _, v in decided) / face_seconds, 2),
            "visits_true": len(spans), "visits_found": len(decided),
            "visits_matched": len({i for i in found if i is not None}), "identities_right": right,
            "latency_after_appear_p50": percentile(after_appear, 50),
            "latency_after_appear_p99": percentile(after_appear, 99),
            "latency_after_leave_p50": percentile(after_leave, 50),
            "latency_after_leave_p99": percentile(after_leave, 99)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visits", type=int, default=6, help="visits in the stream (default 6)")
    parser.add_argument("--fps", type=float, default=10.0, help="the stream's frame rate (default 10)")
    parser.add_argument("--face", type=int, default=180, help="the face's size in px (default 180)")
    parser.add_argument("--visit", type=float, default=2.5, help="seconds of face per visit (default 2.5)")
    parser.add_argument("--gap", type=float, default=3.0, help="seconds of empty door after each (default 3)")
    parser.add_argument("--settings", default="hog@1,hog@0.5,auto@1",
                        help="detector@detect_scale, comma-separated (default hog@1,hog@0.5,auto@1)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--serve", type=int, default=None, metavar="PORT",
                        help="only serve the stream once on 127.0.0.1:PORT (to one client), then exit")
    args = parser.parse_args(argv)

    from facerec.database import FaceDatabase
    from facerec.encoders import load_encoder
    from facerec.image import load_image

    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    folder = happy_house()
    encoder = load_encoder()
    rng = np.random.default_rng(0)
    photos = [cv2.cvtColor(load_image(folder / f"{name}.jpg"), cv2.COLOR_RGB2BGR) for name, _ in VISITORS]
    frames = script(args.visits, args.fps, args.face, args.visit, args.gap)
    jpegs = [render(None if i is None else photos[i % len(photos)], drift, args.face, rng) for i, drift in frames]
    if args.serve is not None:
        stream = PacedMjpeg(jpegs, args.fps, args.serve)
        print(f"serving {len(jpegs)} frames ({len(jpegs) / args.fps:.0f} s) on {stream.url}", file=sys.stderr)
        stream.join(timeout=None)
        return 0
    residents = [p for p in sorted(folder.iterdir()) if not p.stem.startswith("camera_") and p.stem != "benoit"]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        db_path = Path(tmp) / "door.sqlite"
        with FaceDatabase(db_path, encoder=encoder.name) as db:
            for path in residents:
                db.enroll(path.stem, [path], encoder=encoder, skip_bad=False)
        for setting in args.settings.split(","):
            results.append(run_setting(db_path, encoder, setting.strip(), frames, jpegs, args.fps))
            print(json.dumps(results[-1]), file=sys.stderr, flush=True)  # a checkpoint per setting
    payload = {"machine": f"{os.cpu_count()} cores, {cpu_model()}",
               "encoder": encoder.name, "fps": args.fps, "face_px": args.face,
               "frames": len(frames), "settings": results}
    if args.json:
        print(json.dumps(payload))
    else:
        for row in results:
            print(f"{row['setting']:>9}: {row['processed_fps']:.1f} frames/s searched "
                  f"({row['face_encoded_fps']:.1f} faces encoded a second), {row['dropped']} of {row['read']} "
                  f"dropped, {row['visits_found']} visits "
                  f"({row['identities_right']}/{row['visits_true']} right), decided "
                  f"{row['latency_after_appear_p50']} s (p50) / {row['latency_after_appear_p99']} s (p99) after the "
                  "face appeared, "
                  f"{row['latency_after_leave_p50']} / {row['latency_after_leave_p99']} s after it left")
    return 0


if __name__ == "__main__":
    sys.exit(main())
