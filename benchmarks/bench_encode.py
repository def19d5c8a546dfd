"""Encoding speed: FaceRecoModel against dlib's ResNet (the model behind ``face_recognition``).

Two measurements, both on the same photos and interleaved in one process:

* aligned faces: FaceRecoModel on 96x96 faces aligned by :mod:`facerec.align`, one
  pass per face (``FaceEncoder(flip_average=False)``) and as ``FaceEncoder``'s default
  (face and mirror image, two passes, averaged);
  dlib's ResNet on the 150x150 chips dlib cuts from the same detections and
  5-point landmarks (``dlib.get_face_chip``, size 150, padding 0.25: what
  ``compute_face_descriptor(image, shape)`` cuts internally). Chip cutting and
  alignment are done beforehand, so only the networks are timed.
* end to end on photos (read + detect + align + encode, one photo at a time):
  ``facerec`` is :func:`facerec.align.find_and_align` then ``FaceEncoder.encode`` (the
  default encoder, face and mirror image averaged, as the ``facerec`` command uses it);
  ``dlib`` uses the very same detection and landmarks, then
  ``compute_face_descriptor(image, shape)``; ``face_recognition`` is that
  package's default pipeline (HOG detector upsampled once on every photo,
  5-point landmarks, ``compute_face_descriptor``); ``facerec_dlib`` is the
  practical tool with its ``dlib`` encoder (``facerec.encode_faces`` with
  :class:`facerec.encoders.dlib_resnet.DlibEncoder`: auto detection, dlib's chip);
  ``detect_hog`` and ``detect_cnn`` time :func:`facerec.detect_faces` with each
  detector alone (``facerec`` and ``facerec_dlib`` use ``auto``: HOG, then the CNN
  only when HOG finds nothing).
"""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

import numpy as np
from bench_common import canvases, happy_house_photos, interleaved, lfw_photos, median_seconds


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


def encode_aligned(encoders: dict, faces: np.ndarray, chips: list[np.ndarray], rounds: int, latency_rounds: int,
                   latency_faces: int) -> dict:
    """Throughput (one batch of all faces) and batch-1 latency (the first ``latency_faces``), interleaved.

    Args:
        encoders: name -> :class:`facerec.encoder.FaceEncoder` (e.g. one pass, and the default
            face + mirror average); each is compared with dlib's ResNet.

    Returns:
        ``faces``, ``batch``, and for each encoder name and ``dlib``: ``<name>_faces_per_s`` (batch of
        ``len(faces)``) and ``<name>_latency_ms`` (one face a call); for each encoder name
        ``<name>_speedup_batch`` and ``<name>_speedup_latency`` (its speed over dlib's); and
        ``callwise_latency_ms``: the first encoder's latency when it alternates with dlib call by call
        (the latencies above alternate in blocks of ``latency_faces`` calls).
    """
    resnet = dlib_models()[2]
    for encoder in encoders.values():  # warm-up: trace, and let oneDNN pick its kernels
        encoder.encode(faces), encoder.encode(faces[:1])
    resnet.compute_face_descriptor(chips[:2])
    batch_calls = {name: (lambda i, e=e: e.encode(faces)) for name, e in encoders.items()}
    single_calls = {name: (lambda i, e=e: e.encode(faces[i:i + 1])) for name, e in encoders.items()}
    batch = interleaved({**batch_calls, "dlib": lambda i: resnet.compute_face_descriptor(chips)}, rounds, warmup=0)
    single = interleaved({**single_calls, "dlib": lambda i: resnet.compute_face_descriptor(chips[i])},
                         latency_rounds, items=min(latency_faces, len(chips)), warmup=0, blocks=True)
    callwise = interleaved({"facerec": single_calls[next(iter(encoders))],
                            "dlib": lambda i: resnet.compute_face_descriptor(chips[i])},
                           latency_rounds, items=min(latency_faces, len(chips)), warmup=0)
    result = {"faces": len(faces), "batch": len(faces), "callwise_latency_ms": 1000 * callwise["facerec"]}
    for name in [*encoders, "dlib"]:
        result[f"{name}_faces_per_s"] = len(faces) / batch[name]
        result[f"{name}_latency_ms"] = 1000 * single[name]
    for name in encoders:
        result[f"{name}_speedup_batch"] = batch["dlib"] / batch[name]
        result[f"{name}_speedup_latency"] = single["dlib"] / single[name]
    return result


