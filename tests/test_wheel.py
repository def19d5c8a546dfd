"""The wheel works anywhere: built, installed into a fresh venv, and run from another folder (slow: ~1-2 min).

Building needs PyPI for the build requirements (setuptools, numpy, onnx) and the
install needs it for the dependencies, as any ``pip install`` does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers_issue4 import REPO, photo, weights_or_skip

pytestmark = pytest.mark.slow


def _run(command: list[str], cwd: Path, env: dict, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """``(facerec command, clean environment, a folder outside the clone)`` of a fresh venv with the wheel."""
    weights_or_skip()
    root = tmp_path_factory.mktemp("wheel")
    built = _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(root / "dist"), str(REPO)],
                 root, dict(os.environ))
    assert built.returncode == 0, built.stderr[-3000:]
    wheel = next((root / "dist").glob("facerec-*.whl"))
    venv = root / "venv"
    assert _run([sys.executable, "-m", "venv", str(venv)], root, dict(os.environ)).returncode == 0
    done = _run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(wheel)], root, dict(os.environ))
    assert done.returncode == 0, done.stderr[-3000:]
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("FACEREC_", "PYTHON", "VIRTUAL_ENV"))}
    env["FACEREC_CACHE"] = str(root / "cache")
    elsewhere = root / "elsewhere"
    elsewhere.mkdir()
    return venv / "bin" / "facerec", env, elsewhere


def test_the_wheel_carries_the_weights_and_the_runtime_model(installed):
    facerec, env, elsewhere = installed
    python = facerec.parent / "python"
    probe = ("import sys, facerec.encoders.nn4 as n; e = n.get_encoder(); "
             "print(n.__file__); print(e.weights.folder); print(e.runtime); print('tensorflow' in sys.modules); "
             "e8 = n.FaceEncoder(precision='int8'); print(e8.precision); "
             "import facerec.server.app as a; print((a.STATIC_DIR / 'index.html').is_file())")
    done = _run([str(python), "-c", probe], elsewhere, env)
    assert done.returncode == 0, done.stderr[-3000:]
    module, folder, runtime, tensorflow, int8, page = done.stdout.split()
    assert "site-packages" in module and not module.startswith(str(REPO))
    assert (folder, runtime, tensorflow) == ("None", "openvino", "False")  # packed weights, no TensorFlow
    assert (int8, page) == ("int8", "True")  # the int8 model and the server's page travel too
    assert not list(Path(env["FACEREC_CACHE"]).glob("*.onnx")), "the packed ONNX model should have been used"


@pytest.mark.parametrize("encoder", ["nn4", "dlib"])
def test_the_installed_command_enrolls_verifies_and_identifies_from_another_folder(installed, encoder):
    facerec, env, elsewhere = installed
    db = f"{encoder}.sqlite"
    enrolled = _run([str(facerec), "--db", db, "--encoder", encoder, "enroll", "younes", str(photo("younes"))],
                    elsewhere, env)
    assert enrolled.returncode == 0, enrolled.stderr
    found = _run([str(facerec), "--db", db, "--json", "identify", str(photo("camera_0"))], elsewhere, env)
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout)[0]["identity"] == "younes"
    verified = _run([str(facerec), "--db", db, "verify", str(photo("camera_0")), "--as", "younes"], elsewhere, env)
    assert verified.returncode == 0, verified.stderr
    assert (elsewhere / db).is_file()


def test_the_installed_demo_needs_the_assets_and_says_so(installed):
    facerec, env, elsewhere = installed
    bare = {key: value for key, value in env.items() if key != "FACEREC_ASSETS"}
    refused = _run([str(facerec), "demo"], elsewhere, bare)
    assert refused.returncode == 2
    assert refused.stderr.strip().count("\n") == 0 and "FACEREC_ASSETS" in refused.stderr
    from facerec.paths import assets_dir

    done = _run([str(facerec), "demo", "--ban", "benoit", "--json"], elsewhere,
                {**env, "FACEREC_ASSETS": str(assets_dir())})
    assert done.returncode == 0, done.stderr[-3000:]
    doors = {Path(d["image"]).stem: d["verdict"] for d in json.loads(done.stdout)["doors"]}
    assert "younes" in doors["camera_0"] and "banned" in doors["camera_2"]
    assert (elsewhere / "facerec-demo" / "runs" / "door.sqlite").is_file()
