"""nn4.small2.v1 written as an ONNX graph from its weight arrays: the inference network, without TensorFlow.

The same layer list as :mod:`facerec.models.nn4_small2` (the Keras model the
course and training use), block by block, in ONNX's channels-first layout, with
two inference-time simplifications that leave the encodings unchanged within
float32 rounding (a test compares them with TensorFlow's):

* every batch norm is folded into the convolution before it
  (``w * s``, ``(b - mean) * s + beta`` with ``s = gamma / sqrt(var + 1e-5)``, in float64);
* the local response normalisations are ONNX ``LRN`` nodes (the same formula as
  Torch's ``SpatialCrossMapLRN``: size 5, alpha 1e-4, beta 0.75, k 1).

Input ``input_image``: ``(N, 96, 96, 3)`` float32 RGB in [0, 1] (channels last, as
the Keras model takes it); output ``encoding``: ``(N, 128)`` float32, unit length.
Needs the ``onnx`` package (only to write the graph; running it needs a runtime,
:mod:`facerec.runtimes`).
"""

from __future__ import annotations

import numpy as np

OPSET = 17
GRAPH_VERSION = 1  # bump when the graph written here changes (names the cached ONNX files)
BN_EPSILON = 1e-5  # as facerec.models.nn4_small2.BN_EPSILON (that module imports Keras; a test compares)
INPUT_NAME, OUTPUT_NAME = "input_image", "encoding"


class _Graph:
    """Collects ONNX nodes and initialisers; every method returns its output's name."""

    def __init__(self, arrays: dict[str, np.ndarray]):
        self.arrays, self.nodes, self.initializers, self._count = arrays, [], [], 0

    def _name(self, hint: str) -> str:
        self._count += 1
        return f"{hint}_{self._count}"

    def constant(self, hint: str, value: np.ndarray) -> str:
        from onnx import numpy_helper

        name = self._name(hint)
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def node(self, op: str, inputs: list[str], hint: str | None = None, **attributes) -> str:
        from onnx import helper

        output = self._name(hint or op.lower())
        self.nodes.append(helper.make_node(op, inputs, [output], **attributes))
        return output

    def pad(self, x: str, pad) -> str:
        """Zero padding like Keras ``ZeroPadding2D(pad)``: an int, or ``((top, bottom), (left, right))``."""
        (top, bottom), (left, right) = ((pad, pad), (pad, pad)) if isinstance(pad, int) else pad
        pads = np.array([0, 0, top, left, 0, 0, bottom, right], np.int64)
        return self.node("Pad", [x, self.constant("pads", pads)], "pad")

    def conv_bn(self, x: str, conv: str, bn: str, kernel: int, strides: int = 1, padding: int = 0) -> str:
        """Zero pad, convolve with the batch norm folded in, ReLU (one Torch conv block)."""
        weight, bias = (self.arrays[f"{conv}_{s}"].astype(np.float64) for s in ("w", "b"))
        gamma, beta, mean, variance = (self.arrays[f"{bn}_{s}"].astype(np.float64) for s in ("w", "b", "m", "v"))
        scale = gamma / np.sqrt(variance + BN_EPSILON)
        folded_w = (weight * scale[:, None, None, None]).astype(np.float32)
        folded_b = ((bias - mean) * scale + beta).astype(np.float32)
        y = self.node("Conv", [x, self.constant(f"{conv}_w", folded_w), self.constant(f"{conv}_b", folded_b)],
                      conv, kernel_shape=[kernel, kernel], strides=[strides, strides],
                      pads=[padding] * 4)
        return self.node("Relu", [y], f"{conv}_relu")

    def max_pool(self, x: str, size: int = 3, strides: int = 2, padding: int = 0) -> str:
        """Max pooling; ``padding`` stands for a zero padding before it, which is exact only on inputs >= 0.

        ONNX pads a max pool with minus infinity, Keras's ``ZeroPadding2D`` with zeros:
        the two agree where every window holds a real value >= 0, as after a ReLU.
        """
        return self.node("MaxPool", [x], "maxpool", kernel_shape=[size, size], strides=[strides, strides],
                         pads=[padding] * 4)

    def l2_pool(self, x: str, size: int = 3, strides: int = 3) -> str:
        """sqrt(max(sum of squares over each window, 1e-12)), as the Keras model computes it."""
        squared = self.node("Mul", [x, x], "square")
        mean = self.node("AveragePool", [squared], "avgpool", kernel_shape=[size, size], strides=[strides, strides])
        total = self.node("Mul", [mean, self.constant("window", np.array(size * size, np.float32))])
        floor = self.node("Max", [total, self.constant("tiny", np.array(1e-12, np.float32))])
        return self.node("Sqrt", [floor], "l2pool")

    def lrn(self, x: str) -> str:
        return self.node("LRN", [x], "lrn", size=5, alpha=1e-4, beta=0.75, bias=1.0)

    def concat(self, xs: list[str], name: str) -> str:
        return self.node("Concat", xs, name, axis=1)


