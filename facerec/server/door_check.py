"""``POST /api/door/check``: the web door's decision on a short burst of frames, with the flatness check.

The page's door view sends a burst (12 webcam frames over 1.5 s) instead of one snapshot when the server runs
with ``--flat-check``. The burst's faces are tracked as the door tracks a visit (:mod:`facerec.visits`): the
face seen in most frames is *the* face, decided from its best frames under the door's default decision (its
cohort rule and promise), logged as one visit, and checked for flatness (:mod:`facerec.flatness`): a flat face
is refused whatever its distance; a face that stayed still cannot be told, and the answer carries the
``challenge`` "turn your head a little" (the page asks, and sends a new burst).

The check is off unless the server is started with it (``facerec serve --flat-check``): dlib's 68-point model
is trained on iBUG 300-W, whose terms restrict commercial use (MODEL_CARD.md, "Licences"). Off, the answer says
``flat: null`` and the flatness reason "the flatness check is off", and a photo can open the door.

Bounds: at most :data:`MAX_BURST_FRAMES` frames of at most :data:`MAX_FRAME_BYTES` each (413 beyond), each
decoded and detected as ``/api/identify``'s photo is (pixel limit, work slots, detection budget), downscaled to
:data:`BURST_MAX_SIDE` pixels a side. Faces are found by HOG, as the door finds them on a live stream (``auto``
would run dlib's CNN on every frame without a face).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Annotated

import numpy as np
from fastapi import FastAPI, File, UploadFile

from facerec.door import LIVE_DETECTOR
from facerec.exceptions import BurstTooLarge, FaceNotFound
from facerec.flatness import MIN_FRAMES
from facerec.server import schemas

MAX_BURST_FRAMES = 24  # frames a burst may hold (the page sends 12)
MAX_FRAME_BYTES = 2 * 2**20  # one frame's upload (a 640x480 webcam JPEG is about 50 kB)
BURST_MAX_SIDE = 1280  # pixels: a larger frame is downscaled before its faces are found
BURST_FRAMES = 12  # frames the page sends in a burst
BURST_DETECTOR = LIVE_DETECTOR  # hog: "auto" would run dlib's CNN (about 2 s) on every frame without a face
FRAME_STEP_S = 0.125  # seconds between two frames of a burst (the tracker's clock: 12 frames over 1.5 s)
CHALLENGE = "turn your head a little"
CHECK_OFF = "the flatness check is off"


def read_burst(frames: list[UploadFile], service) -> list[tuple[np.ndarray, str]]:
    """``(rgb, label)`` of each uploaded frame, decoded and first detected in the service's work slots.

    Raises:
        BurstTooLarge: more than :data:`MAX_BURST_FRAMES` frames, or a frame over :data:`MAX_FRAME_BYTES`.
        ImageNotReadable, ImageTooLarge, DetectionBudgetSpent: as for ``/api/identify``'s photo.
    """
    from facerec.align import detect_faces
    from facerec.server.app import read_upload, save_upload, upload_label

    if len(frames) > MAX_BURST_FRAMES:
        raise BurstTooLarge(f"at most {MAX_BURST_FRAMES} frames per burst, got {len(frames)}; send fewer frames")
    images = []
    with tempfile.TemporaryDirectory() as folder:
        for number, upload in enumerate(frames):
            path = save_upload(upload, Path(folder), number)
            if path.stat().st_size > MAX_FRAME_BYTES:
                raise BurstTooLarge(f"frame {upload_label(upload, number)} is larger than "
                                    f"{MAX_FRAME_BYTES // 2**20} MB; send smaller frames (a 640x480 JPEG is enough)")
            with service.slots:  # one decode and detection per core, as /api/identify's photo
                image = read_upload(upload, Path(folder), number, None, BURST_MAX_SIDE, path)
                detect_faces(image, detector=BURST_DETECTOR)  # bounded; remembered for the call under the lock
            images.append((image, upload_label(upload, number)))
    return images


def flatness_json(line: dict) -> dict:
    """The answer's ``flatness``: the visit line's (:meth:`facerec.flatness.Flatness.to_json`), or the check
    being off."""
    return line.get("flatness") or {"flat": None, "statistic": None, "reason": CHECK_OFF}


def challenge_of(flatness: dict) -> str | None:
    """:data:`CHALLENGE` when the check could not tell because the face stayed still (enough frames with
    landmarks, too little motion), else None."""
    if flatness["flat"] is not None or flatness["statistic"] is not None or flatness.get("frames", 0) < MIN_FRAMES:
        return None
    return CHALLENGE


def _track(service, visits, images: list[tuple[np.ndarray, str]], flat_check: bool) -> None:
    """Each frame's faces identified (under the service's lock, frame by frame) and handed to ``visits``."""
    from facerec.align import detect_faces
    from facerec.api import identify_faces_encoded
    from facerec.flatness import landmarks_68
    from facerec.visits import Sighting, face_crop, sharpness

    start = time.time()  # seconds since the epoch: the visit's start and end (UTC)
    for number, (image, label) in enumerate(images):
        at = start + number * FRAME_STEP_S
        with service.lock:
            rgb, faces = image, detect_faces(image, detector=BURST_DETECTOR)  # a frame without a face: nobody
            results, encodings = identify_faces_encoded(rgb, faces, service.db, encoder=service.encoder, label=label)
            visits.frame(at, [Sighting(at, r.box, e, sharpness(rgb, r.box), label, face_crop(rgb, r.box),
                                       landmarks_68(rgb, r.box) if flat_check else None)
                              for r, e in zip(results, encodings)])


def check_burst(service, images: list[tuple[np.ndarray, str]], flat_check: bool) -> dict:
    """The decision on a burst's face (see the module docstring): the door's visit line (:func:`facerec.door.
    visit_json` with ``threshold``, ``operating_point``, ``promise``) plus ``box`` (its best frame's), ``width``,
    ``height`` (the first frame's), ``faces`` (faces tracked in the burst), ``flatness``, ``challenge``, ``logged``.

    Every face tracked is logged as a visit; the answer is about the one seen in most frames (the first on a tie).

    Raises:
        FaceNotFound: no frame of the burst shows a face.
    """
    from facerec.door import DoorReport, door_visits

    report = DoorReport("web door", None)
    with service.lock:
        visits = door_visits(service.db, service.encoder, report, keep_log_days=service.keep_log_days,
                             timeout=len(images) * FRAME_STEP_S + 1.0, flat_check=flat_check)  # one visit a face
    _track(service, visits, images, flat_check)
    tracks = sorted(visits.tracker.open, key=lambda visit: visit.visit)  # the order finish() decides them in
    if not tracks:
        raise FaceNotFound(f"no face in any of the burst's {len(images)} frame(s); face the camera")
    with service.lock:
        visits.finish()
    index = max(range(len(tracks)), key=lambda i: (tracks[i].seen, -i))
    line, face = report.visits[index], tracks[index]
    flatness = flatness_json(line)
    height, width = images[0][0].shape[:2]
    return {**line, "flatness": flatness, "challenge": challenge_of(flatness),
            "box": [int(v) for v in face.best(1)[0].box], "width": int(width), "height": int(height),
            "faces": len(tracks), "logged": report.logged}


def add_door_check_route(app: FastAPI, service, door: list, flat_check: bool) -> None:
    """``GET /api/door/check`` (the check's settings) and ``POST /api/door/check`` (a burst), both of the ``door``
    role (see the module docstring)."""

    @app.get("/api/door/check", response_model=schemas.DoorCheckInfo, dependencies=door)
    def door_check_info():
        """Whether the flatness check is on, and the burst the page should send (not open: the check being
        off tells an attacker that a photo can open the door)."""
        return {"flat_check": flat_check, "burst_frames": BURST_FRAMES,
                "burst_seconds": BURST_FRAMES * FRAME_STEP_S, "max_frames": MAX_BURST_FRAMES,
                "max_frame_bytes": MAX_FRAME_BYTES, "challenge": CHALLENGE}

    @app.post("/api/door/check", response_model=schemas.DoorCheckOut, dependencies=door)
    def door_check(frames: Annotated[list[UploadFile], File()]):
        """A burst of webcam frames -> the identity decision on its face, ``flat`` and the challenge."""
        with service.lock:
            if service.db.count_faces() == 0:
                service.db.searcher()  # EmptyDatabase, before any detection work
        return check_burst(service, read_burst(frames, service), flat_check)
