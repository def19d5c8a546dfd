"""The door on live sources (issue 24): MJPEG and snapshot servers on 127.0.0.1, visits, --json lines.

The servers run on threads of the test, on the loopback interface only, and stop by
themselves after a fixed number of frames or requests; every door run ends by itself
(``--give-up`` / ``--duration``). The tracker and the per-visit decision are also
tested on synthetic boxes and encodings.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cv2
import numpy as np
import pytest
from helpers_issue4 import photo, weights_or_skip

from facerec.cli import main
from facerec.database import FaceDatabase
from facerec.door import run_door
from facerec.exceptions import InvalidArgument
from facerec.sources import open_source, safe_name, source_kind
from facerec.visits import Sighting, Tracker, Visit, decide

VISIT_FIELDS = {"visit", "start", "end", "identity", "admitted", "distance", "frames", "flat"}


def door_frame(name: str, side: int = 200) -> np.ndarray:
    """A Happy House photo resized to ``side`` and padded into a grey 640x480 BGR frame."""
    frame = np.full((480, 640, 3), 120, np.uint8)
    face = cv2.resize(cv2.imread(str(photo(name))), (side, side), interpolation=cv2.INTER_CUBIC)
    frame[140:140 + side, 220:220 + side] = face
    return frame


class MjpegServer:
    """``multipart/x-mixed-replace`` JPEG frames on 127.0.0.1: ``per_connection`` frames to each of
    ``connections`` clients in turn, ``fps`` a second, then the connection is closed; ends by itself."""

    def __init__(self, frame: np.ndarray, per_connection: int, connections: int = 1, fps: float = 15.0):
        self.jpeg = cv2.imencode(".jpg", frame)[1].tobytes()
        self.per_connection, self.connections, self.fps = per_connection, connections, fps
        self.served = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(20)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/video.mjpg"
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        with self.listener:
            for _ in range(self.connections):
                try:
                    connection, _ = self.listener.accept()
                except OSError:
                    return
                with connection:
                    self._stream(connection)

    def _stream(self, connection: socket.socket) -> None:
        connection.settimeout(5)
        connection.recv(65536)  # the request
        connection.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: multipart/x-mixed-replace; boundary=frame\r\n\r\n")
        part = b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n%s\r\n" % (len(self.jpeg), self.jpeg)
        for _ in range(self.per_connection):
            try:
                connection.sendall(part)
            except OSError:
                return
            self.served += 1
            time.sleep(1 / self.fps)


class SnapshotServer:
    """One JPEG per GET on 127.0.0.1 (at most ``limit`` answers, then 503); counts the requests."""

    def __init__(self, frame: np.ndarray, limit: int = 100):
        jpeg, server = cv2.imencode(".jpg", frame)[1].tobytes(), self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                server.requests += 1
                server.authorization = self.headers.get("Authorization")
                ok = server.requests <= limit
                self.send_response(200 if ok else 503)
                self.send_header("Content-Type", "image/jpeg")
                self.send_header("Content-Length", str(len(jpeg) if ok else 0))
                self.end_headers()
                if ok:
                    self.wfile.write(jpeg)

            def log_message(self, *args):
                pass

        self.requests, self.authorization = 0, None
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://user:secret@127.0.0.1:{self.httpd.server_address[1]}/snapshot.jpg?token=abc"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def younes_db(tmp_path_factory):
    """A database with younes enrolled from younes.jpg (the default encoder)."""
    weights_or_skip()
    path = tmp_path_factory.mktemp("camera") / "faces.sqlite"
    assert main(["--db", str(path), "enroll", "younes", str(photo("younes"))]) == 0
    return path


def door(db, source, *options: str, capsys) -> tuple[int, list[dict]]:
    """``facerec --db db door source --json --detector hog options...``: exit code and the JSON lines
    (stdout holds nothing else; the counts are one line on stderr)."""
    capsys.readouterr()
    code = main(["--db", str(db), "door", source, "--json", "--detector", "hog", *options])
    out, err = capsys.readouterr()
    assert "dropped" in err and len(err.strip().splitlines()) == 1, err
    return code, [json.loads(line) for line in out.splitlines() if line.strip()]


# -- the door on an MJPEG stream, a dropped stream, a stranger, a snapshot URL ------------------------------

def test_an_mjpeg_stream_of_younes_is_one_visit_named_right_and_one_log_row(younes_db, capsys):
    server = MjpegServer(door_frame("camera_0"), per_connection=12)
    before = len(FaceDatabase(younes_db).door_log(1000))
    code, visits = door(younes_db, server.url, "--give-up", "1", capsys=capsys)
    assert code == 0 and server.served == 12
    assert len(visits) == 1, visits
    visit = visits[0]
    assert VISIT_FIELDS <= set(visit) and visit["flat"] is None
    assert visit["identity"] == "younes" and visit["admitted"] is True and visit["distance"] < 0.6
    assert 1 <= visit["frames"] <= 5 and visit["seen"] >= visit["frames"]
    start, end = datetime.fromisoformat(visit["start"]), datetime.fromisoformat(visit["end"])
    assert start.utcoffset().total_seconds() == 0 and start <= end
    log = FaceDatabase(younes_db).door_log(1000)
    assert len(log) == before + 1 and log[0].identity == "younes" and log[0].admitted
    assert "secret" not in log[0].source and "video.mjpg" in log[0].source


def test_a_stream_that_drops_is_reconnected_and_the_door_goes_on(younes_db):
    server = MjpegServer(door_frame("camera_0"), per_connection=8, connections=2)
    report = run_door(server.url, younes_db, give_up=3, visit_timeout=10, detector="hog", progress=False,
                      log=False)
    assert server.served == 16 and report.reconnects == 1
    assert report.frames + report.dropped > 8  # frames of the second connection were read too
    assert [(v["identity"], v["admitted"]) for v in report.visits] == [("younes", True)]  # one visit over the gap


def test_a_strangers_stream_is_one_unknown_visit(younes_db, capsys):
    server = MjpegServer(door_frame("benoit"), per_connection=10)
    code, visits = door(younes_db, server.url, "--give-up", "1", capsys=capsys)
    assert code == 0 and len(visits) == 1
    assert visits[0]["identity"] is None and visits[0]["admitted"] is False and visits[0]["closest"] == "younes"
    assert visits[0]["distance"] > 0.5


def test_a_snapshot_url_is_polled_at_its_rate(younes_db, capsys):
    server = SnapshotServer(door_frame("camera_0"))
    try:
        code, visits = door(younes_db, server.url, "--poll", "0.2", "--duration", "2", capsys=capsys)
    finally:
        server.close()
    assert code == 0 and 5 <= server.requests <= 12  # about 2 s / 0.2 s, never a busy loop
    assert [(v["identity"], v["admitted"]) for v in visits] == [("younes", True)]
    assert server.authorization == "Basic dXNlcjpzZWNyZXQ="  # user:secret, sent as a header
    assert "secret" not in visits[0]["source"] and "token" not in visits[0]["source"]


def test_max_fps_caps_the_frames_searched_and_counts_the_dropped_ones(younes_db):
    server = MjpegServer(door_frame("camera_0"), per_connection=45, fps=30)
    started = time.monotonic()
    report = run_door(server.url, younes_db, max_fps=2, give_up=1, detector="hog", progress=False, log=False)
    elapsed = time.monotonic() - started
    assert server.served == 45
    assert 1 <= report.frames <= elapsed * 2 + 1  # about 1.5 s of stream at 2 a second, whatever the load
    assert report.dropped >= 30 and report.frames + report.dropped == 45


def test_a_stream_nobody_serves_is_retried_with_back_off_and_ends_by_itself():
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]  # closed again: nothing listens there
    started = time.monotonic()
    with open_source(f"http://127.0.0.1:{port}/video.mjpg", give_up=1.5) as source:
        frames = list(source)
    assert frames == [] and source.stats.read == 0 and time.monotonic() - started < 8


def test_the_human_output_of_a_stream_says_what_was_dropped(younes_db, capsys):
    server = MjpegServer(door_frame("camera_0"), per_connection=6)
    capsys.readouterr()
    assert main(["--db", str(younes_db), "door", server.url, "--detector", "hog", "--give-up", "1"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"visit \d+: younes admitted", out)  # the visit's id in the database (facerec visits)
    assert "reconnection(s)" in out and "no annotated output" in out


# -- choosing the source ------------------------------------------------------------------------------------

@pytest.mark.parametrize("spec, poll, kind", [
    ("rtsp://cam/live", None, "stream"), ("http://cam/v.mjpg", None, "stream"),
    ("https://cam/snap.jpg", 1.0, "snapshot"), ("/dev/video0", None, "camera"),
    ("2", None, "camera"), ("door.mp4", None, "file"), ("frames", None, "file")])
def test_the_kind_of_source_follows_what_was_given(spec, poll, kind):
    assert source_kind(spec, poll) == kind


@pytest.mark.parametrize("spec, poll", [("ftp://cam/x", None), ("rtsp://cam/live", 1.0), ("door.mp4", 1.0)])
def test_a_source_the_door_cannot_read_is_an_invalid_argument(spec, poll):
    with pytest.raises(InvalidArgument, match="http|rtsp"):
        source_kind(spec, poll)


def test_credentials_and_queries_never_reach_the_source_name():
    assert safe_name("rtsp://admin:hunter2@10.0.0.5:554/stream1?key=1") == "rtsp://10.0.0.5:554/stream1"
    assert safe_name("http://u:p@[::1]:8080/snap.jpg") == "http://[::1]:8080/snap.jpg"


# -- the tracker and the per-visit decision on synthetic boxes and encodings ---------------------------------

def person(seed: int) -> np.ndarray:
    """A synthetic 128-d encoding about 1.0 away from any other person's (dlib: same person < 0.6)."""
    vector = np.random.default_rng(seed).normal(size=128)
    return (vector / np.linalg.norm(vector) * 0.7).astype(np.float32)


