"""nn4 in int8: post-training quantisation of the ONNX graph with NNCF, for OpenVINO's fast path.

Calibration: :data:`CALIBRATION_FACES` aligned BFW faces (a training set here),
drawn with seed 0; NNCF's ``MIXED`` preset (symmetric int8 weights, asymmetric
activations), min-max statistics over those faces, bias correction. The result is
an OpenVINO model (``.xml`` + ``.bin``, about 4 MB) named after the weights'
fingerprint (:func:`facerec.runtimes.openvino_runtime.int8_file_name`), written
beside the CSVs; ``precision="int8"`` (``--precision int8``) runs it. Its accuracy
is measured, not assumed (MODEL_CARD.md: LFW View 1 while choosing, the 10-fold
figure at the end; BENCHMARKS.md: speed).

Usage (needs ``nncf``, pinned in requirements.txt, and the BFW assets)::

    python -m facerec.training.quantize [--weights weights/]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

CALIBRATION_FACES = 512
CALIBRATION_BATCH = 8
SEED = 0


def calibration_faces(count: int = CALIBRATION_FACES, seed: int = SEED) -> np.ndarray:
    """``count`` aligned BFW faces ``(count, 96, 96, 3)`` float32 in [0, 1], drawn without replacement."""
    from facerec import datasets

    bfw = datasets.load("bfw")
    rows = np.sort(np.random.default_rng(seed).choice(len(bfw.images), count, replace=False))
    return bfw.images[rows].astype(np.float32) / np.float32(255.0)


def quantize(weights_dir: str | Path | None = None, count: int = CALIBRATION_FACES) -> Path:
    """Quantise nn4 with the weights in ``weights_dir`` (default: the repository's) to int8; returns the ``.xml``.

    The model is written beside the weights (``nn4_small2-<fingerprint[:16]>-int8.xml``/``.bin``).
    """
    import nncf
    import openvino as ov

    from facerec.encoders.nn4 import weight_source
    from facerec.runtimes.onnx_model import onnx_path
    from facerec.runtimes.openvino_runtime import int8_file_name

    weights = weight_source(weights_dir)
    if weights.folder is None:
        raise SystemExit("quantize: pass --weights DIR (a CSV folder); the packed weights cannot be rewritten")
    faces = calibration_faces(count)
    data = nncf.Dataset([faces[i:i + CALIBRATION_BATCH] for i in range(0, len(faces), CALIBRATION_BATCH)])
    model = ov.Core().read_model(str(onnx_path(weights)))
    quantized = nncf.quantize(model, data, subset_size=len(faces), preset=nncf.QuantizationPreset.MIXED)
    out = weights.folder / int8_file_name(weights.fingerprint)
    ov.save_model(quantized, str(out), compress_to_fp16=False)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default=None, help="nn4's CSV weights folder (default: the repository's)")
    parser.add_argument("--faces", type=int, default=CALIBRATION_FACES, help="calibration faces from BFW")
    args = parser.parse_args(argv)
    print(quantize(args.weights, args.faces))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
