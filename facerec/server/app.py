"""The REST API and the web page of ``facerec serve`` (FastAPI).

Routes (JSON unless said; OpenAPI docs at ``/docs``, served from the package's files, no CDN), and the
role of key each needs once the server has a token or its database holds keys (``admin`` keys may do
everything; see :mod:`facerec.server.security`):

* ``GET /``: the web page (people, enroll form, door view with the camera, log);
* ``GET /api/health``: ``{"status": "ok", "encoder", "people"}`` (no token needed);
* ``GET /api/people`` (viewer): ``[{"name", "faces"}, ...]``;
* ``GET /api/people/{name}/thumbnail`` (viewer): the person's picture (JPEG);
* ``POST /api/people/{name}/faces`` (admin): multipart ``photos`` (one or more files) ->
  ``{"name", "enrolled": [file, ...], "skipped": [{"file", "reason"}, ...]}``;
* ``DELETE /api/people/{name}`` (admin): ``{"removed": N}`` (faces removed);
* ``POST /api/verify`` (door): multipart ``photo``, form ``name`` -> ``{"match", "distance", "threshold", "box",
  "cohort_score", "cohort_limit", "promise", ...}``;
* ``POST /api/identify`` (door): multipart ``photo`` -> ``{"faces": [{"box", "identity", "distance",
  "candidates", "cohort_score", "cohort_limit", "promise", ...}], "width", "height"}``; every face is written to
  the door log. ``promise`` (``{"strangers_per_100", "people_measured", "text"}``) is the stranger rate measured
  for the default decision at this gallery's size (:func:`facerec.cohort.promise`), null without a cohort;
* ``POST /api/door/check`` (door): multipart ``frames`` (a burst, at most 24) -> the decision on the face tracked
  through it, as a door visit, with ``flat``, ``flatness`` and ``challenge``; ``GET /api/door/check`` (door): whether
  the flatness check is on and the burst to send (:mod:`facerec.server.door_check`);
* ``GET /api/log?limit=N`` (viewer): the last N door events, newest first (``time``, ``identity``, ``distance``,
  ``admitted``, ``source``);
* ``GET /api/visits?limit=N``, ``GET /api/visits/{visit}/crop`` (viewer), ``POST /api/visits/{visit}/assign``
  (admin): the door's visits and their review (:mod:`facerec.server.visits`);
* ``/api/library/...``: the photo library's groups, naming and search (see :mod:`facerec.server.library_routes`).

Errors are ``{"error": TYPE, "message": one line}`` with a status code: 400 an
unreadable image, no face or a bad argument; 401 a missing or wrong key; 403 a key
whose role does not allow the route, or a write from a page of another origin; 404 an
unknown person; 408 a body that arrives too slowly; 409 a database of another encoder,
or an empty one; 413 an upload over the size limit or an image over the pixel limit; 421
a ``Host`` this server does not answer to (DNS rebinding); 503 a photo whose detection ran
out of its time budget, or a database that cannot be written (full or read-only disk,
file removed). Every response carries the security headers of
:data:`facerec.server.security.SECURITY_HEADERS` (CSP, no framing). Safe by default: one lock
serialises the model and the database (one model per process, the database's
encoder) and is held only around them; the token is checked before the body is read;
uploads are bounded before they are read in full (``Content-Length`` and a count of
the bytes received) and in time (:mod:`facerec.server.limits`), and decoded by
:func:`facerec.load_image` (pixel limit :data:`SERVER_MAX_PIXELS`, on the header)
from a file the server names itself: no client-supplied string becomes a path. At
most one decode and detection per core run at once (:func:`facerec.align.work_slots`),
and each photo's detection is bounded (see :mod:`facerec.align`); docs/ERRORS.md,
"Bounded work", lists every limit.
"""

from __future__ import annotations

import contextlib
import tempfile
import threading
from collections.abc import Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated

