"""Per-layer CSV weights of nn4.small2: read, write, cache and fingerprint.

File layout (OpenFace's export, one line of comma-separated floats a file):

* ``<conv>_w.csv`` / ``<conv>_b.csv``: kernel in Torch order ``[out, in, kh, kw]``, bias ``[out]``;
* ``dense_w.csv`` / ``dense_b.csv``: ``[128, 736]`` and ``[128]`` (layer ``dense_layer``);
* ``<bn>_w``, ``_b``, ``_m``, ``_v``: batch-norm gamma, beta, moving mean, moving variance.

A complete set has 226 files: 224 for the network's 75 weighted layers and two
auxiliary statistics, ``inception_5a_3x3_conv2_m.csv`` / ``_v.csv`` (per-channel
mean and variance of that convolution's 96 input channels), which no layer reads.

Parsing 226 CSVs takes about a second, so the first load writes a binary ``.npz``
copy (no pickle) into the user cache (:func:`facerec.paths.cache_dir`), keyed by
every CSV's name, size and modification time; any change to a CSV makes the
cache stale and it is rebuilt.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import keras
import numpy as np

from facerec.exceptions import WeightsError
from facerec.models.weight_files import parse_csv, read_csv_folder

__all__ = ["assign_arrays", "expected_files", "format_floats", "load_csv_weights", "parse_csv", "read_weight_arrays",
           "save_csv_weights", "weights_fingerprint"]

AUX_FILES = ("inception_5a_3x3_conv2_m", "inception_5a_3x3_conv2_v")
_BN_SUFFIXES = ("w", "b", "m", "v")  # gamma, beta, moving_mean, moving_variance


def file_prefix(layer_name: str) -> str:
    """CSV file prefix of a layer (``dense_layer`` is stored as ``dense``)."""
    return "dense" if layer_name == "dense_layer" else layer_name


def _weighted_layers(model: keras.Model) -> list[keras.layers.Layer]:
    return [layer for layer in model.layers if layer.weights]


def _is_bn(layer: keras.layers.Layer) -> bool:
    return isinstance(layer, keras.layers.BatchNormalization)


def _to_torch(array: np.ndarray) -> np.ndarray:
    """Keras conv ``[kh, kw, in, out]`` / dense ``[in, out]`` to Torch order."""
    return array.transpose(3, 2, 0, 1) if array.ndim == 4 else array.T


def _to_keras(array: np.ndarray) -> np.ndarray:
    return array.transpose(2, 3, 1, 0) if array.ndim == 4 else array.T


def expected_files(model: keras.Model) -> dict[str, tuple[int, ...]]:
    """Map every CSV stem the model reads to its expected shape (Torch order for kernels)."""
    shapes: dict[str, tuple[int, ...]] = {}
    for layer in _weighted_layers(model):
        prefix = file_prefix(layer.name)
        if _is_bn(layer):
            for suffix, weight in zip(_BN_SUFFIXES, layer.weights):
                shapes[f"{prefix}_{suffix}"] = tuple(weight.shape)
        else:
            kernel, bias = layer.weights
            shapes[f"{prefix}_w"] = _to_torch(np.empty(kernel.shape, np.uint8)).shape
            shapes[f"{prefix}_b"] = tuple(bias.shape)
    return shapes


def read_weight_arrays(model: keras.Model, weights_dir: str | os.PathLike,
                       allow_missing: bool = False) -> dict[str, np.ndarray]:
    """Read every CSV the model needs, through the binary cache when it is fresh.

    With ``allow_missing`` the absent files are left out of the result instead
    of raising (used to start training from OpenFace's incomplete set).
    """
    return read_csv_folder(weights_dir, expected_files(model), allow_missing=allow_missing)


def _stems_of(layer: keras.layers.Layer) -> list[str]:
    prefix = file_prefix(layer.name)
    return [f"{prefix}_{s}" for s in (_BN_SUFFIXES if _is_bn(layer) else ("w", "b"))]


def load_csv_weights(model: keras.Model, weights_dir: str | os.PathLike,
                     allow_missing: bool = False) -> list[str]:
    """Set every weighted layer of ``model`` from the CSV files in ``weights_dir``.

    Args:
        model: a model built by :func:`facerec.models.nn4_small2.build_nn4_small2`.
        weights_dir: folder of per-layer CSVs.
        allow_missing: keep the model's current values where a file is absent
            instead of raising.

    Returns:
        The stems of the files that were missing (empty unless ``allow_missing``).

    Raises:
        WeightsError: a file is missing or malformed (the message names it and its shape).
    """
    return assign_arrays(model, read_weight_arrays(model, weights_dir, allow_missing=allow_missing))


def assign_arrays(model: keras.Model, arrays: dict[str, np.ndarray]) -> list[str]:
    """Set ``model``'s weights from arrays keyed by CSV stem (Torch order); returns the stems not in ``arrays``."""
    missing = []
    for layer in _weighted_layers(model):
        for weight, stem in zip(layer.weights, _stems_of(layer)):
            if stem not in arrays:
                missing.append(stem)
                continue
            value = arrays[stem]
            weight.assign(_to_keras(value) if stem.endswith("_w") and not _is_bn(layer) else value)
    return missing


def format_floats(values: np.ndarray) -> str:
    """Comma-separated shortest decimal forms that read back to exactly the same float32."""
    flat = np.ascontiguousarray(values, dtype=np.float32).ravel()
    text = flat.astype(str)
    mismatch = text.astype(np.float64).astype(np.float32) != flat
    if mismatch.any():
        text[mismatch] = [repr(float(value)) for value in flat[mismatch]]
    return ",".join(text.tolist())


def save_csv_weights(model: keras.Model, weights_dir: str | os.PathLike,
                     aux_stats: dict[str, np.ndarray] | None = None) -> list[Path]:
    """Write ``model``'s weights as per-layer CSVs (the layout :func:`load_csv_weights` reads).

    Every float32 reads back bit-exactly. Files are written to temporary names
    and renamed, so an interrupted save never leaves a half-written CSV.

    Args:
        model: a model built by :func:`facerec.models.nn4_small2.build_nn4_small2`.
        weights_dir: destination folder (created if needed).
        aux_stats: optional ``{"inception_5a_3x3_conv2_m": (96,), "..._v": (96,)}``
            input statistics, written as the two auxiliary files of the 226-file set.

    Returns:
        The paths written, sorted.
    """
    weights_dir = Path(weights_dir)
    weights_dir.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, np.ndarray] = {}
    for layer in _weighted_layers(model):
        prefix = file_prefix(layer.name)
        values = [w.numpy() if hasattr(w, "numpy") else np.asarray(w) for w in layer.weights]
        if _is_bn(layer):
            arrays.update({f"{prefix}_{s}": v for s, v in zip(_BN_SUFFIXES, values)})
        else:
            arrays[f"{prefix}_w"], arrays[f"{prefix}_b"] = _to_torch(values[0]), values[1]
    for stem, values in (aux_stats or {}).items():
        if stem not in AUX_FILES:
            raise WeightsError(f"unknown auxiliary weights file {stem}; expected one of {AUX_FILES}")
        arrays[stem] = np.asarray(values, np.float32)
    written = []
    for stem, values in sorted(arrays.items()):
        path = weights_dir / f"{stem}.csv"
        tmp = path.with_suffix(".csv.tmp")
        tmp.write_text(format_floats(values) + "\n", encoding="ascii")
        os.replace(tmp, path)
        written.append(path)
    return written


def weights_fingerprint(model: keras.Model) -> str:
    """SHA-256 (hex) of every weight's float32 bytes in layer order: the model's identity.

    Two models give the same fingerprint exactly when their weights are equal,
    whatever folder or CSV formatting they were loaded from.
    """
    digest = hashlib.sha256()
    for weight in model.weights:
        array = np.ascontiguousarray(keras.ops.convert_to_numpy(weight), dtype=np.float32)
        digest.update(weight.path.encode())
        digest.update(array.tobytes())
    return digest.hexdigest()
