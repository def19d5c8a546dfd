"""Who may ask ``facerec serve`` what: same-origin rules, the Host check, security headers and access keys.

Three layers, in this order:

1. :class:`SameOrigin` (ASGI middleware, outermost): a request whose ``Host`` is not an allowed
   name gets 421 (so a DNS-rebinding page reads nothing); a state-changing request (POST, PUT,
   PATCH, DELETE) sent by a browser from another origin (``Origin`` not this server's own
   ``scheme://host:port``, or ``Sec-Fetch-Site`` other than ``same-origin``/``none``) gets 403.
   A request with neither header (curl, a script) is not a browser's cross-site request and passes.
   Every response, errors and static files included, carries :data:`SECURITY_HEADERS`
   (Content-Security-Policy with ``frame-ancestors 'none'``, X-Frame-Options, nosniff, no referrer).
2. :class:`Access`: the server's token (an ``admin`` key) and the database's access keys.
   :meth:`Access.role_of` is a pure lookup, ``Authorization`` header -> role or None, usable
   from an ASGI middleware (raw header bytes) as well as from a FastAPI dependency.
3. :func:`requires`: the dependency a route declares (``dependencies=[requires("viewer")]``):
   401 without a known key, 403 for a key whose role is not allowed there.

Roles: ``admin`` may do everything; ``door`` identifies and verifies (which writes the log);
``viewer`` reads people, their pictures and the log. Without a token and without any key in
the database (the default on loopback) every route is open, as before; the same-origin and
Host rules apply all the same.

Keys: :func:`new_key` makes a 256-bit random key (``secrets.token_urlsafe(32)``), stores only
its SHA-256 and returns it once; lookups compare digests with :func:`hmac.compare_digest`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import socket
import threading
import time
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request, Security
from fastapi.security import HTTPBearer

from facerec.exceptions import FaceRecError, InvalidArgument

ROLES = ("admin", "door", "viewer")
ROLE_HELP = {"admin": "everything: enroll, remove, and every other route",
             "door": "identify and verify (which write the door log)",
             "viewer": "read the people, their pictures and the door log"}
MIN_TOKEN_LENGTH = 16
KEY_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
WILDCARD_HOSTS = ("0.0.0.0", "::", "")
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SAME_SITE_FETCH = frozenset({"same-origin", "none"})
TOUCH_EVERY_S = 60  # a key's "last used" is written at most once a minute

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
    "media-src 'self' blob: mediastream:; connect-src 'self'; font-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
SECURITY_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "permissions-policy": "camera=(self), microphone=(), geolocation=()",
}


class Unauthorized(FaceRecError, PermissionError):
    """A missing, unknown or revoked key (401, with ``WWW-Authenticate: Bearer``)."""


class Forbidden(FaceRecError, PermissionError):
    """A known key whose role does not allow the route (403)."""


# -- keys and tokens ------------------------------------------------------------------


def hash_key(key: bytes | str) -> str:
    """Hex SHA-256 of a key's UTF-8 bytes (what the database stores; the key itself is never stored)."""
    return hashlib.sha256(key.encode("utf-8") if isinstance(key, str) else key).hexdigest()


def check_key_name(name: str) -> str:
    """A key's name: 1-64 of letters, digits, ``.``, ``_``, ``-``, starting with a letter or digit."""
    if not isinstance(name, str) or not KEY_NAME.fullmatch(name):
        raise InvalidArgument(f"a key's name is 1-64 letters, digits, '.', '_' or '-' (starting with a letter or "
                              f"digit), got {name!r}")
    return name


def check_role(role: str) -> str:
    if role not in ROLES:
        raise InvalidArgument(f"unknown role {role!r}; the roles are {', '.join(ROLES)}")
    return role