from fastapi import FastAPI, File, Form, Query, Request, UploadFile
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from facerec.align import work_slots
from facerec.database import DEFAULT_KEEP_LOG_DAYS, DoorEvent, FaceDatabase, file_sha256, now_utc
from facerec.exceptions import (
    DatabaseError,
    DatabaseGone,
    DatabaseNotWritable,
    DetectionBudgetSpent,
    EmptyDatabase,
    FaceNotFound,
    FaceRecError,
    ImageNotReadable,
    ImageTooLarge,
    InvalidArgument,
    ModelMismatch,
    UnknownIdentity,
    UnknownVisit,
)
from facerec.names import check_name
from facerec.server import schemas
from facerec.server.limits import BODY_IDLE_S, BODY_TIMEOUT_S, BodyTooSlow, Gate, ReceiveDeadline, closing
from facerec.server.security import (
    LOOPBACK_HOSTS,
    SECURITY_HEADERS,
    Access,
    Forbidden,
    SameOrigin,
    Unauthorized,
    requires,
    swagger_ui_dir,
)

STATIC_DIR = Path(__file__).with_name("static")
MAX_UPLOAD_BYTES = 20 * 2**20  # per request
MAX_FILES = 20
SERVER_MAX_PIXELS = 16_000_000  # decoded per photo (checked on the header); larger JPEGs are decoded at 1/2..1/8
ENROLL_MAX_SIDE = 1600  # an enrolled photo is kept at most this large until it is encoded (20 photos: <= 115 MB)
STATUS = {DetectionBudgetSpent: 503, BodyTooSlow: 408,  # before FaceNotFound: the subclass first
          ImageNotReadable: 400, FaceNotFound: 400, InvalidArgument: 400, ImageTooLarge: 413, UnknownIdentity: 404,
          UnknownVisit: 404, ModelMismatch: 409, EmptyDatabase: 409, Forbidden: 403, DatabaseNotWritable: 503,
          DatabaseGone: 503}


class UploadTooLarge(ImageTooLarge):
    """A request body over the server's limit."""


def _status(error: Exception) -> int:
    if isinstance(error, Unauthorized):
        return 401
    return next((code for kind, code in STATUS.items() if isinstance(error, kind)), 500)


def _public_message(error: Exception | str, hide: tuple[str, ...] = ()) -> str:
    """The error's message on one line, each string of ``hide`` (the database's path) replaced by
    "the database", so that no client learns where it lives."""
    message = " ".join(str(error).split()) or type(error).__name__
    for secret in sorted(filter(None, hide), key=len, reverse=True):
        message = message.replace(f"database {secret}", "the database").replace(secret, "the database")
    return message.replace("the the database", "the database")


def _error_response(error: Exception, hide: tuple[str, ...] = ()) -> JSONResponse:
    """The error as ``{"error": TYPE, "message": one line}`` with its status code (see ``STATUS``)."""
    message = _public_message(error, hide)
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(error, Unauthorized) else None
    if isinstance(error, DetectionBudgetSpent):
        headers = {"Retry-After": "10"}
    return JSONResponse({"error": type(error).__name__, "message": message}, status_code=_status(error),
                        headers=headers)


