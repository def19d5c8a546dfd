"""nn4.small2's weights as files, without Keras: the CSVs, their binary cache, the packed copy, the fingerprint.

Three places hold the same numbers:

* a folder of per-layer CSVs (the repository's ``weights/``, the course's source of
  truth; layout in :mod:`facerec.models.weights`), read by :func:`read_csv_arrays`
  through a binary ``.npz`` cache in :func:`facerec.paths.cache_dir`;
* the packed copy inside an installed package, ``facerec/models/nn4_small2.npz``
  (:func:`pack` writes it when the wheel is built; :func:`read_packed` reads it):
  the arrays, their fingerprint and the model card in one file;
* a Keras model (:mod:`facerec.models.weights`), for training and the course.

Arrays are keyed by CSV stem (``conv1_w``, ``bn1_m``, ...) in Torch order
(kernels ``[out, in, kh, kw]``, dense ``[128, 736]``), the order ONNX uses too.
``nn4_small2_weights.json`` lists every weight in the Keras model's order, as
``[keras path, CSV stem, Keras shape]``: that order and those paths define the
fingerprint (:func:`fingerprint`), equal to :func:`facerec.models.weights.weights_fingerprint`
of the Keras model holding the same weights (a test checks both).
No pickle anywhere: ``np.load(..., allow_pickle=False)``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from facerec.exceptions import WeightsError
from facerec.paths import cache_dir

SPEC_FILE = Path(__file__).with_name("nn4_small2_weights.json")
PACKED_FILE = Path(__file__).with_name("nn4_small2.npz")
_CACHE_VERSION = 1
_PACK_VERSION = 1


@functools.cache
def weight_spec() -> tuple[tuple[str, str, tuple[int, ...]], ...]:
    """Every weight of nn4.small2 in the Keras model's order: ``(keras path, CSV stem, Keras shape)``."""
    rows = json.loads(SPEC_FILE.read_text())
    return tuple((path, stem, tuple(shape)) for path, stem, shape in rows)


def is_kernel(stem: str, shape: tuple[int, ...]) -> bool:
    """Whether a weight is a conv or dense kernel (stored transposed in Torch order)."""
    return stem.endswith("_w") and len(shape) in (2, 4)


def torch_shape(stem: str, keras_shape: tuple[int, ...]) -> tuple[int, ...]:
    """A weight's shape in its CSV (Torch order) from its Keras shape."""
    if not is_kernel(stem, keras_shape):
        return keras_shape
    return (keras_shape[3], keras_shape[2], keras_shape[0], keras_shape[1]) if len(keras_shape) == 4 \
        else keras_shape[::-1]


def to_keras_layout(array: np.ndarray) -> np.ndarray:
    """A kernel from Torch order to Keras order (conv ``[kh, kw, in, out]``, dense ``[in, out]``)."""
    return array.transpose(2, 3, 1, 0) if array.ndim == 4 else array.T


def expected_shapes() -> dict[str, tuple[int, ...]]:
    """CSV stem -> shape in the CSV (Torch order), for the 224 files the network reads."""
    return {stem: torch_shape(stem, shape) for _, stem, shape in weight_spec()}


def parse_csv(path: Path, shape: tuple[int, ...]) -> np.ndarray:
    """Read one CSV of floats into a float32 array of ``shape``.

    Raises:
        WeightsError: the file is missing, unreadable, has the wrong number of
            values, or holds a value that is not a finite number.
    """
    expected = int(np.prod(shape))
    if not path.is_file():
        raise WeightsError(f"missing weights file {path} (expected {expected} values, shape {list(shape)}); "
                           "restore it or point weights_dir at a complete folder")
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as error:
        raise WeightsError(f"cannot read weights file {path}: {error}") from error
    tokens = text.replace("\n", ",").split(",") if text else []
    if len(tokens) != expected:
        raise WeightsError(f"weights file {path} has {len(tokens)} values, expected {expected} "
                           f"(shape {list(shape)}); the file is truncated or belongs to another layer")
    try:
        values = np.array(tokens, dtype=np.float64)
    except ValueError as error:
        raise WeightsError(f"weights file {path} holds a non-numeric value ({error}); "
                           f"expected {expected} comma-separated floats, shape {list(shape)}") from error
    with np.errstate(over="ignore"):
        values = values.astype(np.float32)
    if not np.all(np.isfinite(values)):
        raise WeightsError(f"weights file {path} holds NaN, infinite or out-of-float32-range values "
                           f"(shape {list(shape)}); re-export or retrain these weights")
    return values.reshape(shape)


