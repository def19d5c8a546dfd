"""Property-based fuzzing of the two parsers a user feeds files to: image decoding and the CSV weights loader.

Properties (hypothesis, derandomized so CI is reproducible; about 150 examples each):

* :func:`facerec.load_image` on any bytes written to a file, on mutated valid JPEG / PNG / GIF /
  BMP / TIFF / WebP files, and on any numpy array either returns an RGB ``uint8`` array of shape
  ``(h, w, 3)`` within ``max_pixels``, or raises a :class:`~facerec.exceptions.FaceRecError` that is
  also a ``ValueError`` or ``OSError`` and names the file. Nothing else escapes.
* :func:`facerec.models.weights.parse_csv` on any text, and on lists of numbers written with odd
  separators, wrong counts and garbage tokens, either returns a finite float32 array of exactly the
  requested shape holding the written values, or raises :class:`~facerec.exceptions.WeightsError`.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import pytest
from helpers_robustness import with_jpeg_size
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

from facerec.exceptions import FaceRecError, ImageNotReadable, InvalidArgument, WeightsError
from facerec.image import load_image
from facerec.models.weights import parse_csv

FUZZ = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
FUZZ_MAX_PIXELS = 2_000_000  # a small bound keeps mutated size fields cheap; the logic is the same as 40 MP


def _encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def _seed_images() -> dict[str, bytes]:
    """Small valid files of every format and mode load_image handles (a gradient, so the data is not flat)."""
    gradient = np.add.outer(np.arange(24), np.arange(32)).astype(np.uint8) * 5
    rgb = Image.fromarray(np.stack([gradient, gradient[::-1], 255 - gradient], axis=-1))
    rgba = rgb.convert("RGBA")
    rgba.putalpha(Image.fromarray(gradient))
    exif = Image.Exif()
    exif[0x0112] = 6  # EXIF orientation: rotate on display
    return {
        "jpeg": _encode(rgb, "JPEG", quality=80),
        "jpeg-progressive-exif": _encode(rgb, "JPEG", progressive=True, exif=exif.tobytes()),
        "jpeg-gray": _encode(rgb.convert("L"), "JPEG"),
        "png": _encode(rgb, "PNG"),
        "png-rgba": _encode(rgba, "PNG"),
        "png-16bit": _encode(Image.fromarray(gradient.astype(np.uint16) * 257), "PNG"),
        "png-palette-transparent": _encode(rgb.convert("P"), "PNG", transparency=3),
        "gif": _encode(rgb.convert("P"), "GIF"),
        "bmp": _encode(rgb, "BMP"),
        "tiff": _encode(rgb, "TIFF", compression="tiff_deflate"),
        "webp": _encode(rgba, "WEBP"),
    }


SEEDS = _seed_images()


@st.composite
def mutated_image(draw) -> bytes:
    """A valid seed file with a few bytes overwritten / inserted / deleted (mostly in the header), maybe truncated."""
    data = bytearray(SEEDS[draw(st.sampled_from(sorted(SEEDS)))])
    for _ in range(draw(st.integers(0, 6))):
        header = draw(st.booleans())
        position = draw(st.integers(0, min(len(data), 64 if header else len(data)) - 1))
        operation = draw(st.sampled_from(["set", "set", "max", "insert", "delete"]))
        if operation == "set":
            data[position] = draw(st.integers(0, 255))
        elif operation == "max":  # size and length fields: make them huge
            data[position:position + 2] = b"\xff\xff"
        elif operation == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=8))
        elif len(data) > 1:
            del data[position]
    if draw(st.booleans()):
        data = data[:draw(st.integers(0, len(data)))]
    return bytes(data)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def check_load(path: Path) -> None:
    """The property: an RGB uint8 image within the pixel bound, or a typed error naming the file."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # PIL warns about odd EXIF / metadata; only exceptions matter here
            image = load_image(path, max_pixels=FUZZ_MAX_PIXELS)
    except FaceRecError as error:
        assert isinstance(error, (ValueError, OSError)), type(error)
        assert str(path) in str(error), str(error)
        return
    assert isinstance(image, np.ndarray) and image.dtype == np.uint8
    assert image.ndim == 3 and image.shape[2] == 3 and min(image.shape[:2]) >= 1
    assert image.shape[0] * image.shape[1] <= FUZZ_MAX_PIXELS


def test_every_seed_decodes(scratch):
    """The fuzzing starts from files that load, so mutations explore the decoders, not the first check."""
    for name, data in SEEDS.items():
        path = scratch / f"seed.{name.split('-')[0]}"
        path.write_bytes(data)
        image = load_image(path)
        assert image.dtype == np.uint8 and image.shape[2] == 3 and image.shape[:2] in ((24, 32), (32, 24)), name


@FUZZ
@given(data=st.binary(max_size=2048))
@example(data=b"")
@example(data=b"\xff\xd8\xff")  # a JPEG's first marker and nothing else
@example(data=b"\x89PNG\r\n\x1a\n")  # a PNG signature alone
def test_random_bytes_load_or_raise_a_typed_error(scratch, data):
    path = scratch / "random.jpg"
    path.write_bytes(data)
    check_load(path)