class BodyLimit:
    """ASGI middleware: 413 for a body over ``limit`` bytes, by its ``Content-Length`` or as it streams in."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        too_large = UploadTooLarge(f"the upload is larger than the server's limit of {self.limit // 2**20} MB; "
                                   "send smaller photos or fewer at a time")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            return await _error_response(too_large)(scope, receive, send)
        received, started, over = 0, False, False

        async def counting_receive():
            nonlocal received, over
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.limit:
                over = True
                raise too_large
            return message

        async def tracking_send(message):
            nonlocal started
            if over:  # the multipart parser turns the error raised in receive into a 400: replaced below
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except UploadTooLarge:
            pass
        if over and not started:
            await closing(_error_response, too_large)(scope, receive, send)


class DoorService:
    """The database, its encoder and the lock that serialises them; one per process."""

    def __init__(self, db_path: str | Path, encoder: str | None = None, weights: str | None = None,
                 runtime: str | None = None, detector: str = "auto",
                 keep_log_days: float | None = DEFAULT_KEEP_LOG_DAYS):
        from facerec.stores.base import location_of

        self.db_path, self.detector, self.keep_log_days = location_of(db_path), detector, keep_log_days
        from facerec.align import use_cnn_processes

        use_cnn_processes()  # dlib's CNN holds the GIL: in this process it would stop every other request
        self.lock = threading.Lock()  # the model and the database: held around them only
        self.slots = threading.BoundedSemaphore(work_slots())  # decodes and detections at once: one per core
        self.db = FaceDatabase(self.db_path, create=True, encoder=encoder, shared=True)
        from facerec.encoders import DEFAULT_ENCODER, load_encoder

        self.encoder = load_encoder(self.db.encoder_name or encoder or DEFAULT_ENCODER, weights, runtime=runtime)

    def close(self) -> None:
        self.db.close()

    def secrets(self) -> tuple[str, ...]:
        """Strings no error message may show a client: the database's path, as given and absolute (a URL: as
        given and as printed, and its host and database names)."""
        if isinstance(self.db_path, str):
            from urllib.parse import urlsplit

            from facerec.stores.base import redact

            parts = urlsplit(self.db_path)
            return tuple(filter(None, (self.db_path, redact(self.db_path), parts.hostname, parts.path.lstrip("/"),
                                       parts.password)))
        return (str(self.db_path), str(self.db_path.resolve()), self.db_path.name)

    def log(self, events: list[DoorEvent]) -> bool:
        """Write door events; False (and nothing raised) when the database cannot be written now."""
        try:
            self.db.log_events(events, self.keep_log_days)
            return True
        except DatabaseNotWritable:
            return False


def save_upload(upload: UploadFile, folder: Path, number: int) -> Path:
    """Write one uploaded file under a name the server chooses (``photo-<n>``), never the client's name."""
    path = folder / f"photo-{number}"
    with open(path, "wb") as handle:
        while chunk := upload.file.read(2**20):
            handle.write(chunk)
    return path


def read_upload(upload: UploadFile, folder: Path, number: int, service: DoorService | None = None,
                 max_side: int | None = None, path: Path | None = None):
    """Decode one uploaded photo (saved by :func:`save_upload` unless ``path`` says where it already is).

    Errors name the upload by its label (:func:`upload_label`), not by the server's temporary path.
    With ``service``, the decode and a first detection (whose boxes :func:`facerec.detect_faces`
    remembers, so the detection under the model lock is a look-up) run in one of its work slots,
    outside its lock. ``max_side``: the decoded photo is downscaled to at most this many pixels a side.
    """
    from facerec.image import load_image

    path = path or save_upload(upload, folder, number)
    with service.slots if service is not None else contextlib.nullcontext():
        try:
            image = load_image(path, max_pixels=SERVER_MAX_PIXELS)
        except (ImageNotReadable, ImageTooLarge) as error:
            raise type(error)(str(error).replace(str(path), upload_label(upload, number))) from None
        if max_side is not None and max(image.shape[:2]) > max_side:
            import cv2

            scale = max_side / max(image.shape[:2])
            image = cv2.resize(image, (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale))),
                               interpolation=cv2.INTER_AREA)
        if service is not None:
            from facerec.align import detect_faces

            detect_faces(image, detector=service.detector)  # bounded; remembered for the call under the lock
    return image


def _read_one(upload: UploadFile, service: DoorService | None = None):
    """The single photo of a verify / identify request, decoded (see :func:`read_upload`)."""
    with tempfile.TemporaryDirectory() as folder:
        return read_upload(upload, Path(folder), 0, service)


def upload_label(upload: UploadFile, number: int) -> str:
    """The client's file name as a label only (its last path part, printable, at most 100 characters)."""
    name = Path((upload.filename or "").replace("\\", "/")).name
    name = "".join(ch for ch in name if ch.isprintable())[:100]
    return name or f"photo-{number}"