def _signature(weights_dir: Path, stems: list[str]) -> str:
    entries = []
    for stem in stems:
        stat = (weights_dir / f"{stem}.csv").stat()
        entries.append([stem, stat.st_size, stat.st_mtime_ns])
    return json.dumps([_CACHE_VERSION, entries])


def _cache_path(weights_dir: Path) -> Path:
    digest = hashlib.sha256(str(weights_dir.resolve()).encode()).hexdigest()[:16]
    return cache_dir() / f"weights-{digest}.npz"


def _read_cache(path: Path, signature: str) -> dict[str, np.ndarray] | None:
    try:
        with np.load(path, allow_pickle=False) as data:
            if str(data["__signature__"]) != signature:
                return None
            return {key: data[key] for key in data.files if key != "__signature__"}
    except (OSError, KeyError, ValueError, EOFError):
        return None


def write_npz_atomically(path: Path, **arrays: np.ndarray) -> None:
    """Write an ``.npz`` under a temporary name in the same folder, then rename (never half written)."""
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".npz", delete=False) as handle:
        np.savez(handle, **arrays)
    os.replace(handle.name, path)


def missing_files(weights_dir: Path, shapes: dict[str, tuple[int, ...]], raise_error: bool = True) -> list[str]:
    """Stems of ``shapes`` with no CSV in ``weights_dir``; a :class:`WeightsError` naming them if ``raise_error``."""
    missing = [stem for stem in sorted(shapes) if not (weights_dir / f"{stem}.csv").is_file()]
    if missing and raise_error:
        raise WeightsError(f"{len(missing)} weights file(s) missing in {weights_dir}: "
                           + ", ".join(f"{stem}.csv (shape {list(shapes[stem])})" for stem in missing[:5]))
    return missing


def read_csv_folder(weights_dir: str | os.PathLike, shapes: dict[str, tuple[int, ...]],
                    allow_missing: bool = False) -> dict[str, np.ndarray]:
    """Read the CSVs named by ``shapes`` (stem -> Torch-order shape), through the binary cache when it is fresh.

    The cache is keyed by every CSV's name, size and modification time; any change
    makes it stale and it is rebuilt. With ``allow_missing`` the absent files are
    left out of the result instead of raising.

    Raises:
        WeightsError: the folder or a file is missing, or a file is malformed.
    """
    weights_dir = Path(weights_dir)
    if not weights_dir.is_dir():
        raise WeightsError(f"weights folder {weights_dir} does not exist; run the setup or pass weights_dir")
    stems = sorted(shapes)
    missing = missing_files(weights_dir, shapes, raise_error=not allow_missing)
    stems = [stem for stem in stems if stem not in missing]
    signature = _signature(weights_dir, stems)
    cache = _cache_path(weights_dir)
    arrays = _read_cache(cache, signature)
    if arrays is None:
        arrays = {stem: parse_csv(weights_dir / f"{stem}.csv", shapes[stem]) for stem in stems}
        try:
            write_npz_atomically(cache, __signature__=np.array(signature), **arrays)
        except OSError:
            pass  # a cache we cannot write only costs speed
    return arrays


def read_csv_arrays(weights_dir: str | os.PathLike) -> dict[str, np.ndarray]:
    """The 224 arrays of a complete CSV folder, keyed by stem, in Torch order (see the module docstring)."""
    return read_csv_folder(weights_dir, expected_shapes())


def fingerprint(arrays: dict[str, np.ndarray]) -> str:
    """SHA-256 (hex) of the weights as the Keras model holds them: each path, then its float32 bytes, in order.

    Equal to :func:`facerec.models.weights.weights_fingerprint` of a Keras model
    with these weights loaded.
    """
    digest = hashlib.sha256()
    for path, stem, shape in weight_spec():
        array = arrays[stem]
        if is_kernel(stem, shape):
            array = to_keras_layout(array)
        digest.update(path.encode())
        digest.update(np.ascontiguousarray(array, dtype=np.float32).tobytes())
    return digest.hexdigest()


def pack(weights_dir: str | os.PathLike, out: str | os.PathLike = PACKED_FILE) -> Path:
    """Write the CSV folder's weights, fingerprint and model card into ``out`` (``.npz``) and ``<out stem>.card.json``.

    Used when the wheel is built (``setup.py``), so that an installed facerec
    carries its weights; float32, about 15 MB.

    Returns:
        The path written.
    """
    weights_dir, out = Path(weights_dir), Path(out)
    arrays = read_csv_arrays(weights_dir)
    card_path = weights_dir / "model.json"
    if not card_path.is_file():
        raise WeightsError(f"{card_path} is missing; the packed weights need their model card")
    card = json.loads(card_path.read_text())
    value = fingerprint(arrays)
    write_npz_atomically(out, __version__=np.array(_PACK_VERSION), __fingerprint__=np.array(value),
                         __card__=np.array(json.dumps(card)), **arrays)
    out.with_name(out.stem + ".card.json").write_text(json.dumps({"fingerprint": value, "card": card}, indent=1))
    return out


