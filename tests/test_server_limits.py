"""Bounded work per request (issue 22, item 4): decode and detection bounds, the token before the body,
413 for an oversized chunked upload, 408 for a slow body, and a resident's door check answered
within 2 s while another client sends crafted photos to a real ``uvicorn`` server on loopback.
"""

from __future__ import annotations

import asyncio
import io
import socket
import struct
import threading
import time

import numpy as np
import pytest
from helpers_issue4 import photo, weights_or_skip
from PIL import Image

from facerec import align
from facerec.exceptions import DetectionBudgetSpent, FaceNotFound, ImageTooLarge
from facerec.image import load_image


def blank_jpeg(width: int = 1600, height: int = 1200, grey: int = 200) -> bytes:
    """A blank grey JPEG (the 1600x1200 one is about 30 KB): HOG finds nothing, so auto runs the CNN."""
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (grey,) * 3).save(buffer, "JPEG", quality=75)
    return buffer.getvalue()


def huge_header_jpeg(width: int = 60000, height: int = 30000) -> bytes:
    """A 64x64 JPEG (under 1 KB) whose header claims ``width`` x ``height`` pixels."""
    data = bytearray(blank_jpeg(64, 64))
    start = data.find(b"\xff\xc0")  # baseline SOF0: length (2), precision (1), height (2), width (2)
    struct.pack_into(">HH", data, start + 5, height, width)
    return bytes(data)


def blank_png(side: int = 6300) -> bytes:
    """A blank white PNG of ``side`` x ``side`` pixels (about 130 KB, 120 MB decoded)."""
    buffer = io.BytesIO()
    Image.new("RGB", (side, side), (255, 255, 255)).save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


# --- decode bounds (unit) ---

def test_a_jpeg_header_claiming_60000x30000_is_refused_before_decoding(tmp_path):
    path = tmp_path / "huge.jpg"
    path.write_bytes(huge_header_jpeg())
    start = time.perf_counter()
    with pytest.raises(ImageTooLarge, match="60000x30000"):
        load_image(path, max_pixels=16_000_000)  # even its 1/8 draft (7500x3750) is over 16 MP
    assert time.perf_counter() - start < 1.0


def test_a_blank_png_over_the_pixel_bound_is_refused_before_decoding(tmp_path):
    path = tmp_path / "big.png"
    path.write_bytes(blank_png(5000))
    with pytest.raises(ImageTooLarge, match="5000x5000"):
        load_image(path, max_pixels=16_000_000)


def test_a_large_jpeg_is_decoded_at_reduced_scale_within_the_bound(tmp_path):
    path = tmp_path / "large.jpg"
    path.write_bytes(blank_jpeg(6000, 4000))  # 24 MP: decoded at 1/2 (3000x2000), then kept under the bound
    image = load_image(path, max_pixels=4_000_000)
    assert image.shape[0] * image.shape[1] <= 4_000_000 and image.shape[2] == 3


# --- detection bounds (unit) ---

def test_the_cnn_sees_at_most_cnn_max_pixels(monkeypatch):
    seen = []

    class Recorder:
        def __call__(self, image, upsample):
            seen.append(image.shape[0] * image.shape[1] * 4 ** upsample)
            return []

    monkeypatch.setattr(align, "_POOLS", {**align._POOLS, "cnn": align._Pool(Recorder, Recorder)})
    monkeypatch.setattr(align, "_cnn_processes", None)  # in this process, where the recorder is
    blank = np.full((1200, 1600, 3), 200, np.uint8)
    assert align.detect_faces(blank, detector="auto") == []
    assert seen and max(seen) <= align.CNN_MAX_PIXELS * 1.01


def test_auto_skips_the_cnn_with_a_clear_error_when_the_budget_is_spent():
    blank = np.full((1200, 1600, 3), 201, np.uint8)
    with pytest.raises(DetectionBudgetSpent, match="smaller photo") as caught:
        align.detect_faces(blank, detector="auto", budget=0.0)
    assert isinstance(caught.value, FaceNotFound)  # handlers of "no face" keep working


