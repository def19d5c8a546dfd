"""``facerec keys`` (add, list, revoke) and ``facerec serve``'s token options, checked through the served app.

``serve`` runs with ``uvicorn.run`` replaced by a stub that keeps the application, which the
test client then asks.
"""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from helpers_issue4 import weights_or_skip

from facerec.cli import main
from facerec.database import FaceDatabase


@pytest.fixture
def run(capsys):
    def runner(*args) -> tuple[int, str, str]:
        code = main([str(arg) for arg in args])
        out, err = capsys.readouterr()
        return code, out, err

    return runner


@pytest.fixture
def served(monkeypatch):
    """``served(*serve_args) -> app``: run ``facerec ... serve`` with uvicorn stubbed out."""
    import uvicorn

    apps = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: apps.append((app, options)))
    monkeypatch.delenv("FACEREC_TOKEN", raising=False)

    def serve(*args):
        assert main([str(arg) for arg in args]) == 0
        return apps[-1][0]

    return serve


def _one_error_line(err: str, *fragments: str) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("facerec: error: "), err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


def _bearer(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


def test_keys_add_prints_the_key_alone_on_its_last_line_and_stores_only_its_hash(run, tmp_path):
    db = tmp_path / "faces.sqlite"
    code, out, err = run("--db", db, "keys", "add", "front-door", "--role", "door")
    assert code == 0 and err == ""
    lines = out.rstrip("\n").splitlines()
    key = lines[-1]
    assert len(lines) >= 2 and "shown" in out and key.strip() == key and " " not in key
    assert len(key) >= 43  # secrets.token_urlsafe(32): 256 bits
    files = [db, *tmp_path.glob("faces.sqlite-*")]  # the WAL too
    stored = b"".join(path.read_bytes() for path in files)
    assert key.encode() not in stored and b"front-door" in stored
    code, out, _ = run("--db", db, "keys", "add", "wall", "--role", "viewer", "--json")
    payload = json.loads(out.strip().splitlines()[-1])
    assert code == 0 and payload["role"] == "viewer" and len(payload["key"]) >= 43
    assert payload["key"] != key


def test_keys_list_shows_names_and_roles_never_the_keys(run, tmp_path):
    db = tmp_path / "faces.sqlite"
    keys = [run("--db", db, "keys", "add", name, "--role", role)[1].splitlines()[-1]
            for name, role in (("admin-laptop", "admin"), ("front-door", "door"))]
    code, out, _ = run("--db", db, "keys", "list", "--json")
    listed = json.loads(out)
    assert code == 0 and [(k["name"], k["role"]) for k in listed] == [("admin-laptop", "admin"), ("front-door", "door")]
    assert all(set(k) == {"name", "role", "created", "last_used"} for k in listed)
    code, out, _ = run("--db", db, "keys", "list")
    assert code == 0 and "front-door" in out and "2 key(s)" in out
    assert not any(key in out for key in keys)


def test_keys_refuse_bad_names_roles_duplicates_and_unknown_revokes(run, tmp_path):
    db = tmp_path / "faces.sqlite"
    for name in ("", "two words", ".dot-first", "x" * 65, "naïve", "a/b"):
        code, _, err = run("--db", db, "keys", "add", name, "--role", "door")
        assert code == 2, name
        _one_error_line(err, "name")
    assert run("--db", db, "keys", "add", "door", "--role", "guest")[0] == 2  # argparse: not a role
    assert run("--db", db, "keys", "add", "front-door", "--role", "door")[0] == 0
    code, _, err = run("--db", db, "keys", "add", "front-door", "--role", "admin")
    assert code == 2
    _one_error_line(err, "exists already")
    code, _, err = run("--db", db, "keys", "revoke", "back-door")
    assert code == 2
    _one_error_line(err, "no key named 'back-door'", "front-door")
    code, _, err = run("--db", tmp_path / "none.sqlite", "keys", "list")
    assert code == 2 and not (tmp_path / "none.sqlite").exists()
    _one_error_line(err, "does not exist")


def test_a_key_works_for_its_role_until_it_is_revoked(run, served, tmp_path):
    weights_or_skip()
    db = tmp_path / "faces.sqlite"
    door = run("--db", db, "keys", "add", "front-door", "--role", "door")[1].splitlines()[-1]
    wall = run("--db", db, "keys", "add", "wall", "--role", "viewer")[1].splitlines()[-1]
    with TestClient(served("--db", db, "serve")) as client:
        assert client.get("/api/log", headers=_bearer(wall)).status_code == 200
        assert client.get("/api/log", headers=_bearer(door)).status_code == 403
        assert client.delete("/api/people/x", headers=_bearer(wall)).status_code == 403
        assert client.post("/api/identify", headers=_bearer(door),
                           files={"photo": ("x.jpg", b"", "image/jpeg")}).status_code == 409  # past the key: nobody in
        assert client.get("/api/log").status_code == 401
        code, out, _ = run("--db", db, "keys", "list", "--json")
        assert {k["name"]: k["last_used"] is not None for k in json.loads(out)} == {"front-door": True, "wall": True}
        assert run("--db", db, "keys", "revoke", "wall")[0] == 0
        response = client.get("/api/log", headers=_bearer(wall))
        assert response.status_code == 401 and response.json()["error"] == "Unauthorized"
        assert response.headers["www-authenticate"] == "Bearer"
        assert client.post("/api/identify", headers=_bearer(door),
                           files={"photo": ("x.jpg", b"", "image/jpeg")}).status_code == 409


@pytest.mark.parametrize("how", ["option", "environment", "file"])
def test_a_token_shorter_than_16_characters_is_refused(run, tmp_path, monkeypatch, how):
    monkeypatch.delenv("FACEREC_TOKEN", raising=False)
    args = ["--db", tmp_path / "faces.sqlite", "serve"]
    if how == "option":
        args += ["--token", "s3cret"]
    elif how == "environment":
        monkeypatch.setenv("FACEREC_TOKEN", "s3cret")
    else:
        (tmp_path / "token").write_text("s3cret\n")
        args += ["--token-file", tmp_path / "token"]
    code, _, err = run(*args)
    assert code == 2 and "Traceback" not in err
    assert "at least 16" in err.splitlines()[-1] and err.splitlines()[-1].startswith("facerec: error: ")
    assert not (tmp_path / "faces.sqlite").exists()  # refused before anything is opened


def test_token_file_and_facerec_token_are_admin_keys_and_token_on_the_command_line_warns(served, tmp_path,
                                                                                          monkeypatch, capsys):
    weights_or_skip()
    token = "ünïcode-token-of-twenty-chars"
    (tmp_path / "token").write_text(token + "\n", encoding="utf-8")
    db = tmp_path / "faces.sqlite"
    for args, env in ((["--token-file", tmp_path / "token"], None), ([], token), (["--token", token], None)):
        if env:
            monkeypatch.setenv("FACEREC_TOKEN", env)
        else:
            monkeypatch.delenv("FACEREC_TOKEN", raising=False)
        app = served("--db", db, "serve", *args)
        err = capsys.readouterr().err
        assert ("visible to other users" in err) == ("--token" in args), err
        with TestClient(app) as client:
            admin = {"Authorization": b"Bearer " + token.encode("utf-8")}
            assert client.get("/api/people").status_code == 401
            assert client.get("/api/people", headers=admin).status_code == 200
            assert client.delete("/api/people/nobody", headers=admin).status_code == 404  # an admin route


def test_token_options_are_checked(run, tmp_path, monkeypatch):
    monkeypatch.delenv("FACEREC_TOKEN", raising=False)
    db = tmp_path / "faces.sqlite"
    (tmp_path / "token").write_text("t" * 20)
    cases = [(["--token", "t" * 20, "--token-file", tmp_path / "token"], "not both"),
             (["--token-file", tmp_path / "missing"], "cannot read the token file"),
             (["--token", "with a space in it!!"], "spaces")]
    for args, fragment in cases:
        code, _, err = run("--db", db, "serve", *args)
        assert code == 2
        _one_error_line(err, fragment)


def test_off_loopback_a_key_in_the_database_is_enough_and_allowed_hosts_are_answered(run, served, tmp_path):
    weights_or_skip()
    db = tmp_path / "faces.sqlite"
    code, _, err = run("--db", db, "serve", "--host", "0.0.0.0")
    assert code == 2 and "keys add" in err
    admin = run("--db", db, "keys", "add", "admin", "--role", "admin")[1].splitlines()[-1]
    app = served("--db", db, "serve", "--host", "0.0.0.0", "--allowed-host", "door.example")
    with TestClient(app, base_url="http://door.example:8000") as client:
        assert client.get("/api/people", headers=_bearer(admin)).status_code == 200
        assert client.get("/api/people").status_code == 401
        assert client.get("/api/people", headers={"Host": "evil.example:8000", **_bearer(admin)}).status_code == 421
    with FaceDatabase(db) as opened:
        assert opened.has_keys()