@FUZZ
@given(data=mutated_image())
@example(data=with_jpeg_size(SEEDS["jpeg"], 65535, 65535))  # a header claiming 4.3 billion pixels
def test_mutated_images_load_or_raise_a_typed_error(scratch, data):
    path = scratch / "mutated.img"
    path.write_bytes(data)
    check_load(path)


def test_a_mutation_that_breaks_the_file_is_refused_as_not_readable(scratch):
    """Sanity check of the fuzz target: a JPEG cut after its header is refused with ImageNotReadable."""
    path = scratch / "cut.jpg"
    path.write_bytes(SEEDS["jpeg"][:200])
    with pytest.raises(ImageNotReadable, match="truncated, corrupt or not an image"):
        load_image(path)


ARRAY_DTYPES = st.sampled_from([np.uint8, np.uint16, np.float32, np.float64, np.float16, np.int8, np.int32,
                                np.int64, np.bool_, np.complex64])


@FUZZ
@given(array=hnp.arrays(ARRAY_DTYPES, hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=6)))
def test_arrays_convert_or_raise_invalid_argument(array):
    try:
        image = load_image(array)
    except InvalidArgument as error:
        assert str(error)
        return
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
    assert image.shape[:2] == array.shape[:2]


# -- the CSV weights loader ---------------------------------------------------------------------------------

SHAPES = st.sampled_from([(1,), (5,), (2, 3), (2, 1, 2, 2)])
FLOAT32 = st.floats(width=32, allow_nan=False, allow_infinity=False)
GARBAGE = st.sampled_from(["", " ", "nan", "NaN", "-inf", "inf", "Infinity", "1e400", "abc", "1,5", "0x10", "--1",
                           "1.0.0", "\x00", "\t", "é", "１", "1e", ".", "+", "True", "None", "[1]", "\"1\""])
SEPARATORS = st.sampled_from([",", ", ", ",\n", "\n", " ,", ";", " ", ",,"])


def _format(value: float, style: str) -> str:
    return {"repr": repr(value), "g": f"{value:g}", "e": f"{value:.8e}", "f32": str(np.float32(value))}[style]


@st.composite
def csv_text(draw) -> tuple[str, tuple[int, ...], list[float] | None]:
    """``(text, shape, values)``: ``values`` are what a correct parse returns, None when the text is malformed."""
    shape = draw(SHAPES)
    expected = int(np.prod(shape))
    count = draw(st.one_of(st.just(expected), st.integers(0, expected + 3)))
    values = draw(st.lists(FLOAT32, min_size=count, max_size=count))
    style = draw(st.sampled_from(["repr", "g", "e", "f32"]))
    tokens = [_format(v, style) for v in values]
    well_formed = count == expected
    if draw(st.booleans()) and tokens:  # spoil one token
        tokens[draw(st.integers(0, len(tokens) - 1))] = draw(GARBAGE)
        well_formed = False
    separator = draw(SEPARATORS)
    if separator not in (",", ", ", "\n"):  # the writer's "," and a value per line; ",\n" leaves empty values
        well_formed = well_formed and len(tokens) <= 1
    text = separator.join(tokens) + draw(st.sampled_from(["", "\n", "\r\n", "  \n\n"]))
    return text, shape, [float(np.float32(float(token))) for token in tokens] if well_formed else None


def check_parse(path: Path, shape: tuple[int, ...]) -> np.ndarray | None:
    """The property: a finite float32 array of ``shape``, or WeightsError naming the file."""
    try:
        array = parse_csv(path, shape)
    except WeightsError as error:
        assert isinstance(error, ValueError)
        assert path.name in str(error), str(error)
        return None
    assert isinstance(array, np.ndarray) and array.dtype == np.float32 and array.shape == shape
    assert np.all(np.isfinite(array))
    return array


@FUZZ
@given(item=csv_text())
def test_csv_of_numbers_parses_exactly_or_raises_weights_error(scratch, item):
    text, shape, values = item
    path = scratch / "layer_w.csv"
    path.write_text(text, encoding="utf-8", newline="")
    array = check_parse(path, shape)
    if values is not None:
        assert array is not None, f"well-formed CSV refused: {text!r}"
        np.testing.assert_array_equal(array.ravel(), np.array(values, np.float32))


@FUZZ
@given(text=st.text(max_size=300), shape=SHAPES)
def test_any_text_parses_or_raises_weights_error(scratch, text, shape):
    path = scratch / "layer_b.csv"
    path.write_bytes(text.encode("utf-8"))
    check_parse(path, shape)


@FUZZ
@given(data=st.binary(max_size=300), shape=SHAPES)
def test_any_bytes_parse_or_raise_weights_error(scratch, data, shape):
    path = scratch / "layer_m.csv"
    path.write_bytes(data)
    check_parse(path, shape)
