"""Decode ordinary photos into RGB uint8 arrays, safely.

Handles EXIF orientation, grayscale, palette, RGBA (alpha dropped onto white),
16-bit and float images, and bounds memory and time before decoding, from the
header's pixel count: JPEGs larger than ``max_pixels`` are decoded at a reduced
scale (libjpeg's draft mode: 1/2, 1/4 or 1/8), unless even 1/8 of the header's
size is over ``max_pixels`` (a 9 KB file claiming 60000x30000 pixels); any other
format that large (a 40 KB blank PNG of 6300x6300) is refused undecoded.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from facerec.exceptions import ImageNotReadable, ImageTooLarge, InvalidArgument

MAX_PIXELS = 40_000_000  # 40 MP: about 120 MB as RGB uint8
_JPEG_MAX_REDUCTION = 64  # libjpeg's draft mode decodes at 1/8 a side at most: 1/64 of the pixels
_HARD_PIXEL_LIMIT = 1_000_000_000  # never even open headers claiming more than this
# PIL refuses headers over 2 * MAX_IMAGE_PIXELS; set once at import so every Image.open in facerec behaves alike
Image.MAX_IMAGE_PIXELS = _HARD_PIXEL_LIMIT

ImageInput = str | os.PathLike | np.ndarray


def check_image_path(path: str | os.PathLike) -> Path:
    """Cheap checks before decoding: ``path`` exists, is not a directory and is not empty.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        ImageNotReadable: missing, a directory, empty, or not accessible (e.g. a name too long).
    """
    path = Path(path)
    try:
        exists = path.exists()
        is_dir = exists and path.is_dir()
        size = path.stat().st_size if exists and not is_dir else None
    except OSError as error:  # e.g. a file name longer than the file system allows
        raise ImageNotReadable(f"cannot access image {path} ({error.strerror or error}); check the path") from error
    if not exists:
        raise ImageNotReadable(f"image {path} does not exist; check the path")
    if is_dir:
        raise ImageNotReadable(f"{path} is a directory, not an image file; give the photos inside it")
    if size == 0:
        raise ImageNotReadable(f"image {path} is an empty file; copy the photo again")
    return path


def _to_rgb(image: Image.Image) -> Image.Image:
    """Convert any PIL mode to 8-bit RGB (16-bit and float rescaled to 0..255)."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        array = np.asarray(image, dtype=np.float64)
        top = 65535.0 if image.mode.startswith("I;16") or array.max(initial=0) > 255 else 255.0
        array = np.clip(array / top * 255.0 if top != 255.0 else array, 0, 255).astype(np.uint8)
        image = Image.fromarray(array, mode="L")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        image = image.convert("RGBA")
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, image)
    return image.convert("RGB")


def _open(path: Path, max_pixels: int) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(path)
            width, height = image.size
            if width * height > max_pixels:
                if image.format not in ("JPEG", "MPO"):  # MPO: a camera's JPEG with extra pictures
                    raise ImageTooLarge(f"image {path} is {width}x{height} pixels, more than {max_pixels:,}; "
                                        "downscale it first (or save it as JPEG, which is decoded at reduced size)")
                if width * height > _JPEG_MAX_REDUCTION * max_pixels:  # even the 1/8 draft is too large
                    raise ImageTooLarge(f"image {path} claims {width}x{height} pixels, so large that even its 1/8 "
                                        f"scale is more than {max_pixels:,} pixels; downscale it first")
                # draft() keeps at least the size asked for, at 1/2, 1/4 or 1/8 scale: asking for half
                # the target makes the decoded image at most about max_pixels (memory stays bounded)
                scale = 2 * (width * height / max_pixels) ** 0.5
                image.draft("RGB", (max(1, int(width / scale)), max(1, int(height / scale))))
            image.load()
    except ImageTooLarge:
        raise
    except Image.DecompressionBombError as error:
        raise ImageTooLarge(f"image {path} claims more than {2 * _HARD_PIXEL_LIMIT:,} pixels, so it is not decoded "
                            "(a corrupt file or a decompression bomb); downscale it first") from error
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise ImageNotReadable(f"cannot decode {path} as an image ({type(error).__name__}: {error}); "
                               "the file is truncated, corrupt or not an image") from error
    return image


def _downscale(image: Image.Image, max_pixels: int) -> Image.Image:
    width, height = image.size
    if width * height <= max_pixels:
        return image
    scale = (width * height / max_pixels) ** 0.5
    return image.resize((max(1, int(width / scale)), max(1, int(height / scale))), Image.Resampling.BILINEAR)


def load_image(source: ImageInput, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Load an image as an RGB uint8 array of shape ``(height, width, 3)``.

    Args:
        source: a file path, or an array (``(h, w)`` grayscale, ``(h, w, 3)`` RGB
            or ``(h, w, 4)`` RGBA; uint8, uint16 or float in [0, 1]).
        max_pixels: larger images are decoded at reduced size (JPEG) or refused; checked on the
            header, before decoding (the server passes a lower bound, ``SERVER_MAX_PIXELS``).

    Raises:
        ImageNotReadable: missing path, directory, empty, truncated or non-image file.
        ImageTooLarge: a non-JPEG image over ``max_pixels``, a JPEG over 64 times ``max_pixels``
            (its 1/8 draft would still be too large), or a header claiming over 2 billion pixels.
        InvalidArgument: an array of an unsupported shape or dtype.
    """
    if isinstance(source, np.ndarray):
        return array_to_rgb(source)
    if not isinstance(source, (str, os.PathLike)):
        raise InvalidArgument(f"expected an image path or a numpy array, got {type(source).__name__}")
    path = check_image_path(source)
    image = _open(path, max_pixels)
    try:
        image = ImageOps.exif_transpose(image)
    except (OSError, ValueError, SyntaxError, KeyError, TypeError):
        pass  # a broken EXIF block only loses the orientation hint
    return np.asarray(_downscale(_to_rgb(image), max_pixels), dtype=np.uint8).copy()


def array_to_rgb(array: np.ndarray) -> np.ndarray:
    """Convert a grayscale / RGB / RGBA array (uint8, uint16 or float in [0, 1]) to RGB uint8."""
    if array.ndim == 2:
        array = array[..., None]
    if array.ndim != 3 or array.shape[2] not in (1, 3, 4) or min(array.shape[:2]) < 1:
        raise InvalidArgument(f"expected an image array of shape (h, w), (h, w, 3) or (h, w, 4), got {array.shape}")
    if array.dtype == np.uint16:
        array = (array.astype(np.float32) / 257.0).round().astype(np.uint8)
    elif np.issubdtype(array.dtype, np.floating):
        if not np.all(np.isfinite(array)):
            raise InvalidArgument("image array holds NaN or infinite values")
        array = (np.clip(array, 0.0, 1.0) * 255.0).round().astype(np.uint8)
    elif array.dtype != np.uint8:
        raise InvalidArgument(f"unsupported image dtype {array.dtype}; use uint8, uint16 or float")
    if array.shape[2] == 1:
        array = np.repeat(array, 3, axis=2)
    elif array.shape[2] == 4:
        alpha = array[..., 3:4].astype(np.float32) / 255.0
        array = (array[..., :3] * alpha + 255.0 * (1.0 - alpha)).round().astype(np.uint8)
    return np.ascontiguousarray(array)
