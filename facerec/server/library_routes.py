"""The photo library's routes of ``facerec serve`` (the page's "Library" view); see :mod:`facerec.library`.

Reads need a ``viewer`` key, writes an ``admin`` key (once the server has keys). Indexing stays a
command (``facerec index``): the server never reads a folder a client names.

* ``GET /api/library/groups`` (viewer): ``{"groups": [{"group", "faces": [{"face", "photo", "box"}], "maybe",
  "maybe_distance"}, ...]}``, the unnamed groups of 2 or more faces, biggest first (``facerec cluster --json``);
* ``POST /api/library/cluster`` (admin): group the faces not grouped yet, then the same answer;
* ``POST /api/library/groups/{group}/name`` (admin), form ``name``: ``{"name", "faces", "enrolled", "left_out"}``;
* ``POST /api/library/groups/{group}/merge`` (admin), form ``other``: ``{"group", "moved"}``;
* ``POST /api/library/faces/{face}/move`` (admin), form ``group`` (a number, or ``none``): ``{"face", "group"}``;
* ``POST /api/library/faces/{face}/not`` (admin), form ``name``: ``{"face", "not"}``;
* ``GET /api/library/faces/{face}/crop`` (viewer): a 96 px JPEG of the face;
* ``GET /api/library/find?name=NAME`` (viewer): ``[{"photo", "box", "distance"}, ...]`` (``facerec find --json``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import FastAPI, Form, Path, Query
from fastapi.responses import JSONResponse, Response

from facerec.exceptions import ImageNotReadable, ImageTooLarge, InvalidArgument

FACE_ID = Path(ge=1, le=2**62)


def add_library_routes(app: FastAPI, service, admin: list, viewer: list) -> None:
    """Add the library routes to ``app`` (``service``: its :class:`~facerec.server.app.DoorService`)."""
    from facerec.library import people

    @app.get("/api/library/groups", dependencies=viewer)
    def library_groups():
        with service.lock:
            return {"groups": people.groups(service.db)}

    @app.post("/api/library/cluster", dependencies=admin)
    def library_cluster():
        with service.lock:
            people.group_faces(service.db)
            return {"groups": people.groups(service.db)}

    @app.post("/api/library/groups/{group}/name", dependencies=admin)
    def library_name(group: Annotated[int, FACE_ID], name: Annotated[str, Form()]):
        with service.lock:
            return people.name_group(service.db, group, name)

    @app.post("/api/library/groups/{group}/merge", dependencies=admin)
    def library_merge(group: Annotated[int, FACE_ID], other: Annotated[int, Form(ge=1, le=2**62)]):
        with service.lock:
            return {"group": group, "moved": people.merge(service.db, group, [other])}

    @app.post("/api/library/faces/{face}/move", dependencies=admin)
    def library_move(face: Annotated[int, FACE_ID], group: Annotated[str, Form()]):
        target = None if group.strip().lower() == "none" else _group_number(group)
        with service.lock:
            people.move(service.db, face, target)
        return {"face": face, "group": target}

    @app.post("/api/library/faces/{face}/not", dependencies=admin)
    def library_not(face: Annotated[int, FACE_ID], name: Annotated[str, Form()]):
        with service.lock:
            people.not_person(service.db, face, name)
        return {"face": face, "not": name}

    @app.get("/api/library/faces/{face}/crop", dependencies=viewer, responses={200: {"content": {"image/jpeg": {}}}})
    def library_crop(face: Annotated[int, FACE_ID]):
        with service.lock:
            rows = service.db.library_sql.face_rows(service.db, face_ids=[face])
        picture = _crop(rows[0]["photo"], rows[0]["box"]) if rows and rows[0]["photo"] else None
        if picture is None:
            return JSONResponse({"error": "NoCrop", "message": f"face {face} has no readable photo"}, status_code=404)
        return Response(picture, media_type="image/jpeg")

    @app.get("/api/library/find", dependencies=viewer)
    def library_find(name: Annotated[str, Query(min_length=1, max_length=200)]):
        with service.lock:
            return people.find(service.db, name)


def _group_number(text: str) -> int:
    if not text.strip().isdigit() or int(text) < 1:
        raise InvalidArgument(f"a group is a positive number or 'none', got {text[:20]!r}")
    return int(text)


def _crop(photo: str, box: list[int]) -> bytes | None:
    """A face's JPEG crop from its photo (a path the database holds, never one a client sent)."""
    from facerec.database import _thumbnail
    from facerec.image import load_image

    try:
        return _thumbnail(load_image(photo), tuple(box))
    except (ImageNotReadable, ImageTooLarge):
        return None
