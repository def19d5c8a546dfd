"""Encoding speed: FaceRecoModel against dlib's ResNet (the model behind ``face_recognition``).

Two measurements, both on the same photos and interleaved in one process:

* aligned faces: FaceRecoModel on 96x96 faces aligned by :mod:`facerec.align`;
  dlib's ResNet on the 150x150 chips dlib cuts from the same detections and
  5-point landmarks (``dlib.get_face_chip``, size 150, padding 0.25: what
  ``compute_face_descriptor(image, shape)`` cuts internally). Chip cutting and
  alignment are done beforehand, so only the networks are timed.
* end to end on photos (read + detect + align + encode, one photo at a time):
  ``facerec`` is :func:`facerec.align.find_and_align` then ``FaceEncoder.encode``;
  ``dlib`` uses the very same detection and landmarks, then
  ``compute_face_descriptor(image, shape)``; ``face_recognition`` is that
  package's default pipeline (HOG detector upsampled once on every photo,
  5-point landmarks, ``compute_face_descriptor``).
"""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

import numpy as np
from bench_common import canvases, happy_house_photos, interleaved, lfw_photos


@functools.cache
def dlib_models():
    """``(detector, 5-point predictor, ResNet)`` exactly as ``face_recognition`` loads them."""
    import dlib
    import face_recognition_models as models

    return (dlib.get_frontal_face_detector(),
            dlib.shape_predictor(models.pose_predictor_five_point_model_location()),
            dlib.face_recognition_model_v1(models.face_recognition_model_location()))


def dlib_shape(face):
    """A :class:`facerec.align.Face` as the ``dlib.full_object_detection`` dlib's encoder takes."""
    import dlib

    points = [dlib.point(int(round(x)), int(round(y))) for x, y in face.landmarks]
    return dlib.full_object_detection(dlib.rectangle(*[int(v) for v in face.box]), points)


def aligned_faces(paths: list[Path]) -> tuple[np.ndarray, list[np.ndarray]]:
    """The photos' faces aligned both ways: ``(N, 96, 96, 3)`` for facerec, 150x150 chips for dlib."""
    import dlib

    from facerec.align import find_and_align
    from facerec.image import load_image

    faces, chips = [], []
    for path in paths:
        image = load_image(path)
        aligned, face = find_and_align(image)
        faces.append(aligned)
        chips.append(dlib.get_face_chip(image, dlib_shape(face), size=150, padding=0.25))
    return np.stack(faces), chips


def encode_aligned(encoder, faces: np.ndarray, chips: list[np.ndarray], rounds: int, latency_rounds: int,
                   latency_faces: int) -> dict:
    """Throughput (a batch of all faces) and batch-1 latency (the first ``latency_faces``) of both encoders.

    Returns:
        ``faces``, ``facerec_faces_per_s``, ``dlib_faces_per_s`` (batch of ``len(faces)``),
        ``facerec_latency_ms``, ``dlib_latency_ms`` (one face a call), and the ratios.
    """
    resnet = dlib_models()[2]
    encoder.encode(faces), encoder.encode(faces[:1]), resnet.compute_face_descriptor(chips[:2])  # warm-up
    batch = interleaved({"facerec": lambda i: encoder.encode(faces),
                         "dlib": lambda i: resnet.compute_face_descriptor(chips)}, rounds, warmup=0)
    single = interleaved({"facerec": lambda i: encoder.encode(faces[i:i + 1]),
                          "dlib": lambda i: resnet.compute_face_descriptor(chips[i])},
                         latency_rounds, items=min(latency_faces, len(chips)), warmup=0)
    result = {"faces": len(faces), "batch": len(faces),
              "facerec_faces_per_s": len(faces) / batch["facerec"], "dlib_faces_per_s": len(faces) / batch["dlib"],
              "facerec_latency_ms": 1000 * single["facerec"], "dlib_latency_ms": 1000 * single["dlib"]}
    result["speedup_batch"] = result["facerec_faces_per_s"] / result["dlib_faces_per_s"]
    result["speedup_latency"] = result["dlib_latency_ms"] / result["facerec_latency_ms"]
    return result


def _pipelines(encoder) -> dict:
    """The three end-to-end pipelines, each ``function(path) -> encoding``."""
    from facerec.align import find_and_align
    from facerec.image import load_image

    detector, predictor, resnet = dlib_models()

    def facerec_pipeline(path):
        aligned, _ = find_and_align(load_image(path))
        return encoder.encode(aligned)

    def dlib_same_detection(path):
        image = load_image(path)
        _, face = find_and_align(image)
        return resnet.compute_face_descriptor(image, dlib_shape(face))

    def face_recognition_default(path):
        image = load_image(path)
        rects = sorted(detector(image, 1), key=lambda r: r.area(), reverse=True)
        return [resnet.compute_face_descriptor(image, predictor(image, rect)) for rect in rects[:1]]

    def detect_only(path):
        return find_and_align(load_image(path))

    return {"facerec": facerec_pipeline, "dlib": dlib_same_detection,
            "face_recognition": face_recognition_default, "detect_align": detect_only}


def end_to_end(encoder, counts: dict[str, int], rounds: int) -> dict:
    """Milliseconds per photo of each pipeline on three kinds of photos.

    Args:
        counts: photos per kind: ``lfw`` (160x160), ``happy_house`` (96x96 crops),
            ``canvas`` (an LFW photo enlarged twice in a 1280x960 JPEG).
        rounds: timed passes over each kind's photos.

    Returns:
        kind -> ``{"photos", "size", "<pipeline>_ms"...}`` (medians over photos and rounds).
    """
    pipelines = _pipelines(encoder)
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        kinds = {"lfw": (lfw_photos(counts["lfw"]), "160x160"),
                 "happy_house": (happy_house_photos(counts["happy_house"]), "96x96"),
                 "canvas": (canvases(lfw_photos(counts["canvas"]), Path(folder)), "1280x960")}
        for kind, (paths, size) in kinds.items():
            medians = interleaved({name: lambda i, f=f, p=paths: f(p[i]) for name, f in pipelines.items()},
                                  rounds, items=len(paths))
            results[kind] = {"photos": len(paths), "size": size,
                             **{f"{name}_ms": 1000 * value for name, value in medians.items()}}
            results[kind]["speedup_vs_dlib"] = results[kind]["dlib_ms"] / results[kind]["facerec_ms"]
    return results