def check_token(token: str, source: str = "--token") -> str:
    """A server token as given (``--token``, ``--token-file``, ``FACEREC_TOKEN``): long enough, one line.

    Non-ASCII tokens are accepted: a client sends their UTF-8 bytes (``curl -H``, scripts); browsers'
    ``fetch`` cannot send non-ASCII header values, so the page needs an ASCII key.
    """
    if not isinstance(token, str) or len(token) < MIN_TOKEN_LENGTH:
        raise InvalidArgument(f"the token from {source} is {len(token or '')} character(s); use at least "
                              f"{MIN_TOKEN_LENGTH} (make one with: python -c \"import secrets; "
                              "print(secrets.token_urlsafe(32))\", or create keys with `facerec keys add`)")
    if any(not ch.isprintable() or ch.isspace() for ch in token):
        raise InvalidArgument(f"the token from {source} holds spaces or control characters, which an HTTP header "
                              "cannot carry; use letters, digits and punctuation")
    return token


def read_token_file(path: str | Path) -> str:
    """The token in a file (its first line, surrounding whitespace removed), checked by :func:`check_token`."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InvalidArgument(f"the token file {path} is not UTF-8 text") from None
    except OSError as error:
        raise InvalidArgument(f"cannot read the token file {path}: {error.strerror or error}") from None
    lines = text.strip().splitlines()
    return check_token(lines[0].strip() if lines else "", f"the token file {path}")


def new_key(db, name: str, role: str) -> str:
    """Create a key ``name`` with ``role`` in the database ``db``; returns the key (shown once, stored hashed)."""
    name, role = check_key_name(name), check_role(role)
    key = secrets.token_urlsafe(32)  # 256 random bits
    db.add_key(name, role, hash_key(key))
    return key


def bearer(header: bytes | str | None) -> bytes | None:
    """The key of an ``Authorization: Bearer KEY`` header, as bytes (None for another scheme or none).

    ``str`` values are taken as HTTP delivers them (Latin-1 decoded, as Starlette does) and turned
    back into their bytes, so a UTF-8 key matches whichever way the header arrives.
    """
    if header is None:
        return None
    raw = header.encode("latin-1", "replace") if isinstance(header, str) else bytes(header)
    scheme, _, given = raw.strip().partition(b" ")
    given = given.strip()
    return given if scheme.lower() == b"bearer" and given else None


class Access:
    """The server's token and its database's keys: who holds which role.

    Args:
        db_path: the face database (its ``access_keys`` table; read on every lookup, so a key added or
            revoked by ``facerec keys`` counts at once).
        token: the server's token (``--token``), an ``admin`` key; None for none.
    """

    def __init__(self, db_path: str | Path, token: str | None = None):
        from facerec.database import FaceDatabase

        self.token = token.encode("utf-8") if token else None
        self._lock = threading.Lock()  # its own connection: a lookup never waits for the model's lock
        self._db = FaceDatabase(db_path, create=True, shared=True)  # creates nothing: the first write does
        self._touched: dict[str, float] = {}

    def close(self) -> None:
        self._db.close()

    @property
    def required(self) -> bool:
        """Whether routes need a key: the server has a token or the database holds any key."""
        if self.token is not None:
            return True
        with self._lock:
            return self._db.has_keys()

    def role_of(self, authorization: bytes | str | None) -> str | None:
        """The role of the key in an ``Authorization`` header: ``admin``, ``door``, ``viewer``, or None.

        None for no header, another scheme, an unknown or revoked key. Pure apart from recording
        when a key was last used (at most once a minute); safe to call from an ASGI middleware
        before the request's body is read.
        """
        given = bearer(authorization)
        if given is None:
            return None
        if self.token is not None and hmac.compare_digest(given, self.token):
            return "admin"
        digest = hash_key(given).encode()
        with self._lock:
            keys = self._db.key_hashes()
        match = None
        for name, role, stored in keys:  # every stored digest is compared: the time does not depend on which
            if hmac.compare_digest(digest, stored.encode()) and match is None:
                match = (name, role)
        if match is None:
            return None
        self._touch(match[0])
        return match[1]

    def _touch(self, name: str) -> None:
        now = time.monotonic()
        if now - self._touched.get(name, -TOUCH_EVERY_S) < TOUCH_EVERY_S:
            return
        self._touched[name] = now
        try:
            with self._lock:
                self._db.touch_key(name)
        except FaceRecError:  # a read-only database: the key still works
            pass

    def authorize_scope(self, app, scope) -> str | None:
        """:meth:`authorize` for a raw ASGI request, before its body is read (the gate of ``facerec serve``).

        Open routes (no :func:`requires`) and unknown paths pass; the route's own dependency checks again.
        """
        roles = route_roles(app, scope)
        if roles is None:
            return None
        header = next((value for key, value in scope.get("headers") or [] if key == b"authorization"), None)
        return self.authorize(header, roles)

    def authorize(self, authorization: bytes | str | None, allowed: Iterable[str]) -> str | None:
        """Check a request's header against the roles a route allows; returns the role (None when open).

        Raises:
            Unauthorized: keys are required and the header holds no known key.
            Forbidden: the key's role is not among ``allowed`` (``admin`` is always allowed).
        """
        role = self.role_of(authorization)
        if role is None:
            if not self.required:
                return None
            raise Unauthorized("this server needs a key: send the header 'Authorization: Bearer KEY' "
                               "(the server's token, or a key from `facerec keys add`)")
        allowed = {"admin", *allowed}
        if role not in allowed:
            raise Forbidden(f"a {role} key may not use this route; it needs a key of role "
                            f"{' or '.join(sorted(allowed))}")
        return role


_bearer_scheme = HTTPBearer(auto_error=False, description="a key from `facerec keys add`, or the server's token")


def requires(role: str):
    """The dependency of a route for ``role``'s holders (and ``admin``'s): ``dependencies=[requires("door")]``.

    Reads the raw ``Authorization`` header (bytes, so UTF-8 tokens match) and asks the application's
    :class:`Access` (``app.state.access``). Also marks the route as bearer-protected in OpenAPI.
    """
    check_role(role)

    def check(request: Request, _: Annotated[object, Security(_bearer_scheme)] = None) -> str | None:
        header = next((value for key, value in request.scope.get("headers") or [] if key == b"authorization"), None)
        return request.app.state.access.authorize(header, (role,))

    check.__name__ = f"requires_{role}"
    check.roles = (role,)  # read by Access.authorize_scope, which checks before the body is read
    return Depends(check)


def route_roles(app, scope) -> tuple[str, ...] | None:
    """The roles the route matching ``scope`` allows (from its :func:`requires`), or None for an open route."""
    from starlette.routing import Match

    for route in app.router.routes:
        match, _ = route.matches(scope)
        if match == Match.FULL:
            for dependency in getattr(route, "dependencies", ()):
                roles = getattr(dependency.dependency, "roles", None)
                if roles:
                    return roles
            return None
    return None


# -- Host and origin --------------------------------------------------------------------


def _host_name(host: str) -> str:
    """The name of a ``Host`` header value or a listen address: lower case, no port, no brackets."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    if host.count(":") == 1:
        host = host.partition(":")[0]
    return host.rstrip(".")