def seen(t: float, left: int, who: np.ndarray, jitter: int = 0, size: int = 100, sharp: float = 100.0) -> Sighting:
    noise = np.random.default_rng(int(t * 1000) + left).normal(scale=0.01, size=128).astype(np.float32)
    return Sighting(t, (left, 100, left + size, 100 + size), who + noise * (1 + jitter), sharp, f"f{t:.2f}")


def track(frames: list[tuple[float, list[Sighting]]], timeout: float = 2.0) -> list[Visit]:
    tracker = Tracker(timeout)
    ended = [visit for t, sightings in frames for visit in tracker.update(t, sightings)]
    return ended + tracker.flush()


def test_two_people_crossing_stay_two_visits():
    anna, bob = person(1), person(2)
    frames = []
    for step in range(21):  # anna walks right, bob left; their boxes overlap in the middle
        t, a, b = step * 0.1, 100 + 20 * step, 500 - 20 * step
        frames.append((t, [seen(t, a, anna), seen(t, b, bob)] if step % 2 else [seen(t, b, bob), seen(t, a, anna)]))
    visits = track(frames)
    assert len(visits) == 2 and [len(v.sightings) for v in visits] == [21, 21]
    for visit in visits:
        lefts = [s.box[0] for s in visit.sightings]
        assert lefts == sorted(lefts) or lefts == sorted(lefts, reverse=True)  # nobody swapped tracks