def read_packed(path: str | os.PathLike = PACKED_FILE) -> tuple[dict[str, np.ndarray], dict, str]:
    """The packed weights: ``(arrays, model card, fingerprint)``; the fingerprint is checked.

    Raises:
        WeightsError: the file is missing, damaged, or its arrays do not match its fingerprint.
    """
    path = Path(path)
    reinstall = "reinstall facerec (pip install --force-reinstall facerec) or set FACEREC_WEIGHTS to a CSV folder"
    try:
        with np.load(path, allow_pickle=False) as data:
            stored, card = str(data["__fingerprint__"]), json.loads(str(data["__card__"]))
            arrays = {key: data[key] for key in data.files if not key.startswith("__")}
    except (OSError, KeyError, ValueError, EOFError) as error:
        raise WeightsError(f"cannot read the packed weights {path} ({type(error).__name__}: {error}); "
                           f"{reinstall}") from error
    missing = sorted(set(expected_shapes()) - set(arrays))
    if missing or fingerprint(arrays) != stored:
        raise WeightsError(f"the packed weights {path} are damaged ({len(missing)} arrays missing or "
                           f"the fingerprint differs); {reinstall}")
    return arrays, card, stored


PACKED_CARD_FILE = Path(__file__).with_name("nn4_small2.card.json")


class WeightSource:
    """Where one set of nn4 weights comes from: a CSV folder (with its ``model.json``) or the packed copy.

    Reads lazily: the card and the fingerprint are cheap (the fingerprint of a
    CSV folder is cached beside the binary cache, keyed by the files' sizes and
    times); :meth:`arrays` reads the numbers only when a runtime model has to be
    built or a Keras model filled.

    Attributes:
        folder: the CSV folder, or ``None`` for the packed copy.
        description: where the weights are, for messages.
    """

    def __init__(self, folder: Path | None):
        self.folder = folder
        self.description = str(folder) if folder else f"the weights packed with facerec ({PACKED_FILE.name})"
        self._fingerprint: str | None = None
        self._card: dict | None = None

    def arrays(self) -> dict[str, np.ndarray]:
        """The 224 arrays keyed by CSV stem, Torch order."""
        return read_csv_arrays(self.folder) if self.folder else read_packed()[0]

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the weights (:func:`fingerprint`)."""
        if self._fingerprint is None:
            self._fingerprint = self._folder_fingerprint() if self.folder else self._packed_card()["fingerprint"]
        return self._fingerprint

    def card(self) -> dict:
        """The model card (``model.json``), as a dict; not validated here."""
        if self._card is None:
            if self.folder:
                path = self.folder / "model.json"
                if not path.is_file():
                    raise WeightsError(f"{path} is missing; it holds the verification threshold of these weights")
                try:
                    self._card = json.loads(path.read_text())
                except (OSError, ValueError) as error:
                    raise WeightsError(f"{path} is not a valid model card ({type(error).__name__}: {error}); "
                                       "restore it with its weights") from error
            else:
                self._card = self._packed_card()["card"]
        return self._card

    def _packed_card(self) -> dict:
        try:
            return json.loads(PACKED_CARD_FILE.read_text())
        except (OSError, ValueError) as error:
            raise WeightsError(f"cannot read {PACKED_CARD_FILE} ({type(error).__name__}); reinstall facerec "
                               "or set FACEREC_WEIGHTS to a folder of CSV weights") from error

    def _folder_fingerprint(self) -> str:
        shapes = expected_shapes()
        missing_files(self.folder, shapes)
        signature = _signature(self.folder, sorted(shapes))
        path = _cache_path(self.folder).with_suffix(".fingerprint.json")
        try:
            cached = json.loads(path.read_text())
            if cached.get("signature") == signature:
                return cached["fingerprint"]
        except (OSError, ValueError, AttributeError, KeyError):
            pass
        value = fingerprint(self.arrays())
        try:
            path.write_text(json.dumps({"signature": signature, "fingerprint": value}))
        except OSError:
            pass
        return value


def packed_available() -> bool:
    """Whether this installation carries packed weights (an installed wheel does; a clone need not)."""
    return PACKED_FILE.is_file() and PACKED_CARD_FILE.is_file()
