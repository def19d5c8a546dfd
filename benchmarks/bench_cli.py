"""Cold start: one ``facerec`` process per photo, as a door script or a user's first try runs it.

Each figure is the wall time of a whole new process (interpreter start, imports,
model load, detection, encoding, search, output), median of ``repeats`` runs after
one untimed run that fills the caches every later run reads (the ONNX model, the
OpenVINO compile cache, the HOG detector's saved copy):

* ``cli_identify_s``: ``facerec --db nn4.sqlite identify photo.jpg`` (the nn4 encoder);
* ``cli_verify_s``: ``facerec --db nn4.sqlite verify photo.jpg --as NAME``;
* ``cli_identify_dlib_s``: the same identify on a database of the dlib encoder;
* ``cli_dlib_script_s``: a short script doing the same with dlib alone (what a
  ``face_recognition`` user writes): load dlib's HOG detector, 5-point predictor and
  ResNet, detect (no upsampling on a 640x480 photo, as facerec), encode, compare with
  the enrolled encoding saved as ``.npy``;
* ``import_<module>_s``: ``python -c "import <module>"`` for tensorflow, openvino,
  onnxruntime and facerec.

The photo is an LFW photo pasted into a 640x480 JPEG (one face); the database holds
another photo of the same person. The runs alternate between the commands, so a
change in the machine's load hits them alike.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_common import canvases

FACEREC = Path(sys.executable).with_name("facerec")
IMPORTS = ("tensorflow", "openvino", "onnxruntime", "facerec")

DLIB_SCRIPT = '''
import os
import sys
import dlib
import numpy as np
from PIL import Image

models = sys.argv[3]
detector = dlib.get_frontal_face_detector()
predictor = dlib.shape_predictor(models + "/shape_predictor_5_face_landmarks.dat")
resnet = dlib.face_recognition_model_v1(models + "/dlib_face_recognition_resnet_model_v1.dat")
image = np.asarray(Image.open(sys.argv[1]).convert("RGB"))
known = np.load(sys.argv[2]) if os.path.exists(sys.argv[2]) else None
for box in detector(image, 0):
    encoding = np.array(resnet.compute_face_descriptor(image, predictor(image, box)))
    if known is None:  # enrolling: save this face's encoding
        np.save(sys.argv[2], encoding)
        break
    distance = float(np.linalg.norm(known - encoding))
    print(box, "match" if distance <= 0.6 else "unknown", round(distance, 3))
'''


def _wall(command: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=300)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}): {done.stderr[-800:]}")
    return elapsed


def _prepare(folder: Path) -> dict[str, list[str]]:
    """The databases, photos and script; returns name -> command line."""
    from facerec.paths import assets_dir, dlib_model_file

    person = next(p for p in sorted((assets_dir() / "lfw").iterdir()) if len(list(p.glob("*.jpg"))) >= 2)
    name, (enrolled, query) = person.name, sorted(person.glob("*.jpg"))[:2]
    enrolled_photo, query_photo = canvases([enrolled, query], folder, size=(640, 480), scale=1)
    for encoder in ("nn4", "dlib"):
        subprocess.run([str(FACEREC), "--db", f"{encoder}.sqlite", "--encoder", encoder, "enroll", name,
                        str(enrolled_photo)], cwd=folder, check=True, capture_output=True)
    (folder / "dlib_alone.py").write_text(DLIB_SCRIPT)
    models = str(dlib_model_file("dlib_face_recognition_resnet_model_v1.dat").parent)
    subprocess.run([sys.executable, "dlib_alone.py", str(enrolled_photo), "known.npy", models], cwd=folder,
                   check=True, capture_output=True)
    return {"cli_identify_s": [str(FACEREC), "--db", "nn4.sqlite", "identify", str(query_photo)],
            "cli_verify_s": [str(FACEREC), "--db", "nn4.sqlite", "verify", str(query_photo), "--as", name],
            "cli_identify_dlib_s": [str(FACEREC), "--db", "dlib.sqlite", "identify", str(query_photo)],
            "cli_dlib_script_s": [sys.executable, "dlib_alone.py", str(query_photo), "known.npy", models]}


def cold_commands(repeats: int) -> dict:
    """Median wall seconds of each cold command and import (see the module docstring)."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        commands = _prepare(folder)
        commands.update({f"import_{module}_s": [sys.executable, "-c", f"import {module}"] for module in IMPORTS})
        times: dict[str, list[float]] = {key: [] for key in commands}
        for command in commands.values():  # untimed: fill the caches
            _wall(command, folder)
        for _ in range(repeats):
            for key, command in commands.items():
                times[key].append(_wall(command, folder))
    result = {key: statistics.median(values) for key, values in times.items()}
    result["repeats"] = repeats
    return result