def test_a_face_that_leaves_and_returns_after_the_timeout_is_two_visits_and_before_it_one():
    anna = person(1)
    away = [(t / 10, [seen(t / 10, 200, anna)]) for t in range(10)] + [(t / 10, []) for t in range(10, 41)]
    back = [(t / 10, [seen(t / 10, 220, anna)]) for t in range(41, 50)]
    assert len(track(away + back, timeout=2.0)) == 2  # gone 3.2 s > 2 s
    assert len(track(away + back, timeout=5.0)) == 1


def test_a_stranger_does_not_continue_a_residents_track_in_the_same_place():
    anna, bob = person(1), person(2)
    frames = [(0.0, [seen(0.0, 200, anna)]), (0.1, [seen(0.1, 200, bob)])]
    assert [len(v.sightings) for v in track(frames)] == [1, 1]


def test_the_decision_uses_the_best_frames_and_their_median():
    anna = person(1)
    gallery = {"anna": anna, "bob": person(2)}

    def distances_to(encodings):
        return {name: np.linalg.norm(encodings - reference, axis=1) for name, reference in gallery.items()}

    good = [seen(t / 10, 200, anna, size=120, sharp=200.0) for t in range(4)]
    blurred = [Sighting(1.0 + t / 10, (200, 100, 320, 220), person(9 + t), 2.0) for t in range(6)]  # look like nobody
    visit = Visit(1, good + blurred)
    decision = decide(visit, distances_to, threshold=0.5)
    assert decision.identity == "anna" and decision.frames == 4 and not decision.gated
    assert decide(Visit(2, blurred), distances_to, threshold=0.5).gated  # no frame passes: the best one only
    assert decide(Visit(2, blurred), distances_to, threshold=0.5).frames == 1
    tiny = [seen(t / 10, 200, anna, size=20) for t in range(3)] + blurred[:1]
    assert decide(Visit(3, tiny), distances_to, threshold=0.5).gated


def test_one_bad_frame_among_five_does_not_change_the_median():
    anna = person(1)
    frames = [seen(t / 10, 200, anna) for t in range(4)] + [Sighting(0.5, (200, 100, 300, 200), person(5), 500.0)]

    def distances_to(encodings):
        return {"anna": np.linalg.norm(encodings - anna, axis=1)}

    decision = decide(Visit(1, frames), lambda e: distances_to(e), threshold=0.5)
    assert decision.identity == "anna" and decision.frames == 5 and decision.distance < 0.3


