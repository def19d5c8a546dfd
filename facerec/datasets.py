"""Aligned-face datasets stored as HDF5 (the course's way of storing image data).

``datasets/<name>_aligned.h5`` holds, for every photo of a face collection:

* ``images``: ``(N, 96, 96, 3)`` uint8 aligned RGB faces;
* ``labels``: ``(N,)`` int32 identity index into ``identities``;
* ``identities``: identity names (UTF-8); ``paths``: each photo's path relative
  to the collection root; ``groups``: the BFW demographic group ('' elsewhere);
* ``detected``: whether the HOG detector found the face (else the whole
  image, or LFW's centre, was used as the face box).

The files are built once from the assets (:func:`prepare`) and then reused.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
from tqdm import tqdm

from facerec.align import ALIGNED_SIZE, Face, align_face, detect_faces, face_from_box
from facerec.exceptions import InvalidArgument
from facerec.image import load_image
from facerec.paths import DATASETS_DIR, assets_dir

COLLECTIONS = ("bfw", "lfw", "happy-house")
_IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}


@dataclass
class AlignedSet:
    """An aligned dataset in memory (see the module docstring for the fields)."""

    images: np.ndarray
    labels: np.ndarray
    identities: list[str]
    paths: list[str]
    groups: list[str]
    detected: np.ndarray

    def index_of(self) -> dict[str, int]:
        """Map each relative path to its row."""
        return {path: row for row, path in enumerate(self.paths)}


def collection_root(name: str) -> Path:
    """Folder of a collection inside the assets."""
    if name not in COLLECTIONS:
        raise InvalidArgument(f"unknown collection {name!r}; choose one of {COLLECTIONS}")
    return assets_dir() / name / ("images" if name == "happy-house" else "")


def list_photos(name: str) -> list[tuple[str, str, str]]:
    """``(relative path, identity, group)`` of every photo in a collection, sorted."""
    root = collection_root(name)
    rows = []
    for path in sorted(root.rglob("*")):
        if path.suffix.lower() not in _IMAGE_SUFFIXES:
            continue
        relative = path.relative_to(root).as_posix()
        parts = relative.split("/")
        if name == "bfw":
            rows.append((relative, parts[1], parts[0]))
        elif name == "lfw":
            rows.append((relative, parts[0], ""))
        else:
            rows.append((relative, path.stem, ""))
    return rows


def choose_face(image: np.ndarray, collection: str) -> tuple[Face, bool]:
    """The labelled face of a dataset photo, and whether the detector found it.

    LFW: the detected face nearest the centre, else the central 62 % (LFW's
    crops are centred on the person). BFW and others: the largest detected
    face, else the whole image (BFW photos are tight crops). Detection is
    dlib's HOG detector, fixed, so that the prepared datasets (and every figure
    measured on them) do not change with the practical tool's default detector.
    """
    faces = detect_faces(image, detector="hog")
    height, width = image.shape[:2]
    if faces:
        if collection == "lfw":
            faces.sort(key=lambda f: abs(f.box[0] + f.box[2] - width) + abs(f.box[1] + f.box[3] - height))
        return faces[0], True
    frac = 0.19 if collection == "lfw" else 0.0
    return face_from_box(image, (width * frac, height * frac, width * (1 - frac), height * (1 - frac))), False


def align_photo(path: Path, collection: str) -> tuple[np.ndarray, bool]:
    """Align one dataset photo (see :func:`choose_face`); returns ``(face, detected)``."""
    image = load_image(path)
    face, detected = choose_face(image, collection)
    return align_face(image, face), detected


def h5_path(name: str, datasets_dir: Path = DATASETS_DIR) -> Path:
    return Path(datasets_dir) / f"{name}_aligned.h5"


def prepare(name: str, datasets_dir: Path = DATASETS_DIR, limit: int | None = None,
            progress: bool = True) -> Path:
    """Align every photo of a collection into ``datasets/<name>_aligned.h5`` (skips if present).

    The file is written under a temporary name and renamed when complete, so an
    interrupted run leaves nothing half-written.
    """
    target = h5_path(name, datasets_dir)
    if target.exists() and limit is None:
        return target
    rows = list_photos(name)[:limit]
    identities = sorted({identity for _, identity, _ in rows})
    label_of = {identity: i for i, identity in enumerate(identities)}
    root = collection_root(name)
    images = np.zeros((len(rows), ALIGNED_SIZE, ALIGNED_SIZE, 3), np.uint8)
    detected = np.zeros(len(rows), bool)
    for i, (relative, _, _) in enumerate(tqdm(rows, desc=f"aligning {name}", disable=not progress, unit="photo")):
        images[i], detected[i] = align_photo(root / relative, name)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".tmp{os.getpid()}")
    with h5py.File(tmp, "w") as h5:
        h5.create_dataset("images", data=images, chunks=(min(64, max(1, len(rows))), ALIGNED_SIZE, ALIGNED_SIZE, 3))
        h5.create_dataset("labels", data=np.array([label_of[r[1]] for r in rows], np.int32))
        h5.create_dataset("identities", data=np.array(identities, dtype=h5py.string_dtype()))
        h5.create_dataset("paths", data=np.array([r[0] for r in rows], dtype=h5py.string_dtype()))
        h5.create_dataset("groups", data=np.array([r[2] for r in rows], dtype=h5py.string_dtype()))
        h5.create_dataset("detected", data=detected)
    os.replace(tmp, target)
    return target


def load(name: str, datasets_dir: Path = DATASETS_DIR, prepare_missing: bool = True) -> AlignedSet:
    """Load an aligned dataset, building it from the assets first if needed."""
    path = h5_path(name, datasets_dir)
    if not path.exists() and prepare_missing:
        prepare(name, datasets_dir)
    with h5py.File(path, "r") as h5:
        return AlignedSet(
            images=h5["images"][:],
            labels=h5["labels"][:],
            identities=[s.decode() for s in h5["identities"][:]],
            paths=[s.decode() for s in h5["paths"][:]],
            groups=[s.decode() for s in h5["groups"][:]],
            detected=h5["detected"][:],
        )


def main(argv: list[str] | None = None) -> None:
    """``python -m facerec.datasets [NAME ...]``: build the aligned HDF5 files (default: all collections)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m facerec.datasets", description=main.__doc__)
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"any of {', '.join(COLLECTIONS)} (default: all)")
    names = parser.parse_args(argv).names or list(COLLECTIONS)
    unknown = [name for name in names if name not in COLLECTIONS]
    if unknown:
        parser.error(f"unknown collection {unknown[0]!r}; choose from {', '.join(COLLECTIONS)}")
    for name in names:
        print(prepare(name))


if __name__ == "__main__":
    main()
