"""Consistent teacher views: augmented copies of training photos, each seen by the student and by dlib.

A *view* ``(photo, k, seed)`` of a source photo is made in four reproducible steps (its random
numbers come from ``numpy.random.default_rng([seed, k, photo index])``; view ``k = 0`` is the
plain photo):

1. a horizontal flip (half the views), with the 5 landmarks found again on the flipped photo;
2. photometric changes of the whole photo: brightness, contrast, saturation and per-channel gain,
   sometimes grayscale, a Gaussian blur, a random occluding patch on the face, JPEG re-compression;
3. a small random similarity (rotation, scale, shift) applied to the landmarks, so the alignment
   itself is off by a little, the same way for both networks;
4. the student's 96x96 face (``facerec.align.align_face``) and dlib's descriptor (its own 150x150
   chip, from the same perturbed landmarks) cut from that one augmented photo.

So the teacher encodes exactly what the student sees (Beyer et al. 2022, "Knowledge distillation:
a good teacher is patient and consistent"). Views are written in shards of :data:`SHARD` photos,
``<out>/<source>_s<seed>/k<k>/shard_<first row>.npz`` (``faces (n, 96, 96, 3) uint8``,
``teacher (n, 128) float32``, ``rows (n,)``), each written atomically by a worker process: an
interrupted run continues with the shards that are missing. The faces' boxes and landmarks are
found once per photo (``located/``). ``python -m facerec.training.teacher_views --help``.
"""

from __future__ import annotations

import argparse
import functools
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from facerec.exceptions import InvalidArgument
from facerec.paths import DATASETS_DIR

SHARD = 250
SOURCES = ("bfw", "utkface")
UTKFACE_ENV = "FACEREC_UTKFACE"
UTKFACE_DEFAULT = DATASETS_DIR / "utkface" / "dataset" / "UTKFace"
UTKFACE_HOWTO = (
    "UTKFace's aligned-and-cropped faces are not here. Get them (23,708 JPEGs, 180 MB; non-commercial research "
    "use only) from the first commit of github.com/delonyohan/deeplearn-agepred:\n"
    "  git clone https://github.com/delonyohan/deeplearn-agepred && cd deeplearn-agepred\n"
    "  git archive b06607bf2477c8295b33facb5dea7aada27cac01 dataset/UTKFace | tar -x -C <repo>/datasets/utkface\n"
    f"then point {UTKFACE_ENV} at the folder of JPEGs (default {UTKFACE_DEFAULT})."
)


class MissingTrainingData(InvalidArgument, FileNotFoundError):
    """A training collection is not on this machine; the message says how to get it."""


@dataclass(frozen=True)
class Augmentation:
    """The ranges of a view's random changes (defaults used for every committed figure)."""

    flip: float = 0.5  # probability of a horizontal flip
    brightness: float = 0.25  # factor in 1 +- this
    contrast: float = 0.25
    saturation: float = 0.3
    channel_gain: float = 0.08  # each channel's factor in 1 +- this
    grayscale: float = 0.1  # probability
    blur: float = 0.3  # probability of a Gaussian blur, sigma 0.4 to 1.6 px of a 96-px face
    occlusion: float = 0.25  # probability of a patch 15 % to 35 % of the face box's side
    jpeg: float = 0.5  # probability of re-compression at quality 30 to 90
    rotation_deg: float = 8.0  # alignment rotation in +- this
    scale: float = 0.08  # alignment scale in 1 +- this
    shift: float = 0.06  # alignment shift in +- this times the eye distance, each axis


def utkface_dir() -> Path:
    """The folder of UTKFace's JPEGs: ``$FACEREC_UTKFACE``, else ``datasets/utkface/dataset/UTKFace``."""
    return Path(os.environ.get(UTKFACE_ENV) or UTKFACE_DEFAULT)