def test_a_video_file_is_cut_into_visits_on_stream_time(younes_db, tmp_path):
    video = tmp_path / "door.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 5.0, (640, 480))
    empty = np.full((480, 640, 3), 120, np.uint8)
    for frame in [door_frame("camera_0")] * 6 + [empty] * 5 + [door_frame("benoit")] * 6:
        writer.write(frame)
    writer.release()
    before = len(FaceDatabase(younes_db).door_log(1000))
    report = run_door(video, younes_db, visit_timeout=0.5, detector="hog", progress=False)
    assert [(v["identity"], v["seen"]) for v in report.visits] == [("younes", 6), (None, 6)]
    first = report.visits[0]
    seconds = (datetime.fromisoformat(first["end"]) - datetime.fromisoformat(first["start"])).total_seconds()
    assert seconds == pytest.approx(1.0, abs=0.01)  # frames 0-5 at 5 frames a second, not the wall clock
    assert len(FaceDatabase(younes_db).door_log(1000)) == before + 2 and report.out is None


def test_a_folder_named_like_a_camera_index_is_read_as_a_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert source_kind("0") == "camera"
    (tmp_path / "0").mkdir()
    assert source_kind("0") == "file" and source_kind("/dev/video0") == "camera"


def test_door_json_on_a_folder_stays_one_report_with_its_visits(younes_db, tmp_path, capsys):
    frames = tmp_path / "frames"
    frames.mkdir()
    for index in range(3):
        cv2.imwrite(str(frames / f"{index}.jpg"), door_frame("camera_0"))
    capsys.readouterr()
    assert main(["--db", str(younes_db), "door", str(frames), "--json", "--detector", "hog"]) == 0
    report = json.loads(capsys.readouterr().out)  # one object, as before visits
    assert report["frames"] == 3 and len(report["faces"]) == 3 and report["out"] is None
    assert len(report["visits"]) == 1 and VISIT_FIELDS <= set(report["visits"][0])
    assert report["visits"][0]["identity"] == "younes" and report["visits"][0]["seen"] == 3


def test_the_reader_backs_off_doubling_and_counts_one_reconnection_per_drop():
    from facerec.sources.live import LiveSource

    class Flaky(LiveSource):
        """Refuses twice, gives 3 frames, drops, gives 2 frames, then is gone."""

        name = "flaky"

        def __init__(self):
            super().__init__(give_up=0.5, backoff=(0.05, 0.1))
            self.plan, self.opened_at = [None, None, 3, 2], []

        def _open(self):
            self.opened_at.append(time.monotonic())
            count = self.plan.pop(0) if self.plan else None
            return None if count is None else [count]  # frames left on this connection

        def _read(self, handle):
            if handle[0] == 0:
                return None  # the stream drops
            handle[0] -= 1
            return np.zeros((4, 4, 3), np.uint8)

    source = Flaky()
    frames = list(source)
    assert len(frames) + source.stats.dropped == 5 and source.stats.read == 5 and source.stats.reconnects == 1
    gaps = np.diff(source.opened_at)
    assert gaps[0] >= 0.095 and gaps[1] >= 0.095 and max(gaps) < 1.0  # the 0.05 s doubled after each refusal


def test_a_visit_that_lasts_keeps_a_bounded_number_of_sightings_and_its_best_ones():
    from facerec.visits import MAX_SIGHTINGS

    anna = person(1)
    visit = Visit(1)
    for step in range(3 * MAX_SIGHTINGS):
        visit.add(seen(step / 10, 200, anna, sharp=500.0 if step == 7 else 50.0))
    assert len(visit.sightings) == MAX_SIGHTINGS and visit.seen == 3 * MAX_SIGHTINGS
    assert visit.start == 0.0 and visit.end == pytest.approx((3 * MAX_SIGHTINGS - 1) / 10)
    assert visit.best(1)[0].timestamp == pytest.approx(0.7)  # the sharpest frame was kept


def test_a_stream_that_never_answers_is_one_error_line_and_exit_code_1(younes_db, capsys):
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    capsys.readouterr()
    code = main(["--db", str(younes_db), "door", f"http://u:pw@127.0.0.1:{port}/video.mjpg", "--give-up", "1"])
    err = capsys.readouterr().err
    assert code == 1 and err.startswith("facerec: error: no frame came from http://127.0.0.1:") and "pw" not in err
    assert len(err.strip().splitlines()) == 1
