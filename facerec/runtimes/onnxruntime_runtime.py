"""nn4 in ONNX Runtime (CPU execution provider): the same ONNX graph as OpenVINO's, float32 only."""

from __future__ import annotations

import numpy as np

from facerec.exceptions import InvalidArgument
from facerec.models.nn4_small2_onnx import INPUT_NAME
from facerec.runtimes.onnx_model import onnx_path


class OnnxRuntimeNetwork:
    """An ONNX Runtime session of nn4; call it on ``(N, 96, 96, 3)`` float32 faces for ``(N, 128)`` encodings."""

    runtime = "onnxruntime"
    precision = "float32"

    def __init__(self, path):
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def __call__(self, inputs: np.ndarray) -> np.ndarray:
        return self.session.run(None, {INPUT_NAME: np.ascontiguousarray(inputs, dtype=np.float32)})[0]


def load(weights, precision: str) -> OnnxRuntimeNetwork:
    """An ONNX Runtime session of nn4 with ``weights`` (a ``WeightSource``); only ``"float32"``."""
    if precision != "float32":
        raise InvalidArgument(f"the onnxruntime runtime computes in float32 only, not {precision}; "
                              "use runtime='openvino' or 'tensorflow' for bfloat16")
    return OnnxRuntimeNetwork(onnx_path(weights))
