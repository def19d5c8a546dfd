"""``facerec index``: every face of every photo of some folders, stored in the face database.

Incremental: a photo file whose size and modification time are unchanged is not read again; a changed
or new one is hashed (SHA-256) and only a content never seen before is decoded, detected and encoded, so
duplicates are encoded once; files gone from the folders are forgotten. Results are committed every
``batch`` photos, so an interrupted run keeps what it finished and the next run resumes there.

The encoding runs in local processes (default), in this process (``workers=1``), or on a Dask
cluster (:mod:`facerec.library.distributed`); the one store is written by this process only.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from facerec.align import DEFAULT_DETECTOR
from facerec.exceptions import FaceNotFound, ImageNotReadable, ImageTooLarge, InvalidArgument, ModelMismatch
from facerec.sources.files import IMAGE_SUFFIXES
from facerec.stores.sqlite_library import EncodedContent, PhotoState

DEFAULT_BATCH = 32  # photos committed per transaction (what an interruption can lose)

Job = tuple[str, str, str, str]  # (path, sha256, encoder name, detector)
Runner = Callable[[Sequence[Job]], Iterator[EncodedContent | tuple[str, str]]]


@dataclass
class IndexReport:
    """What one ``index`` run did (counts of photo files, except ``faces``).

    Attributes:
        photos: image files found in the folders.
        encoded: distinct new contents decoded and encoded now.
        faces: faces found in them.
        unchanged: files skipped because their size and time had not changed.
        duplicates: new or changed files whose content was already encoded (or encoded once this run).
        removed: files forgotten because they left the folders.
        failed: ``(path, reason)`` of files that could not be read (tried again next run).
    """

    photos: int = 0
    encoded: int = 0
    faces: int = 0
    unchanged: int = 0
    duplicates: int = 0
    removed: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"photos": self.photos, "encoded": self.encoded, "faces": self.faces, "unchanged": self.unchanged,
                "duplicates": self.duplicates, "removed": self.removed,
                "failed": [{"photo": p, "error": e} for p, e in self.failed]}


def photo_files(folders: Iterable[str | os.PathLike]) -> list[Path]:
    """Every image file (by suffix) under ``folders``, recursively, as absolute paths, sorted.

    Raises:
        ImageNotReadable: a folder does not exist.
    """
    found: set[Path] = set()
    for folder in folders:
        root = Path(folder).resolve()
        if root.is_file() and root.suffix.lower() in IMAGE_SUFFIXES:
            found.add(root)
            continue
        if not root.is_dir():
            raise ImageNotReadable(f"{folder} is not a folder of photos; give folders (or photo files) to index")
        for current, _, names in os.walk(root):
            found.update(Path(current) / n for n in names if Path(n).suffix.lower() in IMAGE_SUFFIXES)
    return sorted(found)


def encode_content(job: Job) -> EncodedContent | tuple[str, str]:
    """Every face of one photo: its :class:`EncodedContent`, or ``(path, reason)`` when it cannot be read.

    Runs in a worker (a local process, or a Dask worker reading the photo from shared storage by path);
    the encoder is loaded once per process.
    """
    from facerec.align import detect_faces
    from facerec.encoders import load_encoder
    from facerec.image import load_image

    path, sha, encoder_name, detector = job
    try:
        rgb = load_image(path)
        try:
            faces = detect_faces(rgb, detector=detector)
        except FaceNotFound:  # the CNN's time budget was spent: no face found
            faces = []
    except (ImageNotReadable, ImageTooLarge) as error:
        return path, str(error)
    encodings = load_encoder(encoder_name).encode_faces(rgb, faces) if faces else np.zeros((0, 128), np.float32)
    return EncodedContent(sha, rgb.shape[1], rgb.shape[0], np.array([f.box for f in faces], np.int64).reshape(-1, 4),
                          np.asarray(encodings, np.float32).reshape(-1, 128),
                          np.array([f.score for f in faces], np.float32))


def run_inline(jobs: Sequence[Job]) -> Iterator[EncodedContent | tuple[str, str]]:
    """Encode in this process, in order."""
    return map(encode_content, jobs)


def local_processes(workers: int) -> Runner:
    """A runner over ``workers`` local processes (spawned; results in completion order)."""
    def run(jobs: Sequence[Job]) -> Iterator[EncodedContent | tuple[str, str]]:
        import multiprocessing

        with multiprocessing.get_context("spawn").Pool(workers) as pool:
            yield from pool.imap_unordered(encode_content, jobs, chunksize=4)

    return run


def _changes(db, files: list[Path], folders: Iterable[str | os.PathLike]) -> tuple[list, list[str], int]:
    """``(changed [(path, size, mtime)], removed paths, unchanged count)`` against the stored states."""
    states = db.library_sql.photo_states(db)
    roots = [str(Path(f).resolve()) for f in folders]
    current = {str(p) for p in files}
    removed = [p for p in states if p not in current and any(p == r or p.startswith(r.rstrip("/") + "/")
                                                              for r in roots)]
    changed, unchanged = [], 0
    for path in files:
        stat = path.stat()
        known = states.get(str(path))
        if known is not None and known.size == stat.st_size and known.mtime == stat.st_mtime:
            unchanged += 1
        else:
            changed.append((str(path), stat.st_size, stat.st_mtime))
    return changed, removed, unchanged


def index(db, folders: Sequence[str | os.PathLike], workers: int | None = None, detector: str = DEFAULT_DETECTOR,
          progress: bool = False, batch: int = DEFAULT_BATCH, runner: Runner | None = None) -> IndexReport:
    """Index every face of every photo under ``folders`` into ``db`` (see the module docstring).

    Args:
        db: a :class:`~facerec.database.FaceDatabase` (its encoder encodes the faces).
        folders: folders (searched recursively) or photo files.
        workers: local encoding processes (default: the cores this process may use; 1: this process).
        detector: ``"hog"``, ``"cnn"`` or ``"auto"`` (default), see :func:`facerec.detect_faces`.
        progress: a progress bar on stderr.
        batch: photos committed per transaction (default 32).
        runner: where to encode (e.g. :func:`facerec.library.distributed.dask_runner`); overrides ``workers``.

    Raises:
        InvalidArgument: no folder given. ImageNotReadable: a folder is missing.
        ModelMismatch: the database holds encodings of another encoder or other weights.
    """
    from tqdm import tqdm

    from facerec.align import check_detector, work_slots
    from facerec.database import now_utc

    if not folders:
        raise InvalidArgument("give at least one folder of photos to index")
    check_detector(detector)
    db.library_sql.check_supported(db)
    encoder = db.load_encoder()
    _check_model(db, encoder)
    files = photo_files(folders)
    changed, removed, unchanged = _changes(db, files, folders)
    report = IndexReport(photos=len(files), unchanged=unchanged)
    model = (encoder.name, encoder.fingerprint)
    ready, pending = _hash_changed(db, changed, report)
    if ready:
        db.library_sql.save(db, ready, [], now_utc(), model)
    firsts = {sha: files[0][0] for sha, files in pending.items()}
    jobs = [(firsts[sha], sha, encoder.name, detector) for sha in pending]
    first_sha = {path: sha for sha, path in firsts.items()}
    run = runner or (run_inline if (workers or work_slots()) == 1 or len(jobs) < 2 else
                     local_processes(min(workers or work_slots(), len(jobs))))
    contents: list[EncodedContent] = []
    for result in tqdm(run(jobs) if jobs else [], total=len(jobs), desc="indexing", unit="photo",
                       disable=not progress):
        if isinstance(result, tuple):
            report.failed.append(result)
            report.duplicates -= len(pending[first_sha[result[0]]]) - 1
            continue
        contents.append(result)
        if len(contents) >= batch:
            _save(db, contents, pending, report, model)
            contents = []
    _save(db, contents, pending, report, model)
    report.removed = db.library_sql.forget(db, removed)  # last: a file moved within the folders keeps its faces
    return report


def _hash_changed(db, changed: list, report: IndexReport) -> tuple[list[tuple[str, PhotoState]], dict]:
    """Hash the new or changed files: ``(files whose content is stored already, {new sha256: its files})``."""
    from facerec.database import file_sha256

    known, pending, ready = db.library_sql.known_contents(db), {}, []
    for path, size, mtime in changed:
        try:
            state = PhotoState(size, mtime, file_sha256(path))
        except OSError as error:
            report.failed.append((path, f"cannot read {path}: {error.strerror or error}"))
            continue
        if state.sha256 in known:
            ready.append((path, state))
            report.duplicates += 1
        elif state.sha256 in pending:
            pending[state.sha256].append((path, state))
            report.duplicates += 1
        else:
            pending[state.sha256] = [(path, state)]
    return ready, pending


def _save(db, contents: list[EncodedContent], pending: dict, report: IndexReport, model: tuple[str, str]) -> None:
    from facerec.database import now_utc

    if not contents:
        return
    db.library_sql.save(db, [item for c in contents for item in pending[c.sha256]], contents, now_utc(), model)
    report.encoded += len(contents)
    report.faces += sum(len(c.boxes) for c in contents)


def _check_model(db, encoder) -> None:
    """Refuse an encoder whose weights differ from the ones of the faces stored (enrolled or indexed)."""
    db.check_encoder(encoder)
    stored = db.model_fingerprint
    if stored is not None and stored != encoder.fingerprint:
        raise ModelMismatch(f"database {db.path} holds encodings of other weights (fingerprint {stored[:12]}); "
                            "index into a new database")
