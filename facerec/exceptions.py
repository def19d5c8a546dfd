"""Typed errors raised at the edges of facerec.

Every error a user can cause is one of these. They subclass ``ValueError`` (bad
input) or ``OSError`` (bad files), so generic handlers keep working, and their
messages say what to do next. Catch :class:`FaceRecError` to handle them all.
"""

from __future__ import annotations


class FaceRecError(Exception):
    """Base class of every error facerec raises on purpose."""


class ImageNotReadable(FaceRecError, OSError):
    """A path is missing, a directory, empty, truncated or not an image."""


class ImageTooLarge(FaceRecError, ValueError):
    """An image has more pixels than facerec will decode (memory stays bounded)."""


class BurstTooLarge(ImageTooLarge):
    """A burst of frames (the web door's flatness check) with too many frames, or a frame over its size limit."""


class FaceNotFound(FaceRecError, ValueError):
    """No face was detected in an image."""


class DetectionBudgetSpent(FaceNotFound):
    """The fast detector found no face and the slow one was skipped: its time budget per photo was spent.

    A :class:`FaceNotFound` (handlers of "no face" keep working); the server answers 503,
    since the same photo may pass on a less busy machine, and a smaller photo always costs less.
    """


class WeightsError(FaceRecError, ValueError):
    """A weights folder is incomplete or a CSV file is malformed."""


class UnknownIdentity(FaceRecError, ValueError):
    """A name is not enrolled in the database."""


class EmptyDatabase(FaceRecError, ValueError):
    """The database holds no encodings, so nobody can be identified."""


class DatabaseError(FaceRecError, OSError):
    """A database file is not a facerec SQLite database, or is damaged."""


class ModelMismatch(FaceRecError, ValueError):
    """A database was built with other weights than the ones loaded now."""


class InvalidArgument(FaceRecError, ValueError):
    """An argument has the wrong type, shape or value."""


class EncodingSizeMismatch(ModelMismatch, InvalidArgument):
    """Encodings of another width (or block layout) than the database's: e.g. 640-d ``dlib+facenet``
    encodings offered to a 128-d database. Both a :class:`ModelMismatch` and an :class:`InvalidArgument`
    (a malformed encoding), so the handlers of either keep working."""


class DatabaseNotWritable(DatabaseError):
    """The database cannot be written: its disk is full, or the file or its folder is read-only.

    Reading still works; the command-line exit code is 1 (a system error, not bad input).
    """


class DatabaseGone(DatabaseError):
    """The database file was removed or replaced by another file while it was open (nothing was written)."""


class SourceUnavailable(FaceRecError, OSError):
    """A live source (camera, stream, snapshot URL) gave no frame at all before the door gave up on it.

    A system problem, not bad input: the command-line exit code is 1.
    """


class DatabaseUnreachable(DatabaseNotWritable):
    """A PostgreSQL database cannot be reached now (its server is down, restarting, or the network is away).

    Nothing was written. A door keeps deciding from the gallery it holds in memory; enrolling fails until the
    server is back. The command-line exit code is 1 (a system error); the server answers 503.
    """


class UnknownVisit(FaceRecError, ValueError):
    """A visit id is not in the database (never logged, or deleted by the log's retention or a removal)."""
