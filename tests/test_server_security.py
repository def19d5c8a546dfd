"""facerec serve's same-origin rules, Host check, security headers, /docs without a CDN, and the roles of keys.

Through FastAPI's test client (``Host: testserver`` from the in-process client is local, as loopback is);
see docs/ERRORS.md, "Same origin, headers and keys".
"""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from helpers_issue4 import photo, weights_or_skip

from facerec.database import FaceDatabase
from facerec.server.app import create_app
from facerec.server.security import CONTENT_SECURITY_POLICY, SECURITY_HEADERS, Access, new_key, requires

ERROR_KEYS = {"error", "message"}
EVIL = "http://evil.example"


def _error(response, status: int, kind: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == ERROR_KEYS and body["error"] == kind and "\n" not in body["message"], body
    return body


def _headers_ok(response) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, (response.request.url, name, response.headers)


def _photos(*names: str, field: str = "photos"):
    return [(field, (photo(name).name, photo(name).read_bytes(), "image/jpeg")) for name in names]


@pytest.fixture()
def client(tmp_path):
    weights_or_skip()
    with TestClient(create_app(tmp_path / "faces.sqlite")) as test_client:
        yield test_client


# -- same origin -------------------------------------------------------------------------------


@pytest.mark.parametrize("headers", [
    {"Origin": EVIL},
    {"Sec-Fetch-Site": "cross-site"},
    {"Sec-Fetch-Site": "same-site"},  # another port of the same host is same-site, not same-origin
    {"Origin": "null"},  # a sandboxed frame
    {"Origin": "http://testserver:8080"},  # same host, another port
    {"Origin": "https://testserver"},  # same host, another scheme
    {"Origin": "http://testserver", "Sec-Fetch-Site": "cross-site"},
])
def test_a_cross_origin_write_is_refused_and_nothing_is_enrolled(client, headers):
    body = _error(client.post("/api/people/younes/faces", files=_photos("kian"), headers=headers), 403,
                  "CrossOriginRequest")
    assert "another" in body["message"]
    _error(client.delete("/api/people/younes", headers=headers), 403, "CrossOriginRequest")
    _error(client.post("/api/identify", files=_photos("camera_0", field="photo"), headers=headers), 403,
           "CrossOriginRequest")
    assert client.get("/api/people").json() == []
    assert client.get("/api/log").json() == []


def test_a_same_origin_write_and_a_script_without_origin_are_allowed(client):
    same = {"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"}
    response = client.post("/api/people/younes/faces", files=_photos("younes"), headers=same)
    assert response.status_code == 200 and response.json()["enrolled"] == ["younes.jpg"], response.text
    typed = client.post("/api/identify", files=_photos("camera_0", field="photo"), headers={"Sec-Fetch-Site": "none"})
    assert typed.status_code == 200, typed.text  # "none": the user's own action (address bar, bookmark)
    assert client.post("/api/people/kian/faces", files=_photos("kian")).status_code == 200  # curl: no Origin
    assert client.get("/api/people", headers={"Origin": EVIL}).status_code == 200  # reads: the Host rule's job


def test_the_origin_must_match_the_port_and_the_name_the_browser_used(tmp_path):
    weights_or_skip()
    with TestClient(create_app(tmp_path / "faces.sqlite", allowed_hosts=["localhost", "127.0.0.1"]),
                    base_url="http://127.0.0.1:8000") as port_client:
        ok = port_client.delete("/api/people/nobody", headers={"Origin": "http://127.0.0.1:8000"})
        _error(ok, 404, "UnknownIdentity")  # past the origin rule
        for origin in ("http://127.0.0.1:3000", "http://localhost:8000", "http://127.0.0.1"):
            _error(port_client.delete("/api/people/nobody", headers={"Origin": origin}), 403, "CrossOriginRequest")


# -- Host (DNS rebinding) ---------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/people", "/", "/api/log", "/static/app.js", "/api/health", "/docs"])
def test_a_foreign_host_is_421_everywhere(client, path):
    for host in ("evil.example", "evil.example:8000", "127.0.0.1.evil.example", "[::2]:8000"):
        response = client.get(path, headers={"Host": host})
        body = _error(response, 421, "MisdirectedRequest")
        assert "--allowed-host" in body["message"]
        _headers_ok(response)
    _error(client.post("/api/people/younes/faces", files=_photos("younes"), headers={"Host": "evil.example"}), 421,
           "MisdirectedRequest")
    assert client.get("/api/people").json() == []


def test_loopback_names_and_added_names_are_answered(tmp_path):
    weights_or_skip()
    with TestClient(create_app(tmp_path / "faces.sqlite", allowed_hosts=["127.0.0.1", "localhost", "::1",
                                                                         "door.example"])) as local:
        for host in ("127.0.0.1", "127.0.0.1:8000", "localhost:8000", "LOCALHOST", "[::1]:8000", "door.example:80",
                     "door.example."):
            assert local.get("/api/people", headers={"Host": host}).status_code == 200, host
        _error(local.get("/api/people", headers={"Host": "evil.example"}), 421, "MisdirectedRequest")


# -- headers on every response ------------------------------------------------------------------


def test_the_security_headers_are_on_every_kind_of_response(tmp_path):
    weights_or_skip()
    app = create_app(tmp_path / "faces.sqlite", max_upload_bytes=10_000)
    with TestClient(app, raise_server_exceptions=False) as client:
        responses = {
            "page": client.get("/"), "static": client.get("/static/style.css"), "json": client.get("/api/people"),
            "docs": client.get("/docs"), "swagger": client.get("/static/swagger-ui/swagger-ui.css"),
            "openapi": client.get("/openapi.json"), "404 route": client.get("/nowhere"),
            "404 static": client.get("/static/nothing.js"),
            "404 person": client.delete("/api/people/nobody"), "422": client.get("/api/log?limit=-1"),
            "400": client.post("/api/people/x/faces", files={"photos": ("x.jpg", b"", "image/jpeg")}),
            "413": client.post("/api/identify", files={"photo": ("x.jpg", b"\xff" * 20_000, "image/jpeg")}),
            "403 origin": client.delete("/api/people/x", headers={"Origin": EVIL}),
            "421": client.get("/", headers={"Host": "evil.example"}),
        }
        app.state.service.db.people = lambda: 1 / 0  # an unexpected error: FastAPI answers it outside middleware
        responses["500"] = client.get("/api/people")
        new_key(FaceDatabase(tmp_path / "faces.sqlite"), "wall", "viewer")
        responses["401"] = client.get("/api/log")
    for kind, response in responses.items():
        expected = int(kind[:3]) if kind[:3].isdigit() else 200
        assert response.status_code == expected, (kind, response.text)
        _headers_ok(response)
    assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY and "unsafe" not in CONTENT_SECURITY_POLICY
    assert re.search(r"img-src 'self' blob: data:", CONTENT_SECURITY_POLICY)


def test_docs_are_served_from_the_package_without_any_outside_url(client):
    page = client.get("/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    urls = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert not re.search(r"https?://|//[a-z]", html, re.IGNORECASE), html
    assert "<script>" not in html and "style=" not in html  # nothing inline: the CSP allows 'self' only
    assert {"/static/swagger-ui/swagger-ui-bundle.js", "/static/swagger-ui/swagger-ui.css", "/static/docs.js"} <= set(
        urls)
    for url in urls:
        asset = client.get(url)
        assert asset.status_code == 200 and len(asset.content) > 100, url
    assert "javascript" in client.get("/static/swagger-ui/swagger-ui-bundle.js").headers["content-type"]
    assert "/openapi.json" in client.get("/static/docs.js").text
    schema = client.get("/openapi.json").json()
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert client.get("/redoc").status_code == 404  # ReDoc would load from a CDN


# -- roles --------------------------------------------------------------------------------------

ROUTES = [  # (method, path, role needed, request keyword arguments); a request that passes gets no 401/403
    ("GET", "/api/people", "viewer", {}),
    ("GET", "/api/people/nobody/thumbnail", "viewer", {}),
    ("GET", "/api/log", "viewer", {}),
    ("GET", "/api/visits", "viewer", {}),
    ("GET", "/api/visits/1/crop", "viewer", {}),
    ("POST", "/api/visits/1/assign", "admin", {"json": {"stranger": True}}),
    ("POST", "/api/identify", "door", {"files": {"photo": ("x.jpg", b"", "image/jpeg")}}),
    ("GET", "/api/door/check", "door", {}),
    ("POST", "/api/door/check", "door", {"files": {"frames": ("x.jpg", b"", "image/jpeg")}}),
    ("POST", "/api/verify", "door", {"files": {"photo": ("x.jpg", b"", "image/jpeg")}, "data": {"name": "nobody"}}),
    ("POST", "/api/people/nobody/faces", "admin", {"files": {"photos": ("x.jpg", b"", "image/jpeg")}}),
    ("DELETE", "/api/people/nobody", "admin", {}),
    ("GET", "/api/people/nobody/export", "admin", {}),
    ("POST", "/api/log/purge", "admin", {}),
    ("GET", "/api/library/groups", "viewer", {}),
    ("POST", "/api/library/cluster", "admin", {}),
    ("POST", "/api/library/groups/1/name", "admin", {"data": {"name": "nobody"}}),
    ("POST", "/api/library/groups/1/merge", "admin", {"data": {"other": "2"}}),
    ("POST", "/api/library/faces/1/move", "admin", {"data": {"group": "none"}}),
    ("POST", "/api/library/faces/1/not", "admin", {"data": {"name": "nobody"}}),
    ("GET", "/api/library/faces/1/crop", "viewer", {}),
    ("GET", "/api/library/find", "viewer", {"params": {"name": "nobody"}}),
]
OPEN = [("GET", "/"), ("GET", "/api/health"), ("GET", "/static/app.js"), ("GET", "/docs"), ("GET", "/openapi.json")]
ALLOWED = {"admin": {"admin", "door", "viewer"}, "door": {"door"}, "viewer": {"viewer"}}  # key role -> routes' roles


@pytest.fixture(scope="module")
def keyed(tmp_path_factory):
    """A server whose database holds one key of each role, and a token (an admin key too)."""
    weights_or_skip()
    path = tmp_path_factory.mktemp("keyed") / "faces.sqlite"
    with FaceDatabase(path) as db:
        keys = {role: new_key(db, f"{role}-1", role) for role in ("admin", "door", "viewer")}
    keys["token"] = "a-token-of-the-server-ü"
    with TestClient(create_app(path, token=keys["token"])) as client:
        yield client, keys


def test_the_route_table_lists_every_guarded_route(keyed):
    client, _ = keyed
    served = {(method, route.path) for route in client.app.routes for method in getattr(route, "methods", ())
              if method != "HEAD" and route.path not in {"/", "/docs", "/api/health", "/openapi.json"}}
    placeholders = [(r"/nobody", "/{name}"), (r"/visits/1", "/visits/{visit}"), (r"/groups/1", "/groups/{group}"),
                    (r"/faces/1", "/faces/{face}")]
    table = set()
    for method, path, _, _ in ROUTES:
        for number, name in placeholders:
            path = re.sub(number, name, path)
        table.add((method, path))
    assert served == table, "a new route needs a role: add it to ROUTES (and to docs/ERRORS.md)"


@pytest.mark.parametrize("method, path, needs, options", ROUTES, ids=[f"{m} {p}" for m, p, _, _ in ROUTES])
@pytest.mark.parametrize("holder", ["admin", "door", "viewer", "token", "none", "unknown", "basic"])
def test_each_role_is_allowed_exactly_its_routes(keyed, method, path, needs, options, holder):
    client, keys = keyed
    headers = {}
    if holder in keys:
        headers = {"Authorization": b"Bearer " + keys[holder].encode("utf-8")}
    elif holder == "unknown":
        headers = {"Authorization": "Bearer " + "x" * 43}
    elif holder == "basic":
        headers = {"Authorization": "Basic " + keys["admin"]}
    response = client.request(method, path, headers=headers, **options)
    role = "admin" if holder == "token" else holder
    if role in ALLOWED:
        if needs in ALLOWED[role]:
            assert response.status_code not in (401, 403), response.text
            assert response.status_code in (200, 400, 404, 409), response.text  # 409: nobody is enrolled
        else:
            body = _error(response, 403, "Forbidden")
            assert role in body["message"] and needs in body["message"]
    else:
        _error(response, 401, "Unauthorized")
        assert response.headers["www-authenticate"] == "Bearer"


def test_the_page_health_docs_and_static_files_need_no_key(keyed):
    client, _ = keyed
    for method, path in OPEN:
        assert client.request(method, path).status_code == 200, path


def test_a_non_ascii_token_matches_as_utf8_bytes(keyed):
    client, keys = keyed
    assert client.get("/api/people", headers={"Authorization": b"Bearer " + keys["token"].encode()}).status_code == 200
    access = client.app.state.access  # raw bytes, as uvicorn hands them over (the test client re-encodes headers)
    assert access.role_of(b"Bearer " + keys["token"].encode("utf-8")) == "admin"
    assert access.role_of((b"Bearer " + keys["token"].encode("utf-8")).decode("latin-1")) == "admin"  # Starlette's str
    assert access.role_of(b"Bearer " + keys["token"].encode("latin-1")) is None  # the same letters, other bytes


def test_role_of_is_a_pure_lookup_usable_before_the_body(tmp_path):
    with FaceDatabase(tmp_path / "faces.sqlite") as db:
        door = new_key(db, "front-door", "door")
    access = Access(tmp_path / "faces.sqlite", token="t" * 16)
    try:
        assert access.role_of(b"Bearer " + door.encode()) == "door"
        assert access.role_of("bearer  " + door + " ") == "door"
        assert access.role_of("Bearer " + "t" * 16) == "admin"
        for header in (None, b"", b"Bearer", b"Bearer wrong", b"Basic " + door.encode(), door.encode()):
            assert access.role_of(header) is None, header
        assert access.required
    finally:
        access.close()
    with pytest.raises(Exception, match="unknown role"):
        requires("guest")


def test_without_token_or_keys_routes_stay_open_and_a_first_key_closes_them(client, tmp_path):
    assert client.get("/api/people").status_code == 200
    with FaceDatabase(tmp_path / "faces.sqlite") as db:
        key = new_key(db, "wall", "viewer")
    _error(client.get("/api/people"), 401, "Unauthorized")  # at once: the server reads the keys per request
    assert client.get("/api/people", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    with FaceDatabase(tmp_path / "faces.sqlite") as db:
        db.revoke_key("wall")
        assert not db.has_keys()
    assert client.get("/api/people").status_code == 200
