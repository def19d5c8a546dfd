"""facerec: face verification (1:1) and recognition (1:K) with 128-d encodings.

The model is OpenFace's nn4.small2 (FaceNet-style, 96x96 RGB faces aligned on
the eyes and nose, unit-length 128-d encodings); two faces are the same person
when the L2 distance of their encodings is at most the weights' threshold
(:func:`facerec.encoder.default_threshold`).

Quick start::

    import facerec

    with facerec.FaceDatabase("faces.sqlite") as db:
        db.enroll("younes", ["younes_1.jpg", "younes_2.jpg"])
        for face in facerec.identify("door.jpg", db):
            print(face.box, face.identity, face.distance)

TensorFlow is imported only when a model is first needed.
"""

from facerec.align import Face, align_face, detect_faces, find_and_align
from facerec.api import (
    FaceResult,
    Match,
    VerifyResult,
    encode_faces,
    face_distance,
    find_faces,
    identify,
    identify_faces,
    verify,
)
from facerec.database import EnrollResult, FaceDatabase, Person
from facerec.exceptions import (
    DatabaseError,
    EmptyDatabase,
    FaceNotFound,
    FaceRecError,
    ImageNotReadable,
    ImageTooLarge,
    InvalidArgument,
    ModelMismatch,
    UnknownIdentity,
    WeightsError,
)
from facerec.image import load_image
from facerec.search import ExactSearch, FaissSearch, make_search

__version__ = "0.1.0"

__all__ = [
    "DatabaseError", "EmptyDatabase", "EnrollResult", "ExactSearch", "Face", "FaceDatabase", "FaceNotFound",
    "FaceRecError", "FaceResult", "FaissSearch", "ImageNotReadable", "ImageTooLarge", "InvalidArgument", "Match",
    "ModelMismatch", "Person", "UnknownIdentity", "VerifyResult", "WeightsError", "align_face", "detect_faces",
    "encode_faces", "face_distance", "find_and_align", "find_faces", "identify", "identify_faces", "load_image",
    "make_search", "verify",
]
