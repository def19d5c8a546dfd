"""The notebook's ungraded computations: pixel distances, the model's summary, and the improvements.

* :func:`pixel_distance` and friends: the naive verification the course starts with;
* :func:`block_summary`: FaceRecoModel's 163 layers summarised as its 13 stages;
* :func:`encode_faces`, :func:`distance_matrix`: batch encoding and all-pairs L2 distances;
* :func:`lfw_sample` and :func:`identification_accuracy`: the course's suggested
  improvements (several photos per person, cropping to the face) measured on LFW
  people, who are not in the training data (the model is trained on BFW).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from tqdm.auto import tqdm

from facerec.datasets import align_photo
from facerec.image import load_image
from facerec.paths import assets_dir


def pixels(image_path: str) -> np.ndarray:
    """An image as float32 RGB in [0, 1], shape ``(h, w, 3)``."""
    return load_image(image_path).astype(np.float32) / np.float32(255.0)


def pixel_distance(a: np.ndarray, b: np.ndarray) -> float:
    """L2 distance between two equally sized images, pixel by pixel (values in [0, 1])."""
    return float(np.linalg.norm(np.asarray(a, np.float64) - np.asarray(b, np.float64)))


def shifted(image: np.ndarray, pixels_right: int) -> np.ndarray:
    """The image moved ``pixels_right`` pixels to the right (the left edge column repeats)."""
    moved = np.roll(image, pixels_right, axis=1)
    moved[:, :pixels_right] = image[:, :1]
    return moved


def darkened(image: np.ndarray, factor: float) -> np.ndarray:
    """The image with its brightness multiplied by ``factor`` (values stay in [0, 1])."""
    return np.clip(image * np.float32(factor), 0.0, 1.0)


def _stage_of(layer_name: str) -> str | None:
    """The stage a layer's name places it in (``inception_3a``, ``stem``, ``head``), else None."""
    if layer_name.startswith("inception_"):
        return layer_name[:len("inception_3a")]
    if layer_name.startswith(("conv", "bn", "lrn_")):
        return "stem"
    return "head" if layer_name in ("dense_layer", "l2_normalize") else None


def block_summary(model) -> str:
    """A table of the model's stages (input, stem, inception blocks, head): output shape and parameters.

    Layers without a stage in their name (activations, paddings, poolings) belong to the
    stage being built; those after the last inception block's output belong to the head.
    """
    stages: dict[str, list] = {}
    current = "input"
    for layer in model.layers:
        stage_name = _stage_of(layer.name)
        if stage_name:
            current = stage_name
        elif current == "input" and stages:
            current = "stem"
        stage = stages.setdefault(current, [None, 0])
        stage[0] = tuple(layer.output.shape)
        stage[1] += layer.count_params()
        if layer.name == current and current.startswith("inception"):
            current = "head"  # a block's output (its concatenation): what follows unnamed is the head
    rows = [f"{'stage':<16}{'output shape':<22}{'parameters':>12}"]
    rows += [f"{name:<16}{str(shape):<22}{params:>12,}" for name, (shape, params) in stages.items()]
    rows.append(f"{'total':<38}{model.count_params():>12,}")
    return "\n".join(rows)


def encode_faces(model, faces: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """Encode aligned faces ``(N, 96, 96, 3)`` uint8 with ``model``: ``(N, 128)`` float32."""
    inputs = faces.astype(np.float32) / np.float32(255.0)
    chunks = [model.predict_on_batch(inputs[i:i + batch_size]) for i in range(0, len(inputs), batch_size)]
    return np.concatenate(chunks) if chunks else np.zeros((0, 128), np.float32)


def distance_matrix(rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """L2 distances between every row encoding ``(R, 128)`` and every column encoding ``(C, 128)``: ``(R, C)``."""
    rows, columns = np.asarray(rows, np.float64), np.asarray(columns, np.float64)
    squared = (rows ** 2).sum(1)[:, None] + (columns ** 2).sum(1)[None, :] - 2.0 * rows @ columns.T
    return np.sqrt(np.maximum(squared, 0.0))


@dataclass
class FaceSample:
    """Photos of a few LFW people: aligned faces, the same photos shrunk whole, and labels."""

    names: list[str]
    labels: np.ndarray  # (N,) index into names
    aligned: np.ndarray  # (N, 96, 96, 3) uint8, cropped to the face and aligned
    whole: np.ndarray  # (N, 96, 96, 3) uint8, the whole photo resized
    paths: list[str]


def lfw_sample(people: int = 24, photos: int = 4, seed: int = 0) -> FaceSample:
    """``photos`` photos each of ``people`` LFW people drawn with ``seed`` among those who have that many.

    Reads ``$FACEREC_ASSETS/lfw`` (the 160x160 centre crops of LFW's photos).
    """
    root = assets_dir() / "lfw"
    counts = [line.split("\t") for line in (root / "lfw-names.txt").read_text().splitlines() if line.strip()]
    eligible = sorted(name for name, count in counts if int(count) >= photos)
    chosen = sorted(np.random.default_rng(seed).choice(eligible, size=people, replace=False).tolist())
    paths = [root / name / f"{name}_{i:04d}.jpg" for name in chosen for i in range(1, photos + 1)]
    aligned, whole = [], []
    for path in tqdm(paths, desc="aligning LFW photos", unit="photo", leave=False):
        aligned.append(align_photo(path, "lfw")[0])
        whole.append(cv2.resize(load_image(path), (96, 96), interpolation=cv2.INTER_AREA))
    labels = np.repeat(np.arange(people), photos)
    return FaceSample(chosen, labels, np.stack(aligned), np.stack(whole), [str(p) for p in paths])


def identification_accuracy(encodings: np.ndarray, labels: np.ndarray, gallery_size: int,
                            threshold: float) -> tuple[float, float]:
    """Who-is-it accuracy when each person is enrolled with ``gallery_size`` photos.

    Every photo in turn is the probe. Its own person is enrolled with the next
    ``gallery_size`` of their other photos; everyone else with their first
    ``gallery_size`` photos. A person's distance is the smallest distance to any of
    their enrolled photos.

    Returns:
        ``(top1, admitted)``: the fraction of probes whose closest person is the right
        one, and the fraction that is also within ``threshold`` (the door opens for them).
    """
    distances = distance_matrix(encodings, encodings)
    people = np.unique(labels)
    top1 = admitted = 0
    for probe in range(len(labels)):
        best, best_dist = None, np.inf
        for person in people:
            photos = np.flatnonzero(labels == person)
            if person == labels[probe]:
                others = photos[photos != probe]
                start = int(np.flatnonzero(photos == probe)[0])
                gallery = np.roll(others, -start)[:gallery_size]
            else:
                gallery = photos[:gallery_size]
            dist = distances[probe, gallery].min()
            if dist < best_dist:
                best, best_dist = person, dist
        top1 += best == labels[probe]
        admitted += best == labels[probe] and best_dist <= threshold
    return top1 / len(labels), admitted / len(labels)
