"""The flatness check (facerec/flatness.py) measured as ISO/IEC 30107-3 names it: APCER and BPCER.

* APCER (attack presentations classified as bona fide: ``flat`` is not True): planar attacks made from real
  photos (the Happy House photos and the first ``--lfw`` people of LFW's ``peopleDevTest.txt``, one photo
  each; never ``pairs.txt``), each moved as a plane over ``--frames`` frames by
  :func:`facerec.attacks.planar_attack` (random tilt up to 25 degrees, shift, blur, JPEG, moiré and glare),
  with the real detector (HOG) and dlib's 68 landmarks on every frame.
* BPCER (bona fide presentations classified as attacks: ``flat`` is True) on moving heads, of two kinds
  (and on real face video with --video, below): the same photos warped
  as a head turning and nodding (:func:`facerec.attacks.turning_head`, real detector and landmarks), and
  synthetic 68-point landmarks of the 3D mean head (:mod:`facerec.face_shape`) under random small rotations
  (up to 15 degrees) with 0.5, 1 and 2 px of noise (``--synthetic`` sequences each); the same head printed flat
  and turned by up to 30 degrees gives synthetic photos.

* BPCER on real face video (``--video CLIP``, repeatable; clips are never committed: MODEL_CARD.md says where
  each measured clip is from and its licence): the clip read at about 10 frames/s (the door's live rate), cut
  into windows of ``--frames`` frames; in each window every face the HOG detector finds is chained from frame to
  frame by box overlap, and each face present in at least 80 % of the window's frames is one bona fide sequence.

Both rates count "cannot tell" (None) separately: the door admits such a visit (as it would without the check).
Usage: ``python benchmarks/flatness.py [--lfw N] [--skip N] [--no-house] [--frames N] [--synthetic N] [--seed S]
[--video CLIP ...] [--save-landmarks F | --from-landmarks F] [--json]``
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from facerec.align import detect_faces  # noqa: E402
from facerec.attacks import place, planar_attack, turning_head  # noqa: E402
from facerec.face_shape import mean_face_3d, project, rotation  # noqa: E402
from facerec.flatness import check_flat, landmarks_68  # noqa: E402
from facerec.image import load_image  # noqa: E402
from facerec.paths import assets_dir  # noqa: E402
from facerec.visits import iou  # noqa: E402


def photos(lfw: int, skip: int = 0, house: bool = True) -> list[Path]:
    """The Happy House photos (unless not ``house``) and the first photo of ``lfw`` people of
    ``peopleDevTest.txt`` after its first ``skip``."""
    folder = assets_dir() / "happy-house" / "images"
    house = sorted(p for p in folder.iterdir() if p.suffix in (".jpg", ".png")) if house else []
    lines = (assets_dir() / "lfw" / "peopleDevTest.txt").read_text().split("\n")[1:]
    people = [line.split("\t")[0] for line in lines if line.strip()][skip:skip + lfw]
    return house + [assets_dir() / "lfw" / name / f"{name}_0001.jpg" for name in people]


TIMES = {"detect_s": 0.0, "landmarks_68_s": 0.0, "frames": 0, "faces": 0}  # what the check adds to a frame


def landmarks_of(frames: list[np.ndarray]) -> np.ndarray:
    """``(frames with a face, 68, 2)``: the landmarks of the largest face the HOG detector finds in each frame."""
    landmarks = []
    for rgb in frames:
        start = time.perf_counter()
        faces = detect_faces(rgb, detector="hog")
        middle = time.perf_counter()
        if faces:
            landmarks.append(landmarks_68(rgb, faces[0].box))
            TIMES["faces"] += 1
        TIMES["detect_s"] += middle - start
        TIMES["landmarks_68_s"] += time.perf_counter() - middle
        TIMES["frames"] += 1
    return np.array(landmarks, np.float32).reshape(-1, 68, 2)


def synthetic(rng: np.random.Generator, shape: np.ndarray, frames: int, noise: float, turn: float) -> list:
    """``frames`` landmark sets of ``shape`` turning by up to ``turn`` degrees, with ``noise`` px of noise."""
    out = []
    yaw, pitch = rng.uniform(-turn, turn, 2)
    for t in np.linspace(0, 1, frames):
        points = project(shape, rotation(yaw * np.sin(2 * np.pi * t), pitch * np.sin(np.pi * t), rng.uniform(-2, 2)),
                         750 - 50 * t, shift=(30 * t, 10 * t))
        out.append(points + rng.normal(0, noise, points.shape))
    return out


def rates(flats: list) -> dict:
    count = len(flats)
    return {"sequences": count, "flat": sum(f is True for f in flats), "real_head": sum(f is False for f in flats),
            "cannot_tell": sum(f is None for f in flats)}


def sequences(args: argparse.Namespace, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """``{"attack/<photo>" | "head/<photo>": (frames, 68, 2) landmarks}``: made and detected here, or read from
    ``--from-landmarks``."""
    if args.from_landmarks:
        with np.load(args.from_landmarks) as saved:
            return {key: saved[key] for key in saved.files}
    saved = {}
    for path in photos(args.lfw, args.skip, args.house):
        rgb = load_image(path)
        saved[f"attack/{path.name}"] = landmarks_of(planar_attack(rgb, rng, args.frames))
        base, _ = place(rgb)
        found = detect_faces(base, detector="hog")
        if found:
            saved[f"head/{path.name}"] = landmarks_of(turning_head(base, landmarks_68(base, found[0].box), rng,
                                                                   args.frames))
    if args.save_landmarks:
        np.savez_compressed(args.save_landmarks, **saved)
    return saved


def video_windows(path: str, frames: int, rate: float = 10.0) -> list[list[np.ndarray]]:
    """The clip at ``path`` read at about ``rate`` frames/s (RGB), cut into windows of ``frames`` frames."""
    import cv2

    capture = cv2.VideoCapture(path)
    if not capture.isOpened():
        raise SystemExit(f"cannot read the video {path}")
    step = max(1, round((capture.get(cv2.CAP_PROP_FPS) or rate) / rate))
    kept, index = [], 0
    while True:
        ok, bgr = capture.read()
        if not ok:
            break
        if index % step == 0:
            kept.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        index += 1
    capture.release()
    return [kept[i:i + frames] for i in range(0, len(kept) - frames + 1, frames)]


def video_faces(window: list[np.ndarray], min_share: float = 0.8) -> list[np.ndarray]:
    """Each face chained through the window by box overlap (IoU over 0.3 with its box in the previous frame it
    was in), present in at least ``min_share`` of the frames: ``(frames, 68, 2)`` landmarks each."""
    chains: list[dict] = []
    for rgb in window:
        for face in detect_faces(rgb, detector="hog"):
            chain = max(chains, key=lambda c: iou(c["box"], face.box), default=None)
            if chain is None or iou(chain["box"], face.box) <= 0.3:
                chain = {"points": []}
                chains.append(chain)
            chain["box"] = face.box
            chain["points"].append(landmarks_68(rgb, face.box))
    return [np.array(c["points"], np.float32) for c in chains if len(c["points"]) >= min_share * len(window)]


def video_rates(paths: list[str], frames: int) -> dict:
    """Verdicts on the real faces of the clips (bona fide presentations): per clip and in all."""
    out, everything = {}, []
    for path in paths:
        flats = [check_flat(list(points)).flat for window in video_windows(path, frames)
                 for points in video_faces(window)]
        out[Path(path).name] = rates(flats)
        everything += flats
    out["all"] = rates(everything)
    out["BPCER"] = out["all"]["flat"] / max(1, out["all"]["sequences"])
    return out


def synthetic_rates(rng: np.random.Generator, count: int, frames: int) -> dict:
    """Verdicts on ``count`` synthetic heads and printed faces (the head with z = 0) per noise level."""
    head = mean_face_3d()
    out = {}
    for noise in (0.5, 1.0, 2.0):
        out[f"heads_noise_{noise}px"] = rates([check_flat(synthetic(rng, head, frames, noise, 15)).flat
                                              for _ in range(count)])
        out[f"photos_noise_{noise}px"] = rates([check_flat(synthetic(rng, head * [1, 1, 0], frames, noise, 30)).flat
                                               for _ in range(count)])
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lfw", type=int, default=12, help="LFW dev people (one photo each; default 12)")
    parser.add_argument("--skip", type=int, default=0,
                        help="LFW dev people skipped first (the constants were chosen on the first 30; default 0)")
    parser.add_argument("--house", action=argparse.BooleanOptionalAction, default=True,
                        help="include the Happy House photos (default: yes; they were used to choose the constants)")
    parser.add_argument("--frames", type=int, default=20, help="frames per sequence (default 20)")
    parser.add_argument("--synthetic", type=int, default=100, help="synthetic heads per noise level (default 100)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--video", action="append", default=[], metavar="CLIP",
                        help="a real face video for BPCER (repeatable; see the docstring)")
    parser.add_argument("--save-landmarks", default=None, metavar="NPZ",
                        help="also save every sequence's landmarks to this .npz (to study the statistic)")
    parser.add_argument("--from-landmarks", default=None, metavar="NPZ",
                        help="judge the landmarks a --save-landmarks run saved (no detection: seconds)")
    args = parser.parse_args()
    rng, start = np.random.default_rng(args.seed), time.monotonic()
    landmarks_68(np.zeros((64, 64, 3), np.uint8), (8, 8, 56, 56))  # the model's load is not a face's cost
    verdicts = {key: check_flat(list(points)) for key, points in sequences(args, rng).items()}
    attacks = rates([v.flat for k, v in verdicts.items() if k.startswith("attack/")])
    heads = rates([v.flat for k, v in verdicts.items() if k.startswith("head/")])
    synthetic = synthetic_rates(rng, args.synthetic, args.frames)
    result = {
        "command": "python benchmarks/flatness.py " + " ".join(sys.argv[1:]),
        "attacks": attacks, "APCER": (attacks["sequences"] - attacks["flat"]) / max(1, attacks["sequences"]),
        "warped_heads": heads, "BPCER_warped_heads": heads["flat"] / max(1, heads["sequences"]),
        "synthetic": synthetic,
        "real_video": video_rates(args.video, args.frames) if args.video else None,
        "seconds": round(time.monotonic() - start, 1),
        "cost": {"detect_ms_per_frame": round(1000 * TIMES["detect_s"] / max(1, TIMES["frames"]), 2),
                 "landmarks_68_ms_per_face": round(1000 * TIMES["landmarks_68_s"] / max(1, TIMES["faces"]), 2),
                 "landmarks_over_detection": round(TIMES["landmarks_68_s"] / max(TIMES["detect_s"], 1e-9), 4),
                 "frames": TIMES["frames"]},
        "sequences": {key: v.to_json() for key, v in verdicts.items()}}
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        print({k: v for k, v in result.items() if k != "sequences"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