def _host_port(host: str, scheme: str) -> tuple[str, int | None]:
    """``(name, port)`` of a ``Host`` header value; the scheme's default port when none is given."""
    default = {"http": 80, "https": 443, "ws": 80, "wss": 443}.get(scheme)
    try:
        parts = urlsplit(f"//{host.strip()}")
        return (parts.hostname or "").rstrip("."), parts.port or default
    except ValueError:
        return "", None


def allowed_host_names(listen: str | None = None, extra: Iterable[str] = ()) -> frozenset[str]:
    """The ``Host`` names a server accepts: loopback names, the address it listens on, ``extra``.

    A wildcard listen address (``0.0.0.0``, ``::``) adds this machine's name and addresses.
    """
    names = {*LOOPBACK_HOSTS, *(_host_name(name) for name in extra)}
    if listen is not None and listen not in WILDCARD_HOSTS:
        names.add(_host_name(listen))
    elif listen is not None:
        try:
            machine = socket.gethostname()
            names |= {machine.lower(), socket.getfqdn().lower()}
            names |= {info[4][0].lower() for info in socket.getaddrinfo(machine, None)}
        except OSError:
            pass
    return frozenset(name for name in names if name)


def error_response(status: int, kind: str, message: str, headers: dict | None = None):
    """A raw ASGI ``{"error", "message"}`` response (for middleware, where FastAPI's handlers do not reach)."""
    body = json.dumps({"error": kind, "message": " ".join(message.split())}).encode()

    async def respond(scope, receive, send):
        extra = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                                *extra]})
        await send({"type": "http.response.body", "body": body})

    return respond


