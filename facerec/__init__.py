"""facerec: face verification (1:1) and recognition (1:K) with 128-d encodings.

Two encoders behind one interface (:mod:`facerec.encoders`): ``dlib`` (dlib's
ResNet, the default for new databases) and ``nn4`` (this project's OpenFace
nn4.small2, the course's FaceRecoModel). Two faces are the same person when the
L2 distance of their encodings is at most the threshold of an operating point
of the encoder's model card (:mod:`facerec.operating_points`; by default one
that lets a stranger in at most 1 % of the time, whatever the gallery's size).

Quick start::

    import facerec

    with facerec.FaceDatabase("faces.sqlite") as db:
        db.enroll("younes", ["younes_1.jpg", "younes_2.jpg"])
        for face in facerec.identify("door.jpg", db):
            print(face.box, face.identity, face.distance)

No practical path imports TensorFlow: nn4 runs in OpenVINO (:mod:`facerec.runtimes`).
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
from facerec.encoders import DEFAULT_ENCODER, ENCODERS, load_encoder
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
    "DEFAULT_ENCODER", "ENCODERS", "align_face", "DatabaseError", "detect_faces", "EmptyDatabase", "encode_faces",
    "EnrollResult", "ExactSearch", "Face", "face_distance", "FaceDatabase", "FaceNotFound", "FaceRecError",
    "FaceResult", "FaissSearch", "find_and_align", "find_faces", "identify", "identify_faces", "ImageNotReadable",
    "ImageTooLarge", "InvalidArgument", "load_encoder", "load_image", "make_search", "Match", "ModelMismatch",
    "Person", "UnknownIdentity", "verify", "VerifyResult", "WeightsError",
]
