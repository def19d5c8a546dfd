"""The JSON bodies of the REST API (pydantic models; FastAPI documents them at ``/docs``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class PersonOut(BaseModel):
    name: str
    faces: int = Field(description="photos (encodings) enrolled")


class EnrollOut(BaseModel):
    name: str
    enrolled: list[str] = Field(description="file names stored now")
    skipped: list[dict] = Field(description="[{'file', 'reason'}]: no face, unreadable, too large, or a duplicate")


class RemovedOut(BaseModel):
    removed: int = Field(description="faces removed")


class CandidateOut(BaseModel):
    name: str
    distance: float


class PromiseOut(BaseModel):
    strangers_per_100: float = Field(description="about this many strangers in 100, of the worst-off demographic "
                                                 "group measured, are let in at this gallery")
    people_measured: int = Field(description="the gallery size (people) of the measurement used")
    text: str = Field(description="the promise in words, for people")


class VerifyOut(BaseModel):
    match: bool
    distance: float = Field(description="L2 distance to the claimed person's closest photo")
    threshold: float = Field(description="accept when distance <= threshold")
    box: list[int] = Field(description="[left, top, right, bottom] pixels of the face used")
    name: str
    operating_point: str
    encoder: str
    cohort_score: float | None = Field(None, description="the cohort rule's score (issue 23); null when not applied")
    cohort_limit: float | None = Field(None, description="a match also needs cohort_score <= cohort_limit")
    promise: PromiseOut | None = Field(None, description="the stranger rate measured for this decision rule")


class FaceOut(BaseModel):
    box: list[int] = Field(description="[left, top, right, bottom] pixels")
    identity: str | None = Field(description="the person, or null when unknown")
    distance: float
    threshold: float
    candidates: list[CandidateOut]
    cohort_score: float | None = Field(None, description="the cohort rule's score (issue 23); null when not applied")
    cohort_limit: float | None = Field(None, description="identity also needs cohort_score <= cohort_limit")
    promise: PromiseOut | None = Field(None, description="the stranger rate measured for this decision rule")


class IdentifyOut(BaseModel):
    faces: list[FaceOut]
    width: int = Field(description="the photo's width in pixels, to scale the boxes")
    height: int
    logged: bool = Field(True, description="whether the faces were written to the door log (false while the "
                                           "database cannot be written: read-only or full disk)")


class DoorEventOut(BaseModel):
    time: str = Field(description="UTC, ISO 8601")
    identity: str | None
    distance: float
    admitted: bool
    source: str = ""
    door: str | None = Field(None, description="the name of the door that logged it (null: not named)")


class HealthOut(BaseModel):
    status: str = Field(description="ok; read-only (identifying works, the log is not written); offline (a "
                              "shared PostgreSQL store is away: identifying from memory, the log queued, and "
                              "the body's queued field counts the rows waiting); error")
    encoder: str
    people: int | None = Field(description="people enrolled (null when the database cannot be read)")
    writable: bool = Field(True, description="whether the database can be written now (disk, permissions)")
    log: str = Field("written", description="written, not written, or queued (offline)")
    message: str | None = Field(None, description="why the database cannot be written")


class PurgeOut(BaseModel):
    removed: int = Field(description="door-log rows deleted")
    keep_days: float = Field(description="rows older than this many days were deleted")


class ExportFaceOut(BaseModel):
    id: int
    source: str
    sha256: str
    box: list[int | None]
    added: str
    encoding: list[float] = Field(description="the stored encoding: 128 floats (640 for a dlib+facenet database)")


class ExportOut(BaseModel):
    name: str
    enrolled: str = Field(description="first enrollment, UTC ISO 8601")
    encoder: str | None
    faces: list[ExportFaceOut]
    door_log: list[DoorEventOut]
    visits: list[dict] = Field(default_factory=list, description="the visits decided as them or assigned to them "
                               "(the objects of GET /api/visits; crops at /api/visits/{visit}/crop)")
    exported: str
    thumbnail_jpeg_base64: str | None = Field(description="the person's picture, a JPEG, base64")


class ErrorOut(BaseModel):
    error: str = Field(description="the error's type, e.g. FaceNotFound")
    message: str = Field(description="one line saying what went wrong and what to do")


class VisitReviewOut(BaseModel):
    name: str | None = Field(description="the person it was enrolled to (null: a known stranger)")
    stranger: bool
    time: str = Field(description="when it was reviewed, UTC ISO 8601")


class VisitOut(BaseModel):
    """One visit, as ``facerec door --json`` prints it (fields added later pass through unchanged)."""

    model_config = ConfigDict(extra="allow")
    visit: int = Field(description="the visit's id (its crop: /api/visits/{visit}/crop)")
    start: str = Field(description="UTC, ISO 8601")
    end: str = Field(description="UTC, ISO 8601")
    identity: str | None = Field(description="the person decided, or null when unknown")
    admitted: bool
    distance: float | None = Field(description="median L2 distance of the frames used to the closest person")
    frames: int = Field(description="frames the decision used")
    flat: bool | None = Field(description="true: a flat surface (a photo or a screen); false: a real head; "
                                          "null: not checked or could not tell")
    threshold: float | None = Field(None, description="the L2 distance the decision accepted up to")
    operating_point: str | None = Field(None, description="the threshold and the operating point it comes from")
    promise: dict | None = Field(None, description="with the default decision's cohort rule, the stranger rate "
                                                   "measured for it ({strangers_per_100, people_measured, text})")
    crop: bool = Field(description="whether a crop of the face is stored")
    review: VisitReviewOut | None = Field(description="what an admin said it was (null: not reviewed)")


class AssignIn(BaseModel):
    """``{"name": "X"}`` (this is X: enroll the visit's face) or ``{"stranger": true}`` (not anyone we know)."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, max_length=200, description="enroll the visit's face to this person")
    stranger: bool = Field(False, description="keep the visit's encoding as a known stranger instead")


class AssignOut(BaseModel):
    visit: int
    name: str | None = Field(description="the person enrolled (null for a stranger)")
    stranger: bool
    enrolled: list[str] = Field(description="faces stored now (visit-<id>.jpg; empty if already enrolled)")


class FlatnessOut(BaseModel):
    """The flatness check's verdict on a burst's face (:mod:`facerec.flatness`)."""

    flat: bool | None = Field(description="true: flat (a photo or a screen); false: a real head; null: cannot tell "
                                          "or the check is off")
    statistic: float | None = Field(description="median plane residual / head residual over the moving frames "
                                                "(flat under 1.05); null when not computed")
    reason: str = Field(description="why, in one line ('the flatness check is off' when it is)")
    motion: float | None = Field(None, description="the largest out-of-plane motion (residual / face size)")
    frames: int | None = Field(None, description="frames with landmarks")
    moving: int | None = Field(None, description="frames that moved enough")


class DoorCheckOut(BaseModel):
    """``POST /api/door/check``: the decision on the face tracked through a burst, as the door decides a visit."""

    visit: int = Field(description="the visit's id (its crop: /api/visits/{visit}/crop)")
    start: str = Field(description="UTC, ISO 8601")
    end: str = Field(description="UTC, ISO 8601")
    identity: str | None = Field(description="the person decided from the face's best frames, or null")
    admitted: bool = Field(description="identity is not null and the face is not flat")
    distance: float | None = Field(description="median L2 distance of the frames used to the closest person")
    closest: str | None = Field(None, description="the closest person, admitted or not")
    frames: int = Field(description="frames the decision used (the best ones)")
    seen: int = Field(description="frames of the burst the face was found in")
    gated: bool = Field(False, description="no frame passed the quality gates (size, blur)")
    threshold: float | None = Field(None, description="the L2 distance the decision accepted up to")
    operating_point: str | None = Field(None, description="the threshold and the operating point it comes from")
    cohort_score: float | None = Field(None, description="the cohort rule's score of the closest person (median "
                                                         "over the frames used); null when not applied")
    cohort_limit: float | None = Field(None, description="identity also needs cohort_score <= cohort_limit")
    promise: PromiseOut | None = Field(None, description="the stranger rate measured for this decision rule")
    flat: bool | None = Field(description="true: flat, refused whatever its distance; false: a real head; null: "
                                          "cannot tell, or the check is off (facerec serve --flat-check)")
    flatness: FlatnessOut
    challenge: str | None = Field(description="'turn your head a little' when the face stayed still (flat null "
                                              "with enough frames): send a new burst")
    refused: str | None = Field(None, description="why a recognised face was refused (a flat face)")
    box: list[int] = Field(description="[left, top, right, bottom] pixels of the face in its best frame")
    width: int = Field(description="the first frame's width in pixels, to scale the box")
    height: int
    faces: int = Field(description="faces tracked through the burst (each logged as a visit)")
    logged: bool = Field(True, description="whether the visit was written to the door log")
    source: str = ""


class DoorCheckInfo(BaseModel):
    """``GET /api/door/check``: what the web door should send to ``POST /api/door/check``."""

    flat_check: bool = Field(description="whether the server checks that the face is not flat (serve --flat-check)")
    burst_frames: int = Field(description="frames a burst should hold (the page sends this many)")
    burst_seconds: float = Field(description="over this many seconds")
    max_frames: int = Field(description="the most frames a burst may hold (413 above)")
    max_frame_bytes: int = Field(description="the largest frame accepted, in bytes (413 above)")
    challenge: str = Field(description="what the page asks when the face stayed still")
