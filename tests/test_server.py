"""facerec serve's REST API, through FastAPI's test client: every route, every error code, the token, limits.

The page and a real browser are tested in ``tests/test_browser.py``.
"""

from __future__ import annotations

import io
import threading
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from helpers_issue4 import photo, weights_or_skip
from PIL import Image

from facerec.server.app import create_app

ERROR_KEYS = {"error", "message"}


def _file(name: str, field: str = "photo"):
    return (field, (photo(name).name, photo(name).read_bytes(), "image/jpeg"))


def _error(response, status: int, kind: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == ERROR_KEYS and body["error"] == kind and "\n" not in body["message"], body
    assert "/tmp/tmp" not in body["message"] and "photo-" not in body["message"], "temporary upload paths leaked"
    return body


@pytest.fixture()
def client(tmp_path):
    weights_or_skip()
    with TestClient(create_app(tmp_path / "faces.sqlite")) as test_client:
        yield test_client


def _enroll(client, name: str, *photos: str):
    response = client.post(f"/api/people/{name}/faces", files=[_file(p, "photos") for p in photos])
    assert response.status_code == 200, response.text
    return response.json()


def test_health_people_enroll_thumbnail_remove(client):
    assert client.get("/api/health").json() == {"status": "ok", "encoder": "dlib", "people": 0, "writable": True,
                                                "log": "written", "message": None}
    bad = ("photos", ("notes.txt", b"not an image", "text/plain"))
    response = client.post("/api/people/younes/faces", files=[_file("younes", "photos"), bad])
    body = response.json()
    assert body["name"] == "younes" and body["enrolled"] == ["younes.jpg"]
    assert [s["file"] for s in body["skipped"]] == ["notes.txt"] and "not an image" in body["skipped"][0]["reason"]
    assert client.get("/api/people").json() == [{"name": "younes", "faces": 1}]
    assert client.get("/api/health").json()["people"] == 1
    picture = client.get("/api/people/younes/thumbnail")
    assert picture.headers["content-type"] == "image/jpeg" and Image.open(io.BytesIO(picture.content)).size == (96, 96)
    again = _enroll(client, "younes", "younes")
    assert again["enrolled"] == [] and "already enrolled" in again["skipped"][0]["reason"]
    assert client.delete("/api/people/younes").json() == {"removed": 1}
    _error(client.delete("/api/people/younes"), 404, "UnknownIdentity")
    _error(client.get("/api/people/younes/thumbnail"), 404, "UnknownIdentity")


def test_identify_verify_and_the_door_log(client):
    _enroll(client, "younes", "younes")
    _enroll(client, "kian", "kian")
    found = client.post("/api/identify", files=[_file("camera_0")]).json()
    face = found["faces"][0]
    assert face["identity"] == "younes" and face["distance"] <= face["threshold"]
    assert len(face["box"]) == 4 and face["candidates"][0]["name"] == "younes"
    assert (found["width"], found["height"]) == (96, 96)
    assert face["cohort_score"] <= face["cohort_limit"]  # issue 23: the default decision's cohort rule
    assert face["promise"]["text"].startswith("about ") and face["promise"]["strangers_per_100"] <= 2
    stranger = client.post("/api/identify", files=[_file("camera_3")]).json()["faces"][0]
    log = client.get("/api/log?limit=10").json()
    assert [e["identity"] for e in log] == [stranger["identity"], "younes"]  # newest first
    assert log[1]["admitted"] is True and log[1]["source"] == "camera_0.jpg"
    assert set(log[0]) >= {"time", "identity", "distance", "admitted"}
    assert len(client.get("/api/log?limit=1").json()) == 1
    verdict = client.post("/api/verify", files=[_file("camera_0")], data={"name": "younes"}).json()
    assert verdict["match"] is True and set(verdict) >= {"match", "distance", "threshold", "box"}
    assert verdict["promise"]["people_measured"] >= 1 and verdict["cohort_score"] <= verdict["cohort_limit"]
    assert client.post("/api/verify", files=[_file("camera_0")], data={"name": "kian"}).json()["match"] is False


@pytest.mark.parametrize("payload, status, kind", [
    (b"", 400, "ImageNotReadable"),
    (b"GIF89a not really", 400, "ImageNotReadable"),
    ("truncated", 400, "ImageNotReadable"),
    ("blank", 400, "FaceNotFound"),
    ("pixel bomb", 413, "ImageTooLarge"),
])
def test_bad_photos_get_their_status_codes_never_a_500(client, payload, status, kind):
    _enroll(client, "younes", "younes")
    if payload == "truncated":
        payload = photo("camera_0").read_bytes()[:400]
    elif payload == "blank":
        buffer = io.BytesIO()
        Image.fromarray(np.full((200, 200, 3), 128, np.uint8)).save(buffer, "JPEG")
        payload = buffer.getvalue()
    elif payload == "pixel bomb":  # a tiny PNG whose header claims 50,000 x 50,000 pixels
        buffer = io.BytesIO()
        Image.new("1", (50_000, 50_000)).save(buffer, "PNG")
        payload = buffer.getvalue()
    for route, data in (("/api/identify", None), ("/api/verify", {"name": "younes"})):
        _error(client.post(route, files={"photo": ("door.jpg", payload, "image/jpeg")}, data=data), status, kind)
    _error(client.post("/api/people/ann/faces", files={"photos": ("ann.jpg", payload, "image/jpeg")}), status, kind)


def test_missing_fields_and_bad_arguments_are_400s_or_422s_not_500s(client):
    assert client.post("/api/identify").status_code == 422  # FastAPI's validation error: no photo field
    assert client.post("/api/verify", files=[_file("camera_0")]).status_code == 422  # no name
    assert client.get("/api/log?limit=-1").status_code == 422
    _error(client.post("/api/identify", files=[_file("camera_0")]), 409, "EmptyDatabase")
    _error(client.post("/api/verify", files=[_file("camera_0")], data={"name": "nobody"}), 404, "UnknownIdentity")


def test_an_upload_over_the_limit_is_refused_before_it_is_read(tmp_path):
    weights_or_skip()
    with TestClient(create_app(tmp_path / "faces.sqlite", max_upload_bytes=20_000)) as small:
        big = ("photo", ("big.jpg", b"\xff" * 50_000, "image/jpeg"))
        _error(small.post("/api/identify", files=[big]), 413, "UploadTooLarge")
        assert small.get("/api/health").status_code == 200


def test_a_token_guards_every_route_but_health_and_the_page(tmp_path):
    weights_or_skip()
    with TestClient(create_app(tmp_path / "faces.sqlite", token="s3cret")) as guarded:
        assert guarded.get("/api/health").status_code == 200
        assert guarded.get("/").status_code == 200 and guarded.get("/static/app.js").status_code == 200
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic s3cret"}):
            response = guarded.get("/api/people", headers=headers)
            _error(response, 401, "Unauthorized")
            assert response.headers["www-authenticate"] == "Bearer"
        _error(guarded.post("/api/identify", files=[_file("camera_0")]), 401, "Unauthorized")
        _error(guarded.get("/api/log"), 401, "Unauthorized")
        assert guarded.get("/api/people", headers={"Authorization": "Bearer s3cret"}).json() == []


def test_a_database_taken_by_another_encoder_meanwhile_is_a_409(tmp_path):
    """The server opened a new database (default dlib); a command line enrolled nn4 faces into it meanwhile."""
    from facerec.cli import main

    weights_or_skip()
    db = tmp_path / "faces.sqlite"
    with TestClient(create_app(db)) as client:
        assert main(["--db", str(db), "--encoder", "nn4", "enroll", "kian", str(photo("kian"))]) == 0
        _error(client.post("/api/people/younes/faces", files=[_file("younes", "photos")]), 409, "ModelMismatch")


def test_two_concurrent_enrollments_lose_nothing(client):
    names = {"younes": "younes", "kian": "kian", "arnaud": "arnaud", "dan": "dan"}
    errors = []

    def enroll(name):
        try:
            _enroll(client, name, names[name])
        except AssertionError as error:
            errors.append(error)

    threads = [threading.Thread(target=enroll, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert sorted(p["name"] for p in client.get("/api/people").json()) == sorted(names)


def test_the_page_and_the_openapi_docs_are_served(client):
    page = client.get("/")
    assert page.status_code == 200 and 'id="enroll-form"' in page.text and "/static/app.js" in page.text
    assert "cdn" not in page.text.lower() and "http" not in page.text.replace("http-equiv", "")
    schema = client.get("/openapi.json").json()
    for route in ("/api/people", "/api/people/{name}/faces", "/api/people/{name}", "/api/verify", "/api/identify",
                  "/api/log", "/api/health"):
        assert route in schema["paths"], route
    assert client.get("/docs").status_code == 200


def test_facerec_door_writes_the_log_and_facerec_log_lists_it(tmp_path, capsys):
    import json

    from facerec.cli import main

    weights_or_skip()
    db = str(tmp_path / "faces.sqlite")
    assert main(["--db", db, "enroll", "younes", str(photo("younes"))]) == 0
    assert main(["--db", db, "door", str(photo("camera_0")), "--out", str(tmp_path / "out")]) == 0
    capsys.readouterr()
    assert main(["--db", db, "--json", "log", "--limit", "5"]) == 0
    events = json.loads(capsys.readouterr().out)
    assert [(e["identity"], e["admitted"], Path(e["source"]).name) for e in events] == \
        [("younes", True, "camera_0.jpg")]
    assert main(["--db", db, "log"]) == 0
    assert "admitted" in capsys.readouterr().out


def test_serving_beyond_loopback_needs_a_token(tmp_path, capsys, monkeypatch):
    from facerec.cli import main

    monkeypatch.delenv("FACEREC_TOKEN", raising=False)
    assert main(["--db", str(tmp_path / "faces.sqlite"), "serve", "--host", "0.0.0.0"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "token" in err


def test_every_bad_image_of_the_robustness_list_is_a_4xx_at_every_route(client, tmp_path):
    from helpers_robustness import write_bad_images

    _enroll(client, "younes", "younes")
    cases = {name: path for name, path in write_bad_images(tmp_path / "bad").items() if path.is_file()}
    assert {"empty", "truncated_jpeg", "text_as_jpg", "huge_png", "one_pixel", "no_face"} <= set(cases)
    for name, path in cases.items():
        payload = path.read_bytes()
        for route, data, field in (("/api/identify", None, "photo"), ("/api/verify", {"name": "younes"}, "photo"),
                                   ("/api/people/ann/faces", None, "photos")):
            response = client.post(route, files={field: (path.name, payload, "image/jpeg")}, data=data)
            assert response.status_code in (400, 413), (name, route, response.text)
            assert set(response.json()) == ERROR_KEYS, (name, route)
    assert [p["name"] for p in client.get("/api/people").json()] == ["younes"]  # nothing half-enrolled
