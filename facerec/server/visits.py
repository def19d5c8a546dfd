"""The routes of the door's visits (issue 24): the recent visits, each one's crop, and an admin's review.

* ``GET /api/visits?limit=N`` (viewer): the last N visits, newest first: ``facerec door --json``'s objects
  (with ``promise``, ``crop`` and ``review``);
* ``GET /api/visits/{visit}/crop`` (viewer): the JPEG of the visit's best face (404 when none is stored);
* ``POST /api/visits/{visit}/assign`` (admin): JSON ``{"name": "X"}`` enrolls the visit's face to X (one
  transaction, the database's encoder: 409 for a visit of other weights), ``{"stranger": true}`` keeps its
  encoding as a known stranger; 404 for a visit the database no longer holds.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import FastAPI, Path, Query
from fastapi.responses import JSONResponse, Response

from facerec.exceptions import InvalidArgument
from facerec.server import schemas

VisitId = Annotated[int, Path(ge=1, le=2**63 - 1, description="the visit's id")]


def add_visit_routes(app: FastAPI, service, admin: list, viewer: list) -> None:
    """Add the visit routes to ``app``; ``service`` is its :class:`facerec.server.app.DoorService`,
    ``admin`` / ``viewer`` the route dependencies of those roles."""

    @app.get("/api/visits", response_model=list[schemas.VisitOut], dependencies=viewer)
    def visits(limit: Annotated[int, Query(ge=0, le=10_000)] = 50):
        """The last ``limit`` visits, newest first (the objects of ``facerec door --json``)."""
        with service.lock:
            return service.db.visits(limit)

    @app.get("/api/visits/{visit}/crop", dependencies=viewer, responses={200: {"content": {"image/jpeg": {}}}})
    def crop(visit: VisitId):
        with service.lock:
            jpeg = service.db.visit_crop(visit)
        if jpeg is None:
            return JSONResponse({"error": "NoCrop", "message": f"visit {visit} has no stored crop"}, status_code=404)
        return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"})

    @app.post("/api/visits/{visit}/assign", response_model=schemas.AssignOut, dependencies=admin)
    def assign(visit: VisitId, body: schemas.AssignIn):
        """"This is X" (``{"name": "X"}``: enroll the visit's face to X) or "not anyone we know"
        (``{"stranger": true}``: keep its encoding as a known stranger)."""
        if (body.name is None) == (not body.stranger):
            raise InvalidArgument('send {"name": "X"} (this is X) or {"stranger": true} (not anyone we know)')
        with service.lock:
            if body.stranger:
                service.db.mark_stranger(visit)
                return {"visit": visit, "name": None, "stranger": True, "enrolled": []}
            result = service.db.assign_visit(visit, body.name)
        return {"visit": visit, "name": result.name, "stranger": False, "enrolled": result.added}