class SameOrigin:
    """ASGI middleware: the Host rule (421), the same-origin rule for writes (403), security headers on all.

    Args:
        app: the application.
        allowed_hosts: the accepted ``Host`` names (:func:`allowed_host_names`).

    In-process calls of Starlette's ``TestClient`` (peer ``testclient``, Host ``testserver``) are local,
    as a loopback request is; a network peer can never be named ``testclient``.
    """

    def __init__(self, app, allowed_hosts: Iterable[str] = LOOPBACK_HOSTS):
        self.app = app
        self.allowed = frozenset(_host_name(name) for name in allowed_hosts)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def with_headers(message):
            if message["type"] == "http.response.start":
                present = {key.lower() for key, _ in message.get("headers") or []}
                message = {**message, "headers": [*(message.get("headers") or []),
                                                  *((k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()
                                                    if k.encode() not in present)]}
            await send(message)

        refusal = self.refusal(scope)
        if refusal is not None:
            return await refusal(scope, receive, with_headers)
        await self.app(scope, receive, with_headers)

    def refusal(self, scope):
        """The error response for a request these rules refuse, or None."""
        headers = {}
        for key, value in scope.get("headers") or []:
            headers.setdefault(key, value.decode("latin-1"))
        host = headers.get(b"host")
        client = scope.get("client") or ("", 0)
        local_test = client[0] == "testclient" and host == "testserver"
        if host is not None and not local_test and _host_name(host) not in self.allowed:
            return error_response(421, "MisdirectedRequest", (
                f"this server does not answer to the name {_host_name(host)[:100]!r}; it answers to "
                f"{', '.join(sorted(self.allowed))} (start it with --allowed-host NAME to add a name)"))
        if scope.get("method", "GET").upper() not in STATE_CHANGING:
            return None
        fetch_site = headers.get(b"sec-fetch-site")
        if fetch_site is not None and fetch_site.strip().lower() not in SAME_SITE_FETCH:
            return error_response(403, "CrossOriginRequest", (
                f"a page of another site ({fetch_site.strip()[:40]}) may not change this server's data; "
                "use the server's own page"))
        origin = headers.get(b"origin")
        if origin is not None:
            scheme = scope.get("scheme", "http")
            own = _host_port(host or "", scheme)
            try:
                parts = urlsplit(origin.strip())
                theirs = (parts.scheme.lower(), (parts.hostname or "").rstrip("."),
                          parts.port or {"http": 80, "https": 443}.get(parts.scheme.lower()))
            except ValueError:
                theirs = ("", "", None)
            if host is None or theirs != (scheme, *own):
                return error_response(403, "CrossOriginRequest", (
                    f"a page of another origin ({origin.strip()[:100]}) may not change this server's data; "
                    "use the server's own page"))
        return None


# -- /docs without a CDN ------------------------------------------------------------------


def swagger_ui_dir() -> Path | None:
    """The folder of Swagger UI 5's files (``swagger-ui-bundle.js``, ``swagger-ui.css``, ``favicon.png``).

    They ship in the ``fastapi-offline`` package (pinned; its ``static/`` folder, found without importing
    it); None when it is not installed. Swagger UI 5 reads FastAPI's OpenAPI 3.1 schemas.
    """
    import importlib.util

    spec = importlib.util.find_spec("fastapi_offline")
    for location in (spec.submodule_search_locations or []) if spec else []:
        folder = Path(location) / "static"
        if (folder / "swagger-ui-bundle.js").is_file() and (folder / "swagger-ui.css").is_file():
            return folder
    return None


def format_time(stamp: str | None) -> str:
    """A stored UTC timestamp for listings ('-' for none)."""
    if not stamp:
        return "-"
    try:
        return datetime.fromisoformat(stamp).strftime("%Y-%m-%d %H:%M:%S UTC")
    except ValueError:
        return stamp
