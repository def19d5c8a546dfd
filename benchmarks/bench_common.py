"""Shared pieces of the benchmark runner: timing, the machine's description, the photos.

Timing rules (the project's): warm up first, then take the median of repeats,
and compare contenders *interleaved* in the same process (A, B, A, B, ...), so
that load from other programs hits both alike and their ratio holds on a busy
machine.
"""

from __future__ import annotations

import os
import platform
import re
import statistics
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent


def seconds(function: Callable[[], object]) -> float:
    """Wall-clock seconds of one call (``time.perf_counter``)."""
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def interleaved(contenders: dict[str, Callable[[int], object]], rounds: int, items: int = 1,
                warmup: int = 1, blocks: bool = False) -> dict[str, float]:
    """Median seconds per call of each contender, measured round-robin.

    Args:
        contenders: name -> ``function(i)``; ``i`` is the item index (e.g. which face or photo).
        rounds: timed passes over the items; each pass calls every contender on every item.
        items: items per pass.
        warmup: untimed calls per contender on item 0 before timing.
        blocks: alternate contenders pass by pass (each runs all items in a row, as a program
            encoding one face after another would) instead of item by item. Item by item, a
            contender with large weights evicts the other's from the CPU caches before every call.

    Returns:
        name -> median seconds over ``rounds * items`` timed calls.
    """
    for function in contenders.values():
        for _ in range(warmup):
            function(0)
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(rounds):
        if blocks:
            calls = [(name, item) for name in contenders for item in range(items)]
        else:
            calls = [(name, item) for item in range(items) for name in contenders]
        for name, item in calls:
            times[name].append(seconds(lambda f=contenders[name], i=item: f(i)))
    return {name: statistics.median(values) for name, values in times.items()}


def median_seconds(function: Callable[[], object], repeats: int, warmup: int = 1) -> float:
    """Median seconds of ``repeats`` calls after ``warmup`` untimed ones."""
    for _ in range(warmup):
        function()
    return statistics.median(seconds(function) for _ in range(repeats))


# ------------------------------------------------------------------------------------------------ the machine


def _lscpu() -> dict[str, str]:
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    return {key.strip(): value.strip() for key, _, value in (line.partition(":") for line in text.splitlines())}


def _os_name() -> str:
    try:
        text = Path("/etc/os-release").read_text()
    except OSError:
        return platform.platform()
    match = re.search(r'^PRETTY_NAME="?([^"\n]*)"?', text, re.M)
    return f"{match.group(1) if match else platform.system()} (kernel {platform.release()})"


def _memory_gib() -> float:
    try:
        import psutil

        return psutil.virtual_memory().total / 2**30
    except ImportError:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30


def _versions() -> dict[str, str]:
    import dlib
    import faiss
    import keras
    import onnxruntime
    import openvino
    import tensorflow as tf

    return {"python": platform.python_version(), "tensorflow": tf.__version__, "keras": keras.__version__,
            "numpy": np.__version__, "dlib": dlib.__version__, "faiss": faiss.__version__,
            "openvino": openvino.__version__, "onnxruntime": onnxruntime.__version__}


def training_running() -> bool:
    """Whether a training job (``facerec.train``, ``facerec train-head``) runs on this machine: timings are noisy."""
    try:
        found = subprocess.run(["pgrep", "-f", "facerec.train"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return False
    return any(int(pid) != os.getpid() for pid in found.stdout.split())


def machine() -> dict:
    """The machine and software the numbers were taken on (collected automatically)."""
    cpu = _lscpu()
    sockets = int(cpu.get("Socket(s)", "1") or 1)
    cores = int(cpu.get("Core(s) per socket", "0") or 0) * sockets or os.cpu_count()
    return {"cpu": cpu.get("Model name", platform.processor() or "unknown"), "cores": cores,
            "logical_cpus": os.cpu_count(), "memory_gib": round(_memory_gib(), 1), "os": _os_name(),
            **_versions(), "load_average_1min": round(os.getloadavg()[0], 2),
            "training_running": training_running()}


# ----------------------------------------------------------------------------------------------- the photos


def lfw_photos(count: int) -> list[Path]:
    """``count`` LFW photos (160x160), one per person, people spread evenly over the alphabet."""
    from facerec.paths import assets_dir

    people = sorted(p for p in (assets_dir() / "lfw").iterdir() if p.is_dir())
    if not people:
        raise FileNotFoundError(f"no LFW people in {assets_dir() / 'lfw'}; set FACEREC_ASSETS")
    step = max(1, len(people) // count)
    photos = [min(person.glob("*.jpg")) for person in people[::step] if any(person.glob("*.jpg"))]
    return photos[:count]


def happy_house_photos(count: int | None = None) -> list[Path]:
    """The course's Happy House photos (96x96 face crops), sorted by name."""
    from facerec.paths import assets_dir

    folder = assets_dir() / "happy-house" / "images"
    photos = sorted(p for p in folder.glob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    if not photos:
        raise FileNotFoundError(f"no Happy House photos in {folder}; set FACEREC_ASSETS")
    return photos[:count]


def canvases(sources: Sequence[Path], folder: Path, size: tuple[int, int] = (1280, 960),
             scale: int = 2, seed: int = 0) -> list[Path]:
    """Ordinary-sized photos: each LFW photo enlarged ``scale`` times and pasted into a ``size`` canvas.

    The background is a smooth random gradient with mild noise (a plain wall, not a face);
    the paste position is random. Saved as JPEG (quality 90) in ``folder``.
    """
    from PIL import Image

    rng = np.random.default_rng(seed)
    width, height = size
    paths = []
    for number, source in enumerate(sources):
        ramp = np.linspace(0, 1, width)[None, :, None] * rng.uniform(40, 120, 3)
        drop = np.linspace(0, 1, height)[:, None, None] * rng.uniform(-60, 60, 3)
        canvas = np.clip(rng.uniform(60, 160, 3) + ramp + drop + rng.normal(0, 6, (height, width, 3)), 0, 255)
        canvas = Image.fromarray(canvas.astype(np.uint8))
        face = Image.open(source).convert("RGB")
        face = face.resize((face.width * scale, face.height * scale), Image.BICUBIC)
        canvas.paste(face, (int(rng.integers(0, width - face.width)), int(rng.integers(0, height - face.height))))
        path = folder / f"canvas_{number}_{source.stem}.jpg"
        canvas.save(path, quality=90)
        paths.append(path)
    return paths


def update_block(path: Path, text: str, begin: str, end: str) -> None:
    """Replace the block of ``path`` between the ``begin`` and ``end`` markers by ``text`` (appended if absent)."""
    old = path.read_text() if path.exists() else ""
    block = f"{begin}\n{text}\n{end}"
    if begin in old and end in old:
        new = old[:old.index(begin)] + block + old[old.index(end) + len(end):]
    else:
        new = old + ("\n" if old else "") + block + "\n"
    path.write_text(new)
