"""Where the ``nn4`` network runs: OpenVINO (default), ONNX Runtime, or TensorFlow.

One module per runtime, each with a ``load(weights, precision) -> Network``:

================  ===========================================================  ============
runtime           what runs                                                    needs
================  ===========================================================  ============
``openvino``      the ONNX graph (:mod:`facerec.models.nn4_small2_onnx`),      ``openvino``
                  compiled for this CPU; default
``onnxruntime``   the same ONNX graph in ONNX Runtime                          ``onnxruntime``
``tensorflow``    the Keras model with batch norms folded (the course's        TensorFlow
                  network); the comparison and the fallback
================  ===========================================================  ============

The ONNX graph is written from the weights, never converted by TensorFlow, and
is bound to their fingerprint (:mod:`facerec.runtimes.onnx_model`). All three
give the same encodings within 1e-5 in float32 (a test checks). Chosen by
measurement (``benchmarks/run.py``, BENCHMARKS.md): OpenVINO encodes about 1.5x
TensorFlow's batch rate and 3x its batch-1 speed, and imports in a quarter of a
second where TensorFlow takes four. Pick another with ``runtime=``, the CLI's
``--runtime`` or ``$FACEREC_RUNTIME``.
"""

from __future__ import annotations

import os
from typing import Protocol

import numpy as np

from facerec.exceptions import InvalidArgument

RUNTIMES = ("openvino", "onnxruntime", "tensorflow")
DEFAULT_RUNTIME = "openvino"
PRECISIONS = ("float32", "bfloat16", "int8")


class Network(Protocol):
    """A loaded nn4 network: ``(N, 96, 96, 3)`` float32 in [0, 1] to ``(N, 128)`` float32 unit-length encodings."""

    runtime: str
    precision: str

    def __call__(self, inputs: np.ndarray) -> np.ndarray: ...


def choose_runtime(name: str | None = None) -> str:
    """``name``, else ``$FACEREC_RUNTIME``, else :data:`DEFAULT_RUNTIME`; :class:`InvalidArgument` if unknown."""
    name = name or os.environ.get("FACEREC_RUNTIME") or DEFAULT_RUNTIME
    if name not in RUNTIMES:
        raise InvalidArgument(f"unknown runtime {name!r}; choose one of {', '.join(RUNTIMES)}")
    return name


def check_precision(precision: str) -> str:
    """``precision`` if it is one of :data:`PRECISIONS`, else :class:`InvalidArgument`."""
    if precision not in PRECISIONS:
        raise InvalidArgument(f"precision must be one of {PRECISIONS}, got {precision!r}")
    return precision


def load_network(weights, runtime: str | None = None, precision: str = "float32") -> Network:
    """Load the nn4 network with ``weights`` (a :class:`facerec.models.weight_files.WeightSource`) in a runtime.

    Args:
        weights: where the weights come from.
        runtime: one of :data:`RUNTIMES` (default: :func:`choose_runtime`).
        precision: ``"float32"`` (default; the thresholds were calibrated in it),
            ``"bfloat16"`` arithmetic (OpenVINO and TensorFlow), or ``"int8"`` (OpenVINO: the
            quantised model made by :mod:`facerec.training.quantize`, the fast path).
    """
    runtime, precision = choose_runtime(runtime), check_precision(precision)
    if runtime == "openvino":
        from facerec.runtimes import openvino_runtime as module
    elif runtime == "onnxruntime":
        from facerec.runtimes import onnxruntime_runtime as module
    else:
        from facerec.runtimes import tensorflow_runtime as module
    return module.load(weights, precision)