def _offline_health(service: DoorService) -> dict | None:
    """A shared (PostgreSQL) store that is away: ``status`` ``offline``, identifying from the gallery in memory,
    door-log rows ``queued`` locally; None when the store is a file or is online."""
    state = getattr(service.db, "store_state", None)
    if state is None:
        return None
    with service.lock:
        now = state()
        if now["store"] == "online":
            return None
        try:
            people = len(set(service.db.names_by_id().values()))
        except DatabaseError:
            people = None
    return {"status": "offline", "encoder": service.encoder.name, "people": people, "writable": False,
            "log": "queued", "queued": now["queued"],
            "message": "the shared database cannot be reached: identifying from the gallery in memory, door-log "
                       "rows queued locally, enrolling refused until it is back"}


def needs_key(path: str) -> bool:
    """The paths whose key the gate checks before the body: the API (its open routes pass the check)."""
    return path.startswith("/api/")


def create_app(db_path: str | Path, token: str | None = None, encoder: str | None = None,
               weights: str | None = None, runtime: str | None = None,
               max_upload_bytes: int = MAX_UPLOAD_BYTES, allowed_hosts: Iterable[str] = LOOPBACK_HOSTS,
               keep_log_days: float | None = DEFAULT_KEEP_LOG_DAYS, body_timeout: float = BODY_TIMEOUT_S,
               body_idle: float = BODY_IDLE_S, camera: str | None = None, camera_options: dict | None = None,
               flat_check: bool = False) -> FastAPI:
    """The application serving the database at ``db_path`` (created if missing).

    Args:
        db_path: the face database file, or a ``postgresql://`` URL.
        token: the server's ``admin`` key. With it, or with any key in the database (``facerec keys add``),
            every route but ``/api/health``, the page, ``/docs`` and static files needs
            ``Authorization: Bearer KEY`` of a role the route allows.
        encoder: the encoder of a new database (an existing one keeps its own).
        weights, runtime: nn4's weights folder and runtime (defaults as everywhere).
        max_upload_bytes: the largest request body accepted (413 above it).
        allowed_hosts: the ``Host`` names answered (421 for others); see
            :func:`facerec.server.security.allowed_host_names`.
        keep_log_days: door-log rows older than this many days are deleted as the log is written (None: kept).
        body_timeout, body_idle: seconds for a request's whole body, and between two of its chunks (408 beyond).
        camera, camera_options: run the door on this source in the background while the server runs
            (:class:`facerec.server.camera.CameraDoor` and its keyword arguments).
        flat_check: ``POST /api/door/check`` checks whether the burst's face is flat (off by default: dlib's
            68-point model's training data restricts commercial use; :mod:`facerec.server.door_check`).
    """
    service = DoorService(db_path, encoder, weights, runtime, keep_log_days=keep_log_days)
    access = Access(service.db_path, token)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        door = None
        if camera is not None:
            from facerec.server.camera import CameraDoor

            door = CameraDoor(camera, service.db_path, service.encoder, service.lock, keep_log_days,
                              **(camera_options or {})).start()
        app.state.camera = door
        yield
        if door is not None:
            door.stop()
        access.close()
        service.close()

    app = FastAPI(title="facerec", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Face verification and recognition: the Happy House door as a service.")
    app.state.service, app.state.access = service, access

    def respond(error: Exception) -> JSONResponse:  # never the database's path to a client
        return _error_response(error, service.secrets())

    app.add_middleware(ReceiveDeadline, respond=respond, total=body_timeout, idle=body_idle)
    app.add_middleware(BodyLimit, limit=max_upload_bytes)
    # the key and its role before anything of the body is read (FastAPI parses a form before dependencies run)
    app.add_middleware(Gate, check=lambda scope: access.authorize_scope(app, scope), guarded=needs_key,
                       respond=respond)
    app.add_middleware(SameOrigin, allowed_hosts=allowed_hosts)  # outermost: the Host and origin rules first
    swagger = swagger_ui_dir()  # /docs's Swagger UI, from the fastapi-offline package (no CDN)
    if swagger is not None:  # mounted before /static, which would answer its paths otherwise
        app.mount("/static/swagger-ui", StaticFiles(directory=swagger), name="swagger-ui")
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.exception_handler(FaceRecError)
    async def facerec_error(request: Request, error: FaceRecError):
        return _error_response(error, service.secrets())

    @app.exception_handler(Exception)
    async def unexpected_error(request: Request, error: Exception):
        return JSONResponse({"error": type(error).__name__, "message": "internal error; see the server's log"},
                            status_code=500, headers=SECURITY_HEADERS)  # answered outside the middleware

    admin, door, viewer = [requires("admin")], [requires("door")], [requires("viewer")]

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html")

    @app.get("/docs", include_in_schema=False)
    def docs():
        if swagger is None:
            return JSONResponse({"error": "DocsNotInstalled", "message": "the API docs need the fastapi-offline "
                                 "package (pip install fastapi-offline); the schema is at /openapi.json"},
                                status_code=404)
        return FileResponse(STATIC_DIR / "docs.html")

    @app.get("/api/health", response_model=schemas.HealthOut)
    def health():
        offline = _offline_health(service)
        if offline is not None:
            return JSONResponse(offline)  # with its "queued" count, which the other states do not have
        with service.lock:
            problem = service.db.write_problem()
            try:
                people = len(service.db.people())
            except DatabaseGone:
                people = None
        if problem is None:
            return {"status": "ok", "encoder": service.encoder.name, "people": people, "writable": True,
                    "log": "written"}
        body = {"status": "error" if people is None else "read-only", "encoder": service.encoder.name,
                "people": people, "writable": False, "log": "not written",
                "message": _public_message(problem, service.secrets())}
        return JSONResponse(body, status_code=503 if people is None else 200)

    @app.get("/api/people", response_model=list[schemas.PersonOut], dependencies=viewer)
    def people():
        with service.lock:
            return [{"name": p.name, "faces": p.photos} for p in service.db.people()]

    @app.get("/api/people/{name}/thumbnail", dependencies=viewer, responses={200: {"content": {"image/jpeg": {}}}})
    def thumbnail(name: str):
        with service.lock:
            picture = service.db.thumbnail(name)
        if picture is None:
            return JSONResponse({"error": "NoThumbnail", "message": f"{name} has no picture"}, status_code=404)
        return Response(picture, media_type="image/jpeg")

    @app.post("/api/people/{name}/faces", response_model=schemas.EnrollOut, dependencies=admin)
    def enroll(name: str, photos: Annotated[list[UploadFile], File()]):
        name = check_name(name)  # a bad name fails before any photo is decoded
        if len(photos) > MAX_FILES:
            raise InvalidArgument(f"at most {MAX_FILES} photos per request, got {len(photos)}")
        labels = [upload_label(upload, number) for number, upload in enumerate(photos)]
        with service.lock:
            seen = service.db.photo_hashes(name)  # a photo they already have is not even decoded
        images, skipped, errors, duplicates = [], [], [], []
        with tempfile.TemporaryDirectory() as folder:
            for number, upload in enumerate(photos):
                path = save_upload(upload, Path(folder), number)
                sha = file_sha256(path)
                if sha in seen:
                    duplicates.append(labels[number])
                    continue
                seen.add(sha)
                try:
                    images.append((read_upload(upload, Path(folder), number, service, ENROLL_MAX_SIDE, path),
                                   labels[number], sha))
                except (ImageNotReadable, ImageTooLarge, DetectionBudgetSpent) as error:
                    skipped.append({"file": labels[number], "reason": str(error)})
                    errors.append(error)
        if not images and errors:  # the first error's kind (and status code), naming every file
            raise type(errors[0])("none of the uploaded files is a usable image: "
                                  + "; ".join(f"{s['file']}: {s['reason']}" for s in skipped))
        added = []
        if images:
            with service.lock:
                result = service.db.enroll(name, [image for image, _, _ in images], encoder=service.encoder,
                                           detector=service.detector, labels=[label for _, label, _ in images],
                                           hashes=[sha for _, _, sha in images])
            added, duplicates = result.added, duplicates + result.duplicates
            skipped += [{"file": file, "reason": reason} for file, reason in result.failed]
        skipped += [{"file": file, "reason": "already enrolled (the same photo)"} for file in duplicates]
        return {"name": name, "enrolled": added, "skipped": skipped}

    @app.delete("/api/people/{name}", response_model=schemas.RemovedOut, dependencies=admin)
    def remove(name: str):
        """Remove a person: their photos' encodings, their picture and their door-log rows (nothing kept)."""
        with service.lock:
            return {"removed": service.db.remove(name)}

    @app.get("/api/people/{name}/export", response_model=schemas.ExportOut, dependencies=admin)
    def export(name: str):
        """Everything stored about one person (encodings, boxes, sources, door-log rows, picture as base64)."""
        import base64

        with service.lock:
            record, thumbnail = service.db.export_person(name)
        return {**record, "thumbnail_jpeg_base64": base64.b64encode(thumbnail).decode() if thumbnail else None}

    @app.post("/api/log/purge", response_model=schemas.PurgeOut, dependencies=admin)
    def purge(keep_days: Annotated[float, Query(ge=0, le=1_000_000)] = DEFAULT_KEEP_LOG_DAYS):
        """Delete door-log rows older than ``keep_days`` days (0: all), overwritten in the file."""
        with service.lock:
            return {"removed": service.db.purge_log(keep_days), "keep_days": keep_days}

    @app.post("/api/verify", response_model=schemas.VerifyOut, dependencies=door)
    def verify(photo: Annotated[UploadFile, File()], name: Annotated[str, Form()]):
        from facerec.api import verify as verify_photo

        with service.lock:
            service.db.encodings(name)  # UnknownIdentity before any decoding or detection work
        image = _read_one(photo, service)
        with service.lock:
            result = verify_photo(image, name, service.db, encoder=service.encoder, detector=service.detector)
        return {**result.to_json(), "box": list(result.box)}

    @app.post("/api/identify", response_model=schemas.IdentifyOut, dependencies=door)
    def identify(photo: Annotated[UploadFile, File()]):
        from facerec.align import find_faces
        from facerec.api import identify_faces

        with service.lock:
            if service.db.count_faces() == 0:
                service.db.searcher()  # EmptyDatabase, before any detection work
        image = _read_one(photo, service)
        with service.lock:
            rgb, faces = find_faces(image, detector=service.detector)
            results = identify_faces(rgb, faces, service.db, k=3, encoder=service.encoder, label=upload_label(photo, 0))
            now = now_utc()
            logged = service.log([DoorEvent(now, r.identity, r.distance, r.identity is not None, r.image)
                                  for r in results])
        return {"faces": [r.to_json() for r in results], "width": int(image.shape[1]), "height": int(image.shape[0]),
                "logged": logged}

    @app.get("/api/log", response_model=list[schemas.DoorEventOut], dependencies=viewer)
    def log(limit: Annotated[int, Query(ge=0, le=10_000)] = 50):
        with service.lock:
            return [event.to_json() for event in service.db.door_log(limit)]

    from facerec.server.door_check import add_door_check_route

    add_door_check_route(app, service, door, flat_check)  # /api/door/check: a burst, the flatness check
    from facerec.server.visits import add_visit_routes

    add_visit_routes(app, service, admin, viewer)  # /api/visits...
    from facerec.server.library_routes import add_library_routes  # the photo library: groups, name, find

    add_library_routes(app, service, admin, viewer)
    return app
