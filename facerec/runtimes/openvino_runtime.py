"""nn4 in OpenVINO: the ONNX graph compiled for this CPU.

Two compiled forms, both from the same file and OpenVINO's model cache
(``<cache>/openvino``, so a later process compiles in a few tens of ms):

* latency: one stream, both cores on each call; used for calls of up to
  :data:`STREAM_BATCH` faces (a photo's faces; 3 ms a face here);
* throughput: one stream per core, compiled on the first large call; larger
  calls are split into chunks of :data:`STREAM_BATCH` that run side by side.

``bfloat16`` sets ``INFERENCE_PRECISION_HINT`` to ``bf16``; OpenVINO then keeps
what needs float32 (the normalisations) in float32 itself. ``int8`` runs the
quantised model of the same weights (:func:`int8_path`, made by
:mod:`facerec.training.quantize`): int8 convolutions (AVX-512 VNNI), float32 elsewhere.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from facerec.exceptions import WeightsError
from facerec.paths import cache_dir
from facerec.runtimes.onnx_model import PACKAGE_DIR, onnx_path

STREAM_BATCH = 32
_HINTS = {"float32": "f32", "bfloat16": "bf16", "int8": "f32"}  # int8: the quantised ops are int8 by themselves


def int8_file_name(fingerprint: str) -> str:
    """The quantised model's file name (``.xml``; its ``.bin`` beside it) for weights with this fingerprint."""
    return f"nn4_small2-{fingerprint[:16]}-int8.xml"


def int8_path(weights) -> Path:
    """The int8 model of ``weights`` (a ``WeightSource``): beside the CSVs, or packed with facerec.

    Raises:
        WeightsError: there is none for these weights (say how to make it).
    """
    name = int8_file_name(weights.fingerprint)
    for folder in filter(None, (weights.folder, PACKAGE_DIR)):
        if (folder / name).is_file() and (folder / name).with_suffix(".bin").is_file():
            return folder / name
    raise WeightsError(f"no int8 model of these weights ({name}) in {weights.description}; make it with "
                       "`python -m facerec.training.quantize --weights DIR` (needs nncf and the BFW assets), "
                       "or use precision float32")


class OpenVinoNetwork:
    """A compiled nn4; call it on ``(N, 96, 96, 3)`` float32 faces for ``(N, 128)`` encodings."""

    runtime = "openvino"

    def __init__(self, path, precision: str):
        import openvino as ov

        self.core = ov.Core()
        self.core.set_property({"CACHE_DIR": str(cache_dir() / "openvino")})
        self.path, self.precision = str(path), precision
        self._config = {"INFERENCE_PRECISION_HINT": _HINTS[precision]}
        self._latency = self.core.compile_model(self.path, "CPU", {**self._config, "PERFORMANCE_HINT": "LATENCY"})
        self._request = self._latency.create_infer_request()
        self._queue = None

    def _throughput_queue(self):
        import openvino as ov

        if self._queue is None:
            compiled = self.core.compile_model(self.path, "CPU", {**self._config, "PERFORMANCE_HINT": "THROUGHPUT"})
            self._queue = ov.AsyncInferQueue(compiled, int(compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS")))
        return self._queue

    def __call__(self, inputs: np.ndarray) -> np.ndarray:
        out = self._run(np.ascontiguousarray(inputs, dtype=np.float32))
        if self.precision == "int8":  # the quantised normalisation is off by up to 3 %: back onto the sphere
            out /= np.sqrt(np.maximum(np.sum(out * out, axis=1, keepdims=True), 1e-12))
        return out

    def _run(self, inputs: np.ndarray) -> np.ndarray:
        if len(inputs) <= STREAM_BATCH:
            return self._request.infer({0: inputs})[0].copy()
        queue, out = self._throughput_queue(), np.empty((len(inputs), 128), np.float32)

        def done(request, start):
            result = request.get_output_tensor(0).data
            out[start:start + len(result)] = result

        queue.set_callback(done)
        for start in range(0, len(inputs), STREAM_BATCH):
            queue.start_async({0: inputs[start:start + STREAM_BATCH]}, start)
        queue.wait_all()
        return out


def load(weights, precision: str) -> OpenVinoNetwork:
    """Compile nn4 with ``weights`` (a ``WeightSource``) in ``precision``: float32, bfloat16 or int8."""
    return OpenVinoNetwork(int8_path(weights) if precision == "int8" else onnx_path(weights), precision)