def network_gflop(model) -> float:
    """GFLOP for one face through ``model``: 2 per multiply-add of its convolutions and dense layer."""
    import keras

    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            total += 2 * int(np.prod(layer.output.shape[1:3])) * int(np.prod(layer.kernel.shape))
        elif isinstance(layer, keras.layers.Dense):
            total += 2 * int(np.prod(layer.kernel.shape))
    return total / 1e9


CEILING_CONV = (64, 24, 24, 64, 192)  # batch, height, width, in, out: nn4's conv3, its largest convolution


def _tensorflow_conv_gflop_per_s(rounds: int) -> float:
    import tensorflow as tf

    batch, height, width, inputs, outputs = CEILING_CONV
    rng = np.random.default_rng(0)
    x = tf.constant(rng.random((batch, height, width, inputs), dtype=np.float32))
    kernel = tf.constant(rng.normal(size=(3, 3, inputs, outputs)).astype(np.float32))
    conv = tf.function(lambda t: tf.nn.relu(tf.nn.conv2d(t, kernel, 1, "SAME")))
    return 2 * batch * height * width * 9 * inputs * outputs / median_seconds(lambda: conv(x).numpy(), rounds) / 1e9


def _openvino_conv_gflop_per_s(rounds: int) -> float:
    import onnx
    import openvino as ov
    from onnx import TensorProto, helper, numpy_helper

    batch, height, width, inputs, outputs = CEILING_CONV
    rng = np.random.default_rng(0)
    kernel = numpy_helper.from_array(rng.normal(size=(outputs, inputs, 3, 3)).astype(np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
         helper.make_node("Relu", ["c"], ["y"])], "conv3",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, inputs, height, width])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, outputs, height, width])], [kernel])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    core = ov.Core()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "conv3.onnx"
        onnx.save(model, path)
        compiled = core.compile_model(str(path), "CPU", {"INFERENCE_PRECISION_HINT": "f32",
                                                         "PERFORMANCE_HINT": "LATENCY"})
    request, x = compiled.create_infer_request(), rng.random((batch, inputs, height, width), dtype=np.float32)
    seconds_per_call = median_seconds(lambda: request.infer({0: x}), rounds)
    return 2 * batch * height * width * 9 * inputs * outputs / seconds_per_call / 1e9


def conv_ceiling(model, rounds: int = 9) -> dict:
    """What this CPU's float32 convolutions reach, and the batch throughput that bounds FaceRecoModel's.

    Times nn4.small2's largest convolution alone (``conv3``: 3x3, 64 to 192 channels on
    24x24, batch 64, with its ReLU) in TensorFlow (oneDNN) and in OpenVINO, and takes the
    faster, as GFLOP/s. The network needs :func:`network_gflop` per face; if every layer
    ran as fast as that convolution, it would encode ``ceiling_faces_per_s``. Pooling,
    normalisation and concatenation only add time.
    """
    rates = {"tensorflow": _tensorflow_conv_gflop_per_s(rounds), "openvino": _openvino_conv_gflop_per_s(rounds)}
    per_face = network_gflop(model)
    best = max(rates, key=rates.get)
    return {"conv_gflop_per_s": rates[best], "conv_gflop_per_s_by_runtime": rates, "conv_runtime": best,
            "network_gflop_per_face": per_face, "ceiling_faces_per_s": rates[best] / per_face}


def encoding_shift(exact, approximate, faces: np.ndarray) -> dict:
    """How far ``approximate``'s encodings of ``faces`` lie from ``exact``'s: median and max L2 distance.

    Also gives the model card's verification ``threshold``, the scale to read them against.
    """
    from facerec.encoders.nn4 import default_threshold

    moved = np.linalg.norm(approximate.encode(faces) - exact.encode(faces), axis=1)
    return {"median": float(np.median(moved)), "max": float(moved.max()),
            "threshold": default_threshold(exact.weights_dir)}


def _pipelines(encoder) -> dict:
    """The end-to-end pipelines (and detection alone), each ``function(path) -> encoding``."""
    import facerec
    from facerec.align import detect_faces, find_and_align
    from facerec.encoders.dlib_resnet import get_dlib_encoder
    from facerec.image import load_image

    dlib_encoder = get_dlib_encoder()

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

    return {"facerec": facerec_pipeline, "facerec_dlib": lambda path: facerec.encode_faces(path, encoder=dlib_encoder),
            "dlib": dlib_same_detection, "face_recognition": face_recognition_default, "detect_align": detect_only,
            "detect_hog": lambda path: detect_faces(load_image(path), detector="hog"),
            "detect_cnn": lambda path: detect_faces(load_image(path), detector="cnn")}


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
