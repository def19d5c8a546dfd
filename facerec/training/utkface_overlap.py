"""Is any LFW photo among UTKFace's? Nearest LFW face of every UTKFace face, by dlib's descriptors.

Some UTKFace photos come from a celebrity collection, so LFW's (public-figure) photos could be in it.
How far apart does dlib's ResNet put two copies of one photo? :func:`same_photo_distances` measures
it the way UTKFace made its faces: LFW photos cropped around the face, resized to 200x200 and saved
as JPEG, against the originals (the report gives the quantiles). Every UTKFace face within
:data:`DUPLICATE_DISTANCE` of an LFW face is counted as a likely copy of that photo and left out of
training (:func:`excluded_photos`), and so is one within :data:`CANDIDATE_DISTANCE` whose aligned face
matches the LFW face pixel for pixel (:func:`pixel_correlation` at least :data:`COPY_CORRELATION`):
UTKFace made some of its faces from low-resolution copies, which blur moves further from the original
in dlib's space than a JPEG copy goes, while the picture itself stays the same.

``python -m facerec.training.utkface_overlap [--out docs/results/utkface_lfw_overlap.json]`` reads
UTKFace's plain teacher view (``datasets/views/utkface_s0/k0``, from
``python -m facerec.training.teacher_views utkface``) and LFW's dlib cache (``datasets/lfw_dlib.h5``,
computed when missing).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from facerec.paths import DATASETS_DIR, REPO_ROOT

DUPLICATE_DISTANCE = 0.25
CANDIDATE_DISTANCE = 0.4
COPY_CORRELATION = 0.95
LOOK_AT = 25  # the report lists the candidates nearest by dlib and those of highest correlation, to check by eye
RESULT = REPO_ROOT / "docs" / "results" / "utkface_lfw_overlap.json"


def nearest(queries: np.ndarray, gallery: np.ndarray, chunk: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """``(index (n,), distance (n,))`` of each query's nearest gallery row (L2)."""
    gallery = np.asarray(gallery, np.float32)
    g2 = np.sum(gallery * gallery, axis=1)
    index, distance = [], []
    for start in range(0, len(queries), chunk):
        q = np.asarray(queries[start:start + chunk], np.float32)
        d2 = np.sum(q * q, axis=1)[:, None] + g2[None, :] - 2.0 * q @ gallery.T
        best = np.argmin(d2, axis=1)
        index.append(best)
        distance.append(np.sqrt(np.maximum(d2[np.arange(len(q)), best], 0.0)))
    return np.concatenate(index), np.concatenate(distance)


def pixel_correlation(first: np.ndarray, second: np.ndarray) -> float:
    """Correlation of two aligned ``(96, 96, 3)`` uint8 faces as 24x24 grayscale pictures (1: the same picture).

    Shrinking first makes a blurred or low-resolution copy of a photo correlate with its original
    almost perfectly; two different photos of one person correlate much less (expression, light, pose).
    """
    import cv2

    def small(face: np.ndarray) -> np.ndarray:
        gray = cv2.cvtColor(np.ascontiguousarray(face), cv2.COLOR_RGB2GRAY).astype(np.float32)
        gray = cv2.resize(gray, (24, 24), interpolation=cv2.INTER_AREA)
        gray -= gray.mean()
        return gray / (np.linalg.norm(gray) + 1e-6)

    return float(np.sum(small(first) * small(second)))


