"""nn4 in OpenVINO: the ONNX graph compiled for this CPU.

Two compiled forms, both from the same file and OpenVINO's model cache
(``<cache>/openvino``, so a later process compiles in a few tens of ms):

* latency: one stream, both cores on each call; used for calls of up to
  :data:`STREAM_BATCH` faces (a photo's faces; 3 ms a face here);
* throughput: one stream per core, compiled on the first large call; larger
  calls are split into chunks of :data:`STREAM_BATCH` that run side by side
  (about 10 % more faces/s than one stream on batches of 64; BENCHMARKS.md).

``bfloat16`` sets ``INFERENCE_PRECISION_HINT`` to ``bf16``; OpenVINO then keeps
what needs float32 (the normalisations) in float32 itself.
"""

from __future__ import annotations

import numpy as np

from facerec.paths import cache_dir
from facerec.runtimes.onnx_model import onnx_path

STREAM_BATCH = 32
_HINTS = {"float32": "f32", "bfloat16": "bf16"}


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
        inputs = np.ascontiguousarray(inputs, dtype=np.float32)
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
    """Compile nn4 with ``weights`` (a ``WeightSource``) in ``precision`` (``"float32"`` or ``"bfloat16"``)."""
    return OpenVinoNetwork(onnx_path(weights), precision)