def test_a_blank_wall_is_still_face_not_found_and_bounded_in_time():
    blank = np.full((1200, 1600, 3), 202, np.uint8)
    start = time.perf_counter()
    with pytest.raises(FaceNotFound) as caught:
        align.find_faces(blank)
    assert type(caught.value) is FaceNotFound
    assert time.perf_counter() - start < 20  # 13 s of CNN alone before the bound on this 2-core machine


def test_detections_run_at_most_one_per_core_at_once(monkeypatch):
    busy, most, lock = 0, 0, threading.Lock()

    class Slow:
        def run(self, image, upsample, threshold):
            nonlocal busy, most
            with lock:
                busy += 1
                most = max(most, busy)
            time.sleep(0.05)
            with lock:
                busy -= 1
            return [], [], []

    monkeypatch.setattr(align, "_POOLS", {**align._POOLS, "hog": align._Pool(Slow, Slow)})
    monkeypatch.setattr(align, "work_slots", lambda: 2)
    images = [np.full((100, 100, 3), value, np.uint8) for value in range(8)]
    threads = [threading.Thread(target=align.detect_faces, args=(image,), kwargs={"detector": "hog"})
               for image in images]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most == 2


# --- the server, through the test client and at the ASGI level ---

@pytest.fixture()
def make_app(tmp_path):
    weights_or_skip()
    from facerec.server.app import create_app

    return lambda **options: create_app(tmp_path / "faces.sqlite", **options)


def _asgi(app, path: str, chunks: list[bytes], headers: list[tuple[bytes, bytes]], delay: float = 0.0,
          complete: bool = True):
    """Send one POST to ``app`` directly; returns (status, body, number of body chunks the app received).

    ``delay``: seconds before each chunk; ``complete=False``: the last chunk says more is coming, and nothing comes.
    """
    received, sent = [], []

    async def receive():
        if len(received) < len(chunks):
            await asyncio.sleep(delay)
            received.append(chunks[len(received)])
            more = not complete or len(received) < len(chunks)
            return {"type": "http.request", "body": received[-1], "more_body": more}
        await asyncio.sleep(3600)  # a client that never sends the rest
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(b"host", b"127.0.0.1:8000"), *headers], "client": ("127.0.0.1", 1),
             "server": ("127.0.0.1", 8000)}
    asyncio.run(asyncio.wait_for(app(scope, receive, send), 30))
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, body, len(received)


def test_a_request_without_the_token_is_refused_before_its_body_is_read(make_app):
    app = make_app(token="s3cret")
    chunks = [b"x" * 2**20] * 30  # 30 MB that must never be read
    boundary = [(b"content-type", b"multipart/form-data; boundary=xyz")]
    status, body, read = _asgi(app, "/api/identify", chunks, boundary)
    assert status == 401 and b"Unauthorized" in body and read == 0
    status, _, read = _asgi(app, "/api/people/eve/faces", chunks, [*boundary, (b"authorization", b"Bearer wrong")])
    assert status == 401 and read == 0
    status, _, read = _asgi(app, "/api/identify", chunks[:1], [*boundary, (b"authorization", b"Bearer s3cret")])
    assert status != 401 and read == 1  # with the token the body is read (and found not to be a form)


def test_an_oversized_chunked_upload_is_a_413_not_a_400(make_app):
    from fastapi.testclient import TestClient

    with TestClient(make_app(max_upload_bytes=2**20)) as client:
        def chunks():
            for _ in range(3):
                yield b"y" * 2**20

        response = client.post("/api/identify", content=chunks(),
                               headers={"content-type": "multipart/form-data; boundary=xyz"})
        assert "content-length" not in {k.lower() for k in response.request.headers}
        assert response.status_code == 413, response.text
        assert response.json()["error"] == "UploadTooLarge"