def _branch(g: _Graph, x: str, block: str, kind: str, kernel: int, strides: int = 1) -> str:
    prefix = f"inception_{block}_{kind}"
    x = g.conv_bn(x, f"{prefix}_conv1", f"{prefix}_bn1", 1)
    return g.conv_bn(x, f"{prefix}_conv2", f"{prefix}_bn2", kernel, strides, padding=kernel // 2)


def _pool_branch(g: _Graph, x: str, block: str, pool: str, has_conv: bool, pad) -> str:
    x = g.max_pool(x) if pool == "max" else g.l2_pool(x)
    if has_conv:
        x = g.conv_bn(x, f"inception_{block}_pool_conv", f"inception_{block}_pool_bn", 1)
    return g.pad(x, pad)


def _one_by_one(g: _Graph, x: str, block: str) -> str:
    return g.conv_bn(x, f"inception_{block}_1x1_conv", f"inception_{block}_1x1_bn", 1)


def _stem(g: _Graph, x: str) -> str:
    x = g.conv_bn(x, "conv1", "bn1", 7, strides=2, padding=3)
    x = g.lrn(g.max_pool(x, padding=1))  # after a ReLU: zero padding = max pool padding
    x = g.conv_bn(x, "conv2", "bn2", 1)
    x = g.lrn(g.conv_bn(x, "conv3", "bn3", 3, padding=1))
    return g.max_pool(x, padding=1)


# Each block's towers: ("3x3" | "5x5", kernel, strides), then its pool tower (pool, has 1x1 conv, output padding),
# then whether it has a 1x1 tower. The same numbers as the Keras builder's _block_* functions.
_BLOCKS = [
    ("3a", [("3x3", 3, 1), ("5x5", 5, 1)], ("max", True, ((3, 4), (3, 4))), True),
    ("3b", [("3x3", 3, 1), ("5x5", 5, 1)], ("l2", True, 4), True),
    ("3c", [("3x3", 3, 2), ("5x5", 5, 2)], ("max", False, ((0, 1), (0, 1))), False),
    ("4a", [("3x3", 3, 1), ("5x5", 5, 1)], ("l2", True, 2), True),
    ("4e", [("3x3", 3, 2), ("5x5", 5, 2)], ("max", False, ((0, 1), (0, 1))), False),
    ("5a", [("3x3", 3, 1)], ("l2", True, 1), True),
    ("5b", [("3x3", 3, 1)], ("max", True, 1), True),
]


def _inception(g: _Graph, x: str, block: str, towers, pool, one_by_one: bool) -> str:
    outputs = [_branch(g, x, block, kind, kernel, strides) for kind, kernel, strides in towers]
    outputs.append(_pool_branch(g, x, block, *pool))
    if one_by_one:
        outputs.append(_one_by_one(g, x, block))
    return g.concat(outputs, f"inception_{block}")


def _head(g: _Graph, x: str) -> str:
    """Average pool, dense layer, L2 normalisation."""
    x = g.node("Flatten", [g.node("AveragePool", [x], "avgpool", kernel_shape=[3, 3], strides=[1, 1])])
    dense = g.node("Gemm", [x, g.constant("dense_w", g.arrays["dense_w"]), g.constant("dense_b", g.arrays["dense_b"])],
                   "dense_layer", transB=1)
    squares = g.node("ReduceSumSquare", [dense], "sumsq", axes=[1], keepdims=1)
    norm = g.node("Sqrt", [g.node("Max", [squares, g.constant("tiny", np.array(1e-12, np.float32))])])
    return g.node("Div", [dense, norm], OUTPUT_NAME)


def build_onnx(arrays: dict[str, np.ndarray], producer_version: str = "") -> bytes:
    """The serialised ONNX model of nn4.small2 with these weights (see the module docstring).

    Args:
        arrays: the 224 weight arrays keyed by CSV stem, Torch order
            (:func:`facerec.models.weight_files.read_csv_arrays`).
        producer_version: recorded in the model (e.g. the weights' fingerprint).

    Returns:
        The model as bytes (``ModelProto.SerializeToString()``), about 15 MB; checked by ``onnx.checker``.
    """
    import onnx
    from onnx import TensorProto, helper

    g = _Graph(arrays)
    x = g.node("Transpose", [INPUT_NAME], "nchw", perm=[0, 3, 1, 2])
    x = _stem(g, x)
    for block in _BLOCKS:
        x = _inception(g, x, *block)
    _head(g, x)
    g.nodes[-1].output[0] = OUTPUT_NAME
    graph = helper.make_graph(
        g.nodes, "FaceRecoModel",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["batch", 96, 96, 3])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["batch", 128])],
        g.initializers)
    model = helper.make_model(graph, producer_name="facerec", producer_version=producer_version,
                              opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()