def source_photos(source: str) -> list[Path]:
    """The photos of a training source, sorted: ``"bfw"`` (800 people x 25) or ``"utkface"`` (no identities).

    Raises:
        InvalidArgument: unknown source.
        MissingTrainingData: the photos are not on this machine (the message says how to get them).
    """
    if source == "bfw":
        from facerec.datasets import collection_root, list_photos

        photos = [collection_root("bfw") / relative for relative, _, _ in list_photos("bfw")]
        if not photos:
            raise MissingTrainingData(f"no BFW photos under {collection_root('bfw')}; set FACEREC_ASSETS")
        return photos
    if source == "utkface":
        folder = utkface_dir()
        photos = sorted(p for p in folder.glob("*.jpg")) if folder.is_dir() else []
        if not photos:
            raise MissingTrainingData(UTKFACE_HOWTO)
        return photos
    raise InvalidArgument(f"unknown training source {source!r}; choose one of {SOURCES}")


# ------------------------------------------------------------------------------------------------ one view


def locate(image: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
    """``(box (4,) int, landmarks (5, 2) float32, detected)`` of a training photo's face.

    The largest face HOG finds (upsampled once on small photos), else the whole photo, as
    :func:`facerec.datasets.choose_face` does for BFW (both sources are tight face crops).
    """
    from facerec.datasets import choose_face

    face, detected = choose_face(image, "bfw")
    return np.array(face.box, np.int32), face.landmarks.astype(np.float32), detected


def _flipped(image: np.ndarray, box: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from facerec.align import face_from_box

    width = image.shape[1]
    flipped = np.ascontiguousarray(image[:, ::-1])
    new_box = np.array([width - box[2], box[1], width - box[0], box[3]], np.int32)
    return flipped, new_box, face_from_box(flipped, tuple(new_box)).landmarks


def _photometric(image: np.ndarray, box: np.ndarray, rng: np.random.Generator, aug: Augmentation) -> np.ndarray:
    """Colour, grayscale, blur, occlusion and JPEG, in that order, on the whole photo."""
    x = image.astype(np.float32)
    mean = x.mean()
    x = (x - mean) * (1 + rng.uniform(-aug.contrast, aug.contrast)) + mean
    x *= 1 + rng.uniform(-aug.brightness, aug.brightness)
    gray = x @ np.array([0.299, 0.587, 0.114], np.float32)
    x = gray[..., None] + (x - gray[..., None]) * (1 + rng.uniform(-aug.saturation, aug.saturation))
    x *= 1 + rng.uniform(-aug.channel_gain, aug.channel_gain, size=3).astype(np.float32)
    if rng.random() < aug.grayscale:
        x = np.repeat((x @ np.array([0.299, 0.587, 0.114], np.float32))[..., None], 3, axis=2)
    out = np.clip(x, 0, 255).astype(np.uint8)
    side = max(1, int(box[2] - box[0]))
    if rng.random() < aug.blur:
        sigma = rng.uniform(0.4, 1.6) * side / 96.0
        out = cv2.GaussianBlur(out, (0, 0), sigmaX=sigma)
    if rng.random() < aug.occlusion:
        size = int(rng.uniform(0.15, 0.35) * side)
        left = int(rng.uniform(box[0], max(box[0] + 1, box[2] - size)))
        top = int(rng.uniform(box[1], max(box[1] + 1, box[3] - size)))
        out = out.copy()
        out[max(0, top):top + size, max(0, left):left + size] = rng.integers(0, 256, size=3, dtype=np.uint8)
    if rng.random() < aug.jpeg:
        ok, data = cv2.imencode(".jpg", out[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(30, 91))])
        if ok:
            out = np.ascontiguousarray(cv2.imdecode(data, cv2.IMREAD_COLOR)[..., ::-1])
    return out


def _jittered(landmarks: np.ndarray, rng: np.random.Generator, aug: Augmentation) -> np.ndarray:
    """The landmarks moved by a small random similarity about their centre, rounded to whole pixels."""
    centre = landmarks.mean(axis=0)
    eye_distance = float(np.linalg.norm(landmarks[0] - landmarks[2])) or 1.0
    angle = np.deg2rad(rng.uniform(-aug.rotation_deg, aug.rotation_deg))
    scale = 1 + rng.uniform(-aug.scale, aug.scale)
    shift = rng.uniform(-aug.shift, aug.shift, size=2) * eye_distance
    rotation = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return np.round((landmarks - centre) @ rotation.T + centre + shift).astype(np.float32)


def make_view(image: np.ndarray, box: np.ndarray, landmarks: np.ndarray, photo: int, k: int, seed: int,
              aug: Augmentation = Augmentation()) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """View ``k`` of one photo: ``(augmented photo, box, landmarks)``; ``k = 0`` is the photo itself.

    Reproducible: the same ``(photo, k, seed)`` gives the same view.
    """
    if k == 0:
        return image, box, np.round(landmarks).astype(np.float32)
    rng = np.random.default_rng([seed, k, photo])
    if rng.random() < aug.flip:
        image, box, landmarks = _flipped(image, box)
    image = _photometric(image, box, rng, aug)
    return image, box, _jittered(landmarks, rng, aug)


def student_face(image: np.ndarray, box: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """The student's ``(96, 96, 3)`` uint8 face of a view (nn4's alignment on the view's landmarks)."""
    from facerec.align import Face, align_face

    return align_face(image, Face(tuple(int(v) for v in box), landmarks.astype(np.float32), 0.0))


def teacher_encoding(image: np.ndarray, box: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """dlib's ``(128,)`` float32 descriptor of a view (dlib's own chip of the view's landmarks)."""
    import dlib

    from facerec.encoders.dlib_resnet import _model

    points = dlib.points([dlib.point(int(x), int(y)) for x, y in landmarks])
    shape = dlib.full_object_detection(dlib.rectangle(*[int(v) for v in box]), points)
    return np.array(_model().compute_face_descriptor(np.ascontiguousarray(image), shape), np.float32)


# ------------------------------------------------------------------------------------------------ shards


def views_dir(source: str, seed: int, out: Path = DATASETS_DIR / "views") -> Path:
    """The folder of a source's views: ``<out>/<source>_s<seed>``."""
    return Path(out) / f"{source}_s{seed}"


def _save_atomically(path: Path, **arrays) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.stem}.tmp{os.getpid()}.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


@functools.cache
def _photos(source: str) -> tuple[Path, ...]:
    return tuple(source_photos(source))


def _locate_job(job: tuple[str, int, str]) -> str:
    from facerec.image import load_image

    source, start, path = job
    rows = np.arange(start, min(start + SHARD, len(_photos(source))))
    located = [locate(load_image(_photos(source)[row])) for row in rows]
    _save_atomically(Path(path), rows=rows, boxes=np.stack([x[0] for x in located]),
                     landmarks=np.stack([x[1] for x in located]), detected=np.array([x[2] for x in located]))
    return path


def _view_job(job: tuple[str, int, int, int, str, str]) -> str:
    from facerec.image import load_image

    source, k, seed, start, located_path, path = job
    with np.load(located_path, allow_pickle=False) as located:
        rows, boxes, landmarks = located["rows"], located["boxes"], located["landmarks"]
    faces, teacher = [], []
    for row, box, points in zip(rows, boxes, landmarks):
        view = make_view(load_image(_photos(source)[row]), box, points, int(row), k, seed)
        faces.append(student_face(*view))
        teacher.append(teacher_encoding(*view))
    _save_atomically(Path(path), rows=rows, faces=np.stack(faces), teacher=np.stack(teacher))
    return path


def _run(jobs: list, function, workers: int, desc: str, progress: bool) -> None:
    import multiprocessing

    from tqdm import tqdm

    if not jobs:
        return
    if workers <= 1:
        for job in tqdm(jobs, desc=desc, unit="shard", disable=not progress):
            function(job)
        return
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        for _ in tqdm(pool.imap_unordered(function, jobs), total=len(jobs), desc=desc, unit="shard",
                      disable=not progress):
            pass


def build_views(source: str, views: int, seed: int = 0, out: Path = DATASETS_DIR / "views",
                workers: int | None = None, limit: int | None = None, progress: bool = True) -> Path:
    """Compute the missing shards of views ``0 .. views - 1`` of every photo of ``source``.

    Views are computed ``k`` by ``k`` (all photos' view 0 first), so an interrupted run leaves
    whole views behind. ``limit``: the first ``limit`` photos only (tests, trials). Returns the
    source's views folder.
    """
    photos = _photos(source)
    count = min(len(photos), limit) if limit else len(photos)
    folder = views_dir(source, seed, out)
    workers = workers or os.cpu_count() or 1
    starts = range(0, count, SHARD)
    located = {start: folder / "located" / f"shard_{start:06d}.npz" for start in starts}
    _run([(source, start, str(path)) for start, path in located.items() if not path.is_file()], _locate_job,
         workers, f"{source}: finding faces", progress)
    for k in range(views):
        todo = [(source, k, seed, start, str(located[start]), str(folder / f"k{k}" / f"shard_{start:06d}.npz"))
                for start in starts if not (folder / f"k{k}" / f"shard_{start:06d}.npz").is_file()]
        _run(todo, _view_job, workers, f"{source}: view {k}", progress)
    return folder


def read_views(folder: Path, k: int, limit: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(rows (n,), faces (n, 96, 96, 3) uint8, teacher (n, 128) float32)`` of the shards of view ``k`` present.

    Raises:
        MissingTrainingData: no shard of that view (run :func:`build_views`).
    """
    shards = sorted((Path(folder) / f"k{k}").glob("shard_*.npz"))
    shards = [s for s in shards if ".tmp" not in s.name]
    if limit is not None:
        shards = [s for s in shards if int(s.stem.split("_")[1]) < limit]
    if not shards:
        raise MissingTrainingData(f"no views k={k} in {folder}; run python -m facerec.training.teacher_views")
    parts = []
    for shard in shards:
        with np.load(shard, allow_pickle=False) as data:
            parts.append((data["rows"], data["faces"], data["teacher"]))
    return tuple(np.concatenate([p[i] for p in parts]) for i in range(3))


def view_shift(folder: Path, k: int) -> dict[str, float]:
    """How far dlib's descriptor of view ``k`` lies from that of the plain photo (view 0), over the photos of both.

    Returns the median, 99th percentile and maximum L2 distance, and the fraction below dlib's 0.6.
    """
    rows0, _, plain = read_views(folder, 0)
    rows, _, view = read_views(folder, k)
    position = {row: i for i, row in enumerate(rows0.tolist())}
    common = [i for i, row in enumerate(rows.tolist()) if row in position]
    distances = np.linalg.norm(view[common] - plain[[position[rows[i]] for i in common]], axis=1)
    return {"photos": len(common), "median": float(np.median(distances)),
            "p99": float(np.quantile(distances, 0.99)), "max": float(distances.max()),
            "below_0.6": float(np.mean(distances < 0.6))}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Compute consistent teacher views (student face + dlib "
                                                 "descriptor of the same augmented photo), resumable.")
    parser.add_argument("source", choices=SOURCES)
    parser.add_argument("--views", type=int, default=2, help="views per photo, k = 0 (plain) .. views - 1")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=DATASETS_DIR / "views")
    parser.add_argument("--workers", type=int, default=0, help="processes (default: one per core)")
    parser.add_argument("--limit", type=int, default=0, help="the first N photos only")
    args = parser.parse_args(argv)
    try:
        folder = build_views(args.source, args.views, args.seed, args.out, args.workers or None, args.limit or None)
    except MissingTrainingData as error:
        parser.exit(2, f"{error}\n")
    print(f"views in {folder}")
    for k in range(1, args.views):
        shift = view_shift(folder, k)
        print(f"view {k}: dlib's descriptor lies {shift['median']:.3f} (median; 99 %: {shift['p99']:.3f}, max "
              f"{shift['max']:.3f}) from the plain photo's over {shift['photos']} photos; "
              f"{shift['below_0.6']:.2%} below dlib's 0.6")


if __name__ == "__main__":
    main()