def test_a_body_that_stops_arriving_is_a_408(make_app):
    app = make_app(body_timeout=1.0, body_idle=0.3)
    start = time.perf_counter()
    form = [(b"content-type", b"multipart/form-data; boundary=xyz")]
    part = (b'--xyz\r\nContent-Disposition: form-data; name="photo"; filename="door.jpg"\r\n'
            b"Content-Type: image/jpeg\r\n\r\n")
    status, body, read = _asgi(app, "/api/identify", [part, b"\xff" * 100], form, complete=False)
    assert status == 408 and b"did not arrive in time" in body and read == 2
    assert time.perf_counter() - start < 5
    status, _, read = _asgi(app, "/api/identify", [part] + [b"\xff" * 100] * 20, form, delay=0.2, complete=False)
    assert status == 408 and read < 20  # each chunk in time, the whole body not: 20 x 0.2 s > 1 s


# --- a real server on loopback: the resident while an attacker sends crafted photos ---

@pytest.fixture()
def live_server(make_app):
    import httpx
    import uvicorn

    app = make_app()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            httpx.get(url + "/api/health", timeout=2)
            break
        except httpx.HTTPError:
            time.sleep(0.05)
    yield url
    server.should_exit = True
    thread.join(timeout=30)


def test_crafted_photos_are_bounded_while_a_resident_is_answered_within_2_s(live_server):
    import httpx

    resident = photo("younes").read_bytes()
    with httpx.Client(base_url=live_server, timeout=60) as client:
        enrolled = client.post("/api/people/younes/faces", files={"photos": ("younes.jpg", resident, "image/jpeg")})
        assert enrolled.json()["enrolled"] == ["younes.jpg"], enrolled.text
        client.post("/api/identify", files={"photo": ("door.jpg", resident, "image/jpeg")})  # warm-up
    # blank photos of greys no other test uses: their (empty) boxes are not remembered yet
    crafted = [("blank.jpg", blank_jpeg(grey=91), {400, 503}), ("huge.jpg", huge_header_jpeg(), {413}),
               ("big.png", blank_png(), {413}), ("blank.jpg", blank_jpeg(grey=92), {400, 503})]
    answers, stop = [], threading.Event()

    def attacker():
        with httpx.Client(base_url=live_server, timeout=120) as session:
            for name, data, _ in crafted:
                start = time.perf_counter()
                response = session.post("/api/identify", files={"photo": (name, data, "image/jpeg")})
                answers.append((name, response.status_code, time.perf_counter() - start))
        stop.set()

    thread = threading.Thread(target=attacker)
    thread.start()
    door_checks = []
    with httpx.Client(base_url=live_server, timeout=60) as session:
        while not stop.is_set() or not door_checks:
            start = time.perf_counter()
            response = session.post("/api/identify", files={"photo": ("door.jpg", resident, "image/jpeg")})
            door_checks.append(time.perf_counter() - start)
            assert response.status_code == 200 and response.json()["faces"][0]["identity"] == "younes"
            time.sleep(0.1)
    thread.join()
    print("crafted:", answers, "door checks:", [round(s, 2) for s in door_checks])
    for (name, status, seconds), (_, _, expected) in zip(answers, crafted):
        assert status in expected, (name, status)
        assert seconds < 20, (name, seconds)  # before: 14 s, 20 s and 41 s each, holding the only lock
    if align.work_slots() >= 2:  # one core: the resident may wait for one bounded detection
        assert max(door_checks) < 2.0, door_checks


def test_a_key_of_the_wrong_role_is_refused_before_the_body_is_read(make_app, tmp_path):
    from facerec.database import FaceDatabase
    from facerec.server.security import new_key

    with FaceDatabase(tmp_path / "faces.sqlite") as db:
        door = new_key(db, "front-door", "door")
    app = make_app()
    chunks = [b"x" * 2**20] * 30
    form = [(b"content-type", b"multipart/form-data; boundary=xyz"), (b"authorization", f"Bearer {door}".encode())]
    status, body, read = _asgi(app, "/api/people/eve/faces", chunks, form)
    assert status == 403 and b"Forbidden" in body and read == 0  # a door key may not enroll: nothing was read
    status, _, read = _asgi(app, "/api/identify", chunks[:1], form)
    assert status not in (401, 403) and read == 1  # its own route: the body is read