def same_photo_distances(count: int = 200, seed: int = 0) -> np.ndarray:
    """dlib distances between ``count`` LFW photos and their UTKFace-style copies (face crop, 200x200, JPEG 90)."""
    import cv2

    from facerec.datasets import choose_face, collection_root, list_photos
    from facerec.encoders.dlib_resnet import encode_face
    from facerec.image import load_image

    photos = list_photos("lfw")
    chosen = np.random.default_rng(seed).choice(len(photos), count, replace=False)
    distances = []
    for row in chosen:
        image = load_image(collection_root("lfw") / photos[row][0])
        face, _ = choose_face(image, "lfw")
        left, top, right, bottom = face.box
        side = int(1.6 * max(right - left, bottom - top))
        cx, cy = (left + right) // 2, (top + bottom) // 2
        padded = cv2.copyMakeBorder(image, side, side, side, side, cv2.BORDER_REPLICATE)
        crop = padded[cy + side - side // 2:cy + side + side // 2, cx + side - side // 2:cx + side + side // 2]
        ok, data = cv2.imencode(".jpg", cv2.resize(crop, (200, 200))[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 90])
        copy = np.ascontiguousarray(cv2.imdecode(data, cv2.IMREAD_COLOR)[..., ::-1])
        copy_face, _ = choose_face(copy, "bfw")
        distances.append(np.linalg.norm(encode_face(image, face) - encode_face(copy, copy_face)))
    return np.array(distances)


def check(views_folder: Path = DATASETS_DIR / "views" / "utkface_s0") -> dict:
    """The overlap report: counts under several distances, every likely copy (UTKFace file, LFW path) and the
    pairs worth a look by eye (the :data:`LOOK_AT` nearest and the :data:`LOOK_AT` of highest correlation)."""
    from facerec import datasets
    from facerec.encoders.dlib_resnet import encode_collection
    from facerec.training.teacher_views import read_views, source_photos

    rows, faces, teacher = read_views(views_folder, 0)
    photos = source_photos("utkface")  # once: 23,708 files to list
    names = [photos[row].name for row in rows]
    lfw_paths = [relative for relative, _, _ in datasets.list_photos("lfw")]
    lfw = encode_collection("lfw", lfw_paths)
    index, distance = nearest(teacher, lfw)
    candidates = np.flatnonzero(distance < CANDIDATE_DISTANCE)
    lfw_faces = datasets.load("lfw")
    lfw_row = lfw_faces.index_of()
    correlation = {int(i): pixel_correlation(faces[i], lfw_faces.images[lfw_row[lfw_paths[index[i]]]])
                   for i in candidates}

    def pair(i: int) -> dict:
        return {"utkface": names[i], "lfw": lfw_paths[index[i]], "distance": round(float(distance[i]), 4),
                "pixel_correlation": round(correlation[i], 4)}

    copies = [pair(i) for i in candidates if distance[i] < DUPLICATE_DISTANCE or correlation[i] >= COPY_CORRELATION]
    to_look_at = sorted(candidates, key=lambda i: distance[i])[:LOOK_AT]
    to_look_at += [i for i in sorted(candidates, key=lambda i: -correlation[i])[:LOOK_AT] if i not in to_look_at]
    copies_of_one_photo = same_photo_distances()
    return {"utkface_faces": len(rows), "lfw_faces": len(lfw_paths), "duplicate_distance": DUPLICATE_DISTANCE,
            "same_photo_copy_distance_quantiles": {str(q): round(float(np.quantile(copies_of_one_photo, q)), 4)
                                                   for q in (0.5, 0.9, 0.99, 1.0)},
            "nearest_distance_quantiles": {str(q): round(float(np.quantile(distance, q)), 4)
                                           for q in (0.0, 0.001, 0.01, 0.5)},
            "within": {str(t): int(np.sum(distance < t)) for t in (0.1, 0.2, 0.25, 0.3, 0.4)},
            "copy_correlation": COPY_CORRELATION, "candidate_distance": CANDIDATE_DISTANCE,
            "candidates_correlating_at_least": {str(c): int(sum(v >= c for v in correlation.values()))
                                                for c in (0.8, 0.9, 0.95)},
            "likely_copies": sorted(copies, key=lambda c: c["distance"]),
            "pairs_to_look_at": [pair(i) for i in to_look_at]}


def excluded_photos(result: Path = RESULT) -> set[str]:
    """UTKFace file names left out of training (the likely LFW copies of the committed report)."""
    if not Path(result).is_file():
        return set()
    return {copy["utkface"] for copy in json.loads(Path(result).read_text())["likely_copies"]}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=RESULT)
    args = parser.parse_args(argv)
    report = check()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(f"{report['utkface_faces']} UTKFace faces against {report['lfw_faces']} LFW faces: "
          f"{len(report['likely_copies'])} likely copies (within {DUPLICATE_DISTANCE}, or within {CANDIDATE_DISTANCE} "
          f"and a pixel correlation of at least {COPY_CORRELATION}), left out of training; "
          f"within 0.3: {report['within']['0.3']}, 0.4: {report['within']['0.4']}; wrote {args.out}")


if __name__ == "__main__":
    main()
