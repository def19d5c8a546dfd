"""Bad inputs for the robustness tests (issue 6): broken and huge images, broken databases and weights folders."""

from __future__ import annotations

import io
import os
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
from helpers_issue4 import subprocess_env
from PIL import Image

from facerec.database import FaceDatabase

HUGE_SIDE = 20_000  # the issue's very large image: 400 million pixels
# The bad image files of the matrix (see write_bad_images).
IMAGE_CASES = ("missing", "directory", "empty", "truncated_jpeg", "text_as_jpg", "huge_png", "one_pixel", "no_face")


def jpeg_bytes(rgb: np.ndarray, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def gradient(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A smooth RGB uint8 picture with no face in it (a face detector finds nothing in smooth ramps)."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    phase = seed * 0.7
    channels = [np.sin(x / width * np.pi + phase), np.cos(y / height * np.pi + phase), (x + y) / (width + height)]
    return ((np.stack(channels, axis=-1) * 0.5 + 0.5).clip(0, 1) * 255).astype(np.uint8)


CROP_FACES = ("andrew", "arnaud", "bertrand", "dan", "kian", "tian")  # Happy House crops HOG finds a face in


def crop_photo(path: Path, seed: int) -> Path:
    """A 96x96 photo with a real face (a Happy House crop, chosen by ``seed``), saved to ``path`` as PNG."""
    from helpers_issue4 import photo

    Image.open(photo(CROP_FACES[seed % len(CROP_FACES)])).convert("RGB").save(path)
    return path


def huge_png(path: Path, side: int = HUGE_SIDE) -> Path:
    """A valid side x side palette PNG of ~50 KB, written row by row (never holds the image in memory)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    compressor = zlib.compressobj(9)
    row = b"\x00" * (1 + (side + 7) // 8)  # filter byte + 1 bit per pixel
    body = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 1, 3, 0, 0, 0))
                     + chunk(b"PLTE", bytes([200, 180, 160, 20, 20, 20])) + chunk(b"IDAT", body)
                     + chunk(b"IEND", b""))
    return path


def huge_jpeg(path: Path, side: int = HUGE_SIDE) -> Path:
    """A valid side x side grayscale JPEG (about 5 MB; takes under a second and 400 MB once to write)."""
    Image.new("L", (side, side), 90).save(path, quality=10)
    return path


def with_jpeg_size(data: bytes, width: int, height: int) -> bytes:
    """A JPEG whose frame header (SOF0/SOF2) claims another size; the scan data is unchanged."""
    data = bytearray(data)
    for marker in (b"\xff\xc0", b"\xff\xc2"):
        start = data.find(marker)
        if start >= 0:
            data[start + 5:start + 9] = struct.pack(">HH", height, width)
            return bytes(data)
    raise ValueError("no SOF0/SOF2 frame header in this JPEG")


def write_bad_images(folder: Path) -> dict[str, Path]:
    """One file (or non-file) per case of :data:`IMAGE_CASES`, all named like photos."""
    folder.mkdir(parents=True, exist_ok=True)
    photo = jpeg_bytes(np.random.default_rng(0).integers(0, 256, (240, 320, 3), dtype=np.uint8))
    paths = {case: folder / f"{case}.jpg" for case in IMAGE_CASES}
    paths["huge_png"] = huge_png(folder / "huge_png.png")
    paths["one_pixel"] = folder / "one_pixel.png"
    paths["directory"].mkdir()
    paths["empty"].write_bytes(b"")
    paths["truncated_jpeg"].write_bytes(photo[:len(photo) // 2])
    paths["text_as_jpg"].write_text("Dear diary, this is not a photo.\n" * 20)
    Image.new("RGB", (1, 1), (120, 80, 60)).save(paths["one_pixel"])
    Image.fromarray(gradient(300, 400)).save(paths["no_face"], quality=95)
    return paths


def snapshot(path: Path) -> tuple:
    """Everything a facerec database stores: people, face metadata, the encodings' bytes and the model."""
    with FaceDatabase(path, create=False) as db:
        encodings, ids = db.encodings()
        return ([(p.name, p.photos) for p in db.people()], db.faces(), encodings.tobytes(), ids.tolist(),
                db.model_fingerprint)


def truncated_copy(database: Path, dest: Path, keep: int) -> Path:
    """``dest``: the first ``keep`` bytes of a closed (checkpointed) database file."""
    dest.write_bytes(database.read_bytes()[:keep])
    return dest


def broken_weights(source: Path, dest: Path, kind: str) -> Path:
    """A copy of the weights folder ``source`` (CSVs symlinked) broken one way.

    Kinds: ``missing_csv`` (``conv2_w.csv`` removed), ``wrong_count`` (``bn1_b.csv`` holds 3 values
    instead of 64), ``nan`` (``bn1_w.csv`` ends in NaN), ``missing_model_json``, ``model_json_not_json``,
    ``model_json_without_threshold``, or ``intact``.
    """
    dest.mkdir(parents=True)
    for csv in source.glob("*.csv"):
        (dest / csv.name).symlink_to(csv.resolve())
    if kind != "missing_model_json":
        shutil.copy(source / "model.json", dest / "model.json")
    if kind == "missing_csv":
        (dest / "conv2_w.csv").unlink()
    elif kind == "wrong_count":
        (dest / "bn1_b.csv").unlink()
        (dest / "bn1_b.csv").write_text("0.5,0.25,0.125\n")
    elif kind == "nan":
        (dest / "bn1_w.csv").unlink()
        (dest / "bn1_w.csv").write_text(",".join(["1.0"] * 63 + ["nan"]) + "\n")
    elif kind == "model_json_not_json":
        (dest / "model.json").write_text("{'threshold': 0.7,")
    elif kind == "model_json_without_threshold":
        (dest / "model.json").write_text('{"threshold_source": "forgotten"}')
    return dest


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.strip()]


def assert_one_error_line(err: str, *fragments: str) -> str:
    """``err`` is exactly one non-empty line, ``facerec: error: ...``, with each fragment; returns it."""
    lines = error_lines(err)
    assert len(lines) == 1, f"expected one line on stderr, got:\n{err}"
    assert lines[0].startswith("facerec: error: ") and "Traceback" not in err, err
    for fragment in fragments:
        assert fragment in lines[0], f"{fragment!r} not in {lines[0]!r}"
    return lines[0]


def run_facerec(*args, timeout: float = 300, **env: str) -> subprocess.CompletedProcess:
    """``python -m facerec ARGS`` in a real process (extra environment variables as keywords)."""
    environment = subprocess_env()
    environment.update(env)
    return subprocess.run([sys.executable, "-m", "facerec", *map(os.fspath, args)], env=environment,
                          capture_output=True, text=True, timeout=timeout)
