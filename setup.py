"""Build hook: an installed facerec carries nn4's weights, model card and ONNX model (works outside a clone).

``build_py`` packs the repository's ``weights/`` CSVs into ``facerec/models/nn4_small2.npz``
(with ``nn4_small2.card.json``: fingerprint and model card), writes the ONNX graph
for them (``nn4_small2-<fingerprint>-g<version>.onnx``) and copies their int8 model
(``weights/nn4_small2-<fingerprint>-int8.xml``/``.bin``) into the build, using the
package's own :mod:`facerec.models.weight_files` and :mod:`facerec.models.nn4_small2_onnx`
(numpy and onnx, the build requirements; no TensorFlow). The CSVs stay the
source of truth; nothing packed is committed. Everything else is in pyproject.toml.
"""

from __future__ import annotations

import importlib
import shutil
import sys
import types
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent


def _package_modules():
    """Import weight_files and the ONNX writer from the source tree without running ``facerec/__init__``."""
    for name in ("facerec", "facerec.models", "facerec.runtimes"):
        if name not in sys.modules:
            module = types.ModuleType(name)
            module.__path__ = [str(ROOT.joinpath(*name.split(".")))]
            sys.modules[name] = module
    return (importlib.import_module("facerec.models.weight_files"),
            importlib.import_module("facerec.runtimes.onnx_model"))


class BuildWithWeights(build_py):
    """``build_py`` that also writes the packed weights and the ONNX model into the build folder."""

    def run(self):
        super().run()
        weight_files, onnx_model = _package_modules()
        target = Path(self.build_lib) / "facerec" / "models"
        target.mkdir(parents=True, exist_ok=True)
        weight_files.pack(ROOT / "weights", target / "nn4_small2.npz")
        source = weight_files.WeightSource(ROOT / "weights")
        onnx_model.write_onnx(source, target / onnx_model.file_name(source.fingerprint))
        for int8 in (ROOT / "weights").glob(f"nn4_small2-{source.fingerprint[:16]}-int8.*"):  # .xml and .bin
            shutil.copyfile(int8, target / int8.name)


setup(cmdclass={"build_py": BuildWithWeights})
