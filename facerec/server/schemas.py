"""The JSON bodies of the REST API (pydantic models; FastAPI documents them at ``/docs``)."""

from __future__ import annotations

from pydantic import BaseModel, Field


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
    exported: str
    thumbnail_jpeg_base64: str | None = Field(description="the person's picture, a JPEG, base64")


class ErrorOut(BaseModel):
    error: str = Field(description="the error's type, e.g. FaceNotFound")
    message: str = Field(description="one line saying what went wrong and what to do")
