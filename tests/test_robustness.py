"""Robustness (issue 6): every bad input ends in a typed error that says what to do, and nothing is lost.

Each case of the issue is fed to every entry point it reaches:

* the library: ``facerec.load_image``, ``find_and_align``, ``find_faces`` (detection), ``encode_faces``,
  ``FaceDatabase.enroll``, ``verify``, ``identify``, ``FaceEncoder``, ``fr_utils.load_weights_from_FaceNet``
  and the course's ``img_to_encoding``;
* the command line: ``facerec enroll / verify / identify / door`` (and ``people`` / ``remove`` for databases),
  in-process through :func:`facerec.cli.main` with the file descriptors captured (so native log lines of
  OpenCV or TensorFlow count too), and a few as real ``python -m facerec`` processes.

A failure must be a :class:`~facerec.exceptions.FaceRecError` that is a ``ValueError`` or an ``OSError`` and
names the input; a command must exit with 2 and exactly one line on stderr; a database must afterwards hold
exactly what it held before. ``docs/ERRORS.md`` maps every case of the issue to its exception and its test
(two writers at once and a writer killed by SIGKILL are in ``test_database.py``, the CSV loader's unit cases in
``test_weights.py``, fuzzing in ``test_fuzz.py``).
"""

from __future__ import annotations

import json
import shutil
import textwrap
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from helpers_issue4 import FINGERPRINT, empty_database, photo, random_records, subprocess_env, weights_or_skip
from helpers_robustness import (
    IMAGE_CASES,
    assert_one_error_line,
    broken_weights,
    crop_photo,
    huge_jpeg,
    jpeg_bytes,
    run_facerec,
    snapshot,
    truncated_copy,
    with_jpeg_size,
    write_bad_images,
)
from PIL import Image

import facerec
from facerec.align import find_and_align
from facerec.api import find_faces
from facerec.cli import main
from facerec.database import FaceDatabase
from facerec.exceptions import (
    DatabaseError,
    EmptyDatabase,
    FaceNotFound,
    FaceRecError,
    ImageNotReadable,
    ImageTooLarge,
    InvalidArgument,
    UnknownIdentity,
    WeightsError,
)
from facerec.image import MAX_PIXELS, load_image

# What every image entry point raises for each bad image, and a fragment of the message (which also names the file).
IMAGE_ERRORS = {
    "missing": (ImageNotReadable, "does not exist"),
    "directory": (ImageNotReadable, "is a directory"),
    "empty": (ImageNotReadable, "is an empty file"),
    "truncated_jpeg": (ImageNotReadable, "truncated, corrupt or not an image"),
    "text_as_jpg": (ImageNotReadable, "truncated, corrupt or not an image"),
    "huge_png": (ImageTooLarge, "downscale it first"),
    "one_pixel": (FaceNotFound, "no face found"),
    "no_face": (FaceNotFound, "no face found"),
}
assert set(IMAGE_ERRORS) == set(IMAGE_CASES)


@dataclass
class Context:
    """What the entry points need: images, the shared encoder, a database with ``bob`` enrolled, the course model."""

    bad: dict[str, Path]
    good: Path
    db: Path
    encoder: object
    course_model: object = None


@pytest.fixture(scope="module")
def bad(tmp_path_factory) -> dict[str, Path]:
    return write_bad_images(tmp_path_factory.mktemp("bad"))


@pytest.fixture(scope="module")
def encoder():
    from facerec.encoder import get_encoder

    return get_encoder(weights_or_skip())


@pytest.fixture(scope="module")
def populated(tmp_path_factory, encoder) -> tuple[Path, Path]:
    """``(database, a good photo)``: bob enrolled from two 96x96 crops, made with the weights in use."""
    folder = tmp_path_factory.mktemp("populated")
    path = folder / "faces.sqlite"
    with FaceDatabase(path) as db:
        db.enroll("bob", [crop_photo(folder / "bob_1.png", 1), crop_photo(folder / "bob_2.png", 2)], encoder=encoder)
    return path, crop_photo(folder / "alice_1.png", 3)


@pytest.fixture
def ctx(bad, populated, encoder, tmp_path) -> Context:
    """A fresh copy of the populated database for each test (a regression that writes cannot leak)."""
    db = tmp_path / "faces.sqlite"
    shutil.copy(populated[0], db)
    return Context(bad, populated[1], db, encoder)


@pytest.fixture(scope="module")
def course_model():
    from course.solutions import load_model

    return load_model(weights_or_skip())


def assert_typed(error: BaseException, kind: type, fragment: str, name: str | None = None) -> None:
    """A FaceRecError of ``kind``, also a ValueError or OSError, whose message has ``fragment`` (and ``name``)."""
    assert isinstance(error, kind) and isinstance(error, FaceRecError), repr(error)
    assert isinstance(error, (ValueError, OSError))
    assert fragment in str(error), str(error)
    if name is not None:
        assert name in str(error), str(error)


# -- images: every bad file x every library entry point ------------------------------------------------------


def _enroll(path: Path, c: Context):
    with FaceDatabase(c.db) as db:
        return db.enroll("alice", [c.good, path], encoder=c.encoder, skip_bad=False)


def _img_to_encoding(path: Path, c: Context):
    from course.solutions import img_to_encoding

    return img_to_encoding(str(path), c.course_model)


IMAGE_ENTRY_POINTS = {
    "load_image": lambda path, c: load_image(path),
    "find_and_align": lambda path, c: find_and_align(path),
    "find_faces": lambda path, c: find_faces(path),
    "encode_faces": lambda path, c: facerec.encode_faces(path, encoder=c.encoder),
    "enroll": _enroll,
    "verify": lambda path, c: facerec.verify(path, "bob", c.db, encoder=c.encoder),
    "identify": lambda path, c: facerec.identify(path, c.db, encoder=c.encoder),
    "img_to_encoding": _img_to_encoding,
}


@pytest.mark.parametrize("entry", IMAGE_ENTRY_POINTS)
@pytest.mark.parametrize("case", IMAGE_CASES)
def test_a_bad_image_raises_a_typed_error_at_every_entry_point(case, entry, ctx, request):
    path = ctx.bad[case]
    if entry == "img_to_encoding":
        ctx.course_model = request.getfixturevalue("course_model")
    kind, fragment = IMAGE_ERRORS[case]
    if entry == "load_image" and kind is FaceNotFound:  # a valid image: it loads, the face is what is missing
        image = load_image(path)
        assert image.dtype == np.uint8 and image.shape == {"one_pixel": (1, 1, 3), "no_face": (300, 400, 3)}[case]
        return
    before = snapshot(ctx.db)
    with pytest.raises(kind) as caught:
        IMAGE_ENTRY_POINTS[entry](path, ctx)
    assert_typed(caught.value, kind, fragment, path.name)
    assert snapshot(ctx.db) == before


@pytest.mark.parametrize("case", IMAGE_CASES)
def test_enroll_with_skip_bad_stores_the_good_photos_and_lists_the_bad_one(case, ctx):
    with FaceDatabase(ctx.db) as db:
        result = db.enroll("carol", [ctx.good, ctx.bad[case]], encoder=ctx.encoder, skip_bad=True)
        assert result.added == [ctx.good.name]
        [(source, reason)] = result.failed
        assert source == ctx.bad[case].name and IMAGE_ERRORS[case][1] in reason
        assert [(p.name, p.photos) for p in db.people()] == [("bob", 2), ("carol", 1)]
        with pytest.raises(IMAGE_ERRORS[case][0], match="none of the 1 photo\\(s\\) of 'dave' holds a usable face"):
            db.enroll("dave", [ctx.bad[case]], encoder=ctx.encoder, skip_bad=True)


# -- images that are valid but unusual: decoded to the right pixels ----------------------------------------------


def test_a_png_with_alpha_is_composited_onto_white(tmp_path):
    rgba = np.array([[[255, 0, 0, 255], [0, 0, 255, 0], [0, 255, 0, 128]]], np.uint8)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "alpha.png")
    image = load_image(tmp_path / "alpha.png")
    assert image.shape == (1, 3, 3) and image.dtype == np.uint8
    np.testing.assert_allclose(image[0], [[255, 0, 0], [255, 255, 255], [127, 255, 127]], atol=1)


def test_a_16_bit_png_is_scaled_to_8_bits(tmp_path):
    levels = np.array([[0, 257, 128 * 257, 200 * 257, 65535]], np.uint16)
    Image.fromarray(levels).save(tmp_path / "deep.png")
    with Image.open(tmp_path / "deep.png") as check:
        assert check.mode.startswith("I")  # really stored with 16 bits
    image = load_image(tmp_path / "deep.png")
    assert image.shape == (1, 5, 3) and image.dtype == np.uint8
    np.testing.assert_allclose(image[0, :, 0], [0, 1, 128, 200, 255], atol=1)
    assert (image == image[..., :1]).all()


def test_a_grayscale_image_is_replicated_to_rgb(tmp_path):
    gray = np.arange(0, 250, 10, dtype=np.uint8).reshape(5, 5)
    Image.fromarray(gray).save(tmp_path / "gray.png")
    np.testing.assert_array_equal(load_image(tmp_path / "gray.png"), np.repeat(gray[..., None], 3, axis=2))


def test_a_one_pixel_image_loads_as_one_pixel(bad):
    np.testing.assert_array_equal(load_image(bad["one_pixel"]), [[[120, 80, 60]]])


@pytest.mark.parametrize("fmt", ["JPEG", "MPO"])
def test_a_jpeg_over_the_pixel_bound_is_decoded_at_reduced_size_within_it(tmp_path, fmt):
    path = tmp_path / "large.jpg"
    picture = Image.fromarray(np.random.default_rng(0).integers(0, 256, (600, 800, 3), dtype=np.uint8))
    picture.save(path, fmt, **({"save_all": True, "append_images": [picture]} if fmt == "MPO" else {}))
    with Image.open(path) as check:
        assert check.format == fmt  # MPO: a camera's JPEG with a second picture (stereo, depth...)
    bound = 30_000
    image = load_image(path, max_pixels=bound)
    height, width = image.shape[:2]
    assert bound // 8 <= height * width <= bound  # reduced in the decoder, to at most the bound
    assert abs(width / height - 800 / 600) < 0.05  # aspect ratio kept
    assert load_image(path).shape == (600, 800, 3)  # untouched under the default bound


def test_a_png_over_the_pixel_bound_is_refused(tmp_path):
    path = tmp_path / "large.png"
    Image.new("RGB", (300, 200)).save(path)
    with pytest.raises(ImageTooLarge) as caught:
        load_image(path, max_pixels=10_000)
    assert_typed(caught.value, ImageTooLarge, "300x200 pixels", "large.png")


def test_a_header_claiming_billions_of_pixels_is_refused_without_decoding(tmp_path):
    path = tmp_path / "bomb.jpg"
    path.write_bytes(with_jpeg_size(jpeg_bytes(np.zeros((16, 16, 3), np.uint8)), 65535, 65535))
    with pytest.raises(ImageTooLarge) as caught:
        load_image(path)
    assert_typed(caught.value, ImageTooLarge, "downscale it first", "bomb.jpg")


def test_a_file_name_too_long_for_the_file_system_is_not_readable(tmp_path):
    path = tmp_path / ("x" * 300 + ".jpg")
    with pytest.raises(ImageNotReadable) as caught:
        load_image(path)
    assert_typed(caught.value, ImageNotReadable, "cannot access image")


def test_align_face_without_a_face_is_invalid_argument():
    with pytest.raises(InvalidArgument, match="expected a facerec Face"):
        facerec.align_face(np.zeros((50, 50, 3), np.uint8), None)


# -- a very large image: refused or downscaled, in bounded memory --------------------------------------------------

MEMORY_PROBE = textwrap.dedent("""
    import json, resource, sys
    resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))  # a runaway decode fails, never an OOM kill
    from facerec.align import find_and_align
    from facerec.exceptions import FaceNotFound, ImageTooLarge
    from facerec.image import load_image

    def peak_mb():  # this process's peak resident memory (ru_maxrss would include the parent's, inherited)
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024

    report = {"baseline_mb": peak_mb()}
    try:
        load_image(sys.argv[1])
        report["png"] = "decoded"
    except ImageTooLarge as error:
        report["png"] = str(error)
    report["png_mb"] = peak_mb()
    report["jpeg_shape"] = list(load_image(sys.argv[2]).shape)
    report["jpeg_mb"] = peak_mb()
    try:
        find_and_align(sys.argv[2])
        report["align"] = "aligned"
    except FaceNotFound:
        report["align"] = "FaceNotFound"
    print(json.dumps(report))
""")


def test_a_20000_pixel_image_is_refused_or_downscaled_in_bounded_memory(bad, tmp_path_factory):
    import subprocess
    import sys

    if not Path("/proc/self/status").is_file():
        pytest.skip("measuring a process's peak memory needs Linux's /proc/self/status")
    jpeg = huge_jpeg(tmp_path_factory.mktemp("huge") / "huge.jpg")
    env = subprocess_env() | {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", MEMORY_PROBE, str(bad["huge_png"]), str(jpeg)], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert "20000x20000 pixels" in report["png"] and "downscale it first" in report["png"]
    assert report["png_mb"] - report["baseline_mb"] < 50  # refused from the header alone
    height, width, channels = report["jpeg_shape"]
    assert channels == 3 and height == width and 20_000 // 8 <= height and height * width <= MAX_PIXELS
    # Decoding costs a few copies of the largest image allowed (RGB bytes), never the 1.2 GB of the full image.
    assert report["jpeg_mb"] - report["baseline_mb"] < 4 * MAX_PIXELS * 3 / 2**20, report
    assert report["align"] == "FaceNotFound"


# -- several faces: the largest is enrolled / verified, every one is identified -------------------------------------


@pytest.fixture(scope="module")
def two_faces(tmp_path_factory) -> Path:
    """A 640x360 photo with tian large on the right and andrew smaller on the left (Happy House assets)."""
    canvas = Image.new("RGB", (640, 360), (128, 128, 128))
    for name, side, corner in (("andrew", 150, (40, 100)), ("tian", 270, (330, 40))):
        canvas.paste(Image.open(photo(name)).convert("RGB").resize((side, side), Image.Resampling.BICUBIC), corner)
    path = tmp_path_factory.mktemp("two") / "two_faces.jpg"
    canvas.save(path, quality=95)
    return path


def test_several_faces_enroll_and_verify_the_largest_and_identify_all(two_faces, encoder, tmp_path, course_model):
    from course.solutions import img_to_encoding

    _, faces = find_faces(two_faces)
    assert len(faces) == 2 and faces[0].area > faces[1].area and faces[0].box[0] >= 330
    with FaceDatabase(tmp_path / "faces.sqlite") as db:
        result = db.enroll("tian", [two_faces], encoder=encoder)
        assert result.added == [two_faces.name] and [f["box"] for f in db.faces()] == [list(faces[0].box)]
        verdict = facerec.verify(two_faces, "tian", db, encoder=encoder)
        assert verdict.box == faces[0].box and verdict.distance < 1e-3
        found = facerec.identify(two_faces, db, encoder=encoder)
    assert [r.box for r in found] == [f.box for f in faces]
    assert found[0].distance < 1e-3 < found[1].distance
    # the course's img_to_encoding is the plain network (no mirror averaging): compare with the same encoding
    from facerec.encoder import get_encoder

    plain = get_encoder(encoder.weights_dir, flip_average=False)
    largest, _ = facerec.encode_faces(two_faces, encoder=plain)
    np.testing.assert_allclose(img_to_encoding(str(two_faces), course_model), largest, atol=1e-4)


def test_several_faces_on_the_command_line(two_faces, tmp_path, encoder, capfd):
    db = str(tmp_path / "faces.sqlite")
    assert main(["--db", db, "enroll", "tian", str(two_faces)]) == 0
    assert "enrolled 1 of 1 photo(s) of tian" in capfd.readouterr().out
    assert main(["--db", db, "--json", "identify", str(two_faces)]) == 0
    faces = json.loads(capfd.readouterr().out)
    assert len(faces) == 2 and faces[0]["identity"] == "tian"


# -- the command line: every bad image x enroll / verify / identify, and bad door sources ---------------------------

COMMANDS = {
    "enroll": lambda db, path: ["--db", db, "enroll", "alice", path],
    "verify": lambda db, path: ["--db", db, "verify", path, "--as", "bob"],
    "identify": lambda db, path: ["--db", db, "identify", path],
}


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("case", IMAGE_CASES)
def test_a_bad_image_is_one_error_line_from_every_command(case, command, ctx, capfd):
    path = ctx.bad[case]
    fragment = IMAGE_ERRORS[case][1]
    if case == "directory" and command != "verify":  # enroll and identify take folders of photos
        fragment = "no images found"
    before = snapshot(ctx.db)
    capfd.readouterr()
    code = main([str(arg) for arg in COMMANDS[command](ctx.db, path)])
    out, err = capfd.readouterr()
    assert code == 2
    assert_one_error_line(err, fragment, path.name)
    if command != "identify":  # identify prints what it found in the other photos (none here)
        assert out == ""
    assert snapshot(ctx.db) == before


def _door_sources(folder: Path, bad: dict[str, Path]) -> dict[str, tuple[Path, str]]:
    """Bad door sources: ``{case: (video or folder, message fragment)}``."""
    sources = {"missing": (folder / "nope.mp4", "does not exist")}
    (folder / "empty_folder").mkdir()
    sources["empty_folder"] = (folder / "empty_folder", "holds no images")
    (folder / "empty.mp4").write_bytes(b"")
    sources["empty_video"] = (folder / "empty.mp4", "cannot decode")
    (folder / "notes.mp4").write_text("not a video\n" * 100)
    sources["text_as_mp4"] = (folder / "notes.mp4", "cannot decode")
    sources["single_text_as_jpg"] = (bad["text_as_jpg"], IMAGE_ERRORS["text_as_jpg"][1])
    for case in ("truncated_jpeg", "text_as_jpg", "huge_png", "empty"):
        frames = folder / f"frames_{case}"
        frames.mkdir()
        shutil.copy(bad[case], frames / bad[case].name)
        sources[f"folder_with_{case}"] = (frames, IMAGE_ERRORS[case][1])
    return sources


DOOR_CASES = ["missing", "empty_folder", "empty_video", "text_as_mp4", "single_text_as_jpg",
              "folder_with_truncated_jpeg", "folder_with_text_as_jpg", "folder_with_huge_png", "folder_with_empty"]


@pytest.mark.parametrize("case", DOOR_CASES)
def test_a_bad_door_source_is_one_error_line(case, ctx, tmp_path, capfd):
    (tmp_path / "sources").mkdir()
    source, fragment = _door_sources(tmp_path / "sources", ctx.bad)[case]
    before = snapshot(ctx.db)
    capfd.readouterr()
    code = main(["--db", str(ctx.db), "door", str(source), "--out", str(tmp_path / "out.mp4")])
    out, err = capfd.readouterr()
    assert code == 2 and out == ""
    assert_one_error_line(err, fragment)
    assert snapshot(ctx.db) == before


def test_a_door_frame_whose_header_claims_billions_of_pixels_is_one_error_line(ctx, tmp_path, capfd):
    frames = tmp_path / "frames"
    frames.mkdir()
    (frames / "bomb.jpg").write_bytes(with_jpeg_size(jpeg_bytes(np.zeros((16, 16, 3), np.uint8)), 65535, 65535))
    capfd.readouterr()
    code = main(["--db", str(ctx.db), "door", str(frames), "--out", str(tmp_path / "out")])
    assert code == 2
    assert_one_error_line(capfd.readouterr().err, "downscale it first", "bomb.jpg")


# -- weights folders ---------------------------------------------------------------------------------------------

WEIGHTS_ERRORS = {
    "missing_csv": "conv2_w.csv (shape [64, 64, 1, 1])",
    "wrong_count": "bn1_b.csv has 3 values, expected 64",
    "nan": "bn1_w.csv holds NaN",
}


@pytest.fixture
def private_cache(tmp_path, monkeypatch):
    """Keep the weights' binary cache of these temporary folders out of the user's cache."""
    monkeypatch.setenv("FACEREC_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def course_reco_model():
    from inception_blocks import faceRecoModel

    return faceRecoModel()


@pytest.mark.parametrize("entry", ["FaceEncoder", "load_weights_from_FaceNet", "cli identify"])
@pytest.mark.parametrize("kind", WEIGHTS_ERRORS)
def test_a_broken_weights_folder_raises_weights_error(kind, entry, ctx, tmp_path, private_cache, capfd, request):
    folder = broken_weights(weights_or_skip(), tmp_path / "weights", kind)
    if entry == "cli identify":
        capfd.readouterr()
        code = main(["--db", str(ctx.db), "--weights", str(folder), "identify", str(ctx.good)])
        assert code == 2
        assert_one_error_line(capfd.readouterr().err, WEIGHTS_ERRORS[kind])
        return
    with pytest.raises(WeightsError) as caught:
        if entry == "FaceEncoder":
            from facerec.encoder import FaceEncoder

            FaceEncoder(folder)
        else:
            from fr_utils import load_weights_from_FaceNet

            load_weights_from_FaceNet(request.getfixturevalue("course_reco_model"), folder)
    assert_typed(caught.value, WeightsError, WEIGHTS_ERRORS[kind])


def test_a_weights_folder_without_model_json_has_no_threshold(ctx, tmp_path, private_cache, capfd):
    from facerec.encoder import default_threshold

    folder = broken_weights(weights_or_skip(), tmp_path / "weights", "missing_model_json")
    with pytest.raises(WeightsError) as caught:
        default_threshold(folder)
    assert_typed(caught.value, WeightsError, "model.json is missing")
    capfd.readouterr()
    code = main(["--db", str(ctx.db), "--weights", str(folder), "verify", str(ctx.good), "--as", "bob"])
    assert code == 2
    assert_one_error_line(capfd.readouterr().err, "model.json is missing")


@pytest.mark.parametrize("kind", ["model_json_not_json", "model_json_without_threshold"])
def test_a_malformed_model_json_raises_weights_error(kind, tmp_path):
    from facerec.encoder import default_threshold

    folder = broken_weights(weights_or_skip(), tmp_path / "weights", kind)
    with pytest.raises(WeightsError, match="model.json"):
        default_threshold(folder)


@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")
def test_a_weight_beyond_float32_raises_weights_error(tmp_path):
    from facerec.models.weights import parse_csv

    path = tmp_path / "bn1_b.csv"
    path.write_text("1e39,0.5")
    with pytest.raises(WeightsError, match="bn1_b.csv"):
        parse_csv(path, (2,))


# -- databases: not SQLite, truncated, other weights, empty -------------------------------------------------------


def _broken_database(case: str, populated: Path, folder: Path) -> Path:
    if case == "not_sqlite":
        path = folder / "notes.sqlite"
        path.write_text("shopping list: eggs, milk\n" * 40)
        return path
    keep = {"truncated_in_header": 50, "truncated_to_one_page": 4096, "truncated_half": populated.stat().st_size // 2}
    return truncated_copy(populated, folder / f"{case}.sqlite", keep[case])


DATABASE_CASES = ["not_sqlite", "truncated_in_header", "truncated_to_one_page", "truncated_half"]
DATABASE_ENTRY_POINTS = {
    "FaceDatabase": lambda db, c: FaceDatabase(db).close(),
    "enroll": lambda db, c: FaceDatabase(db).enroll("alice", [c.good], encoder=c.encoder),
    "verify": lambda db, c: facerec.verify(c.good, "bob", db, encoder=c.encoder),
    "identify": lambda db, c: facerec.identify(c.good, db, encoder=c.encoder),
    "cli enroll": ["enroll", "alice", "{good}"],
    "cli verify": ["verify", "{good}", "--as", "bob"],
    "cli identify": ["identify", "{good}"],
    "cli door": ["door", "{folder}", "--out", "{out}"],
    "cli people": ["people"],
    "cli remove": ["remove", "bob"],
}


@pytest.mark.parametrize("entry", DATABASE_ENTRY_POINTS)
@pytest.mark.parametrize("case", DATABASE_CASES)
def test_a_damaged_database_is_refused_and_left_untouched(case, entry, ctx, populated, tmp_path, capfd):
    path = _broken_database(case, populated[0], tmp_path)
    content = path.read_bytes()
    call = DATABASE_ENTRY_POINTS[entry]
    if callable(call):
        with pytest.raises(DatabaseError) as caught:
            call(path, ctx)
        assert_typed(caught.value, DatabaseError, "not a usable facerec database", path.name)
    else:
        args = [arg.format(good=ctx.good, folder=ctx.good.parent, out=tmp_path / "out") for arg in call]
        capfd.readouterr()
        assert main(["--db", str(path), *args]) == 2
        assert_one_error_line(capfd.readouterr().err, "not a usable facerec database", path.name)
    assert path.read_bytes() == content
    assert not Path(f"{path}-wal").exists() or Path(f"{path}-wal").stat().st_size == 0


@pytest.fixture
def other_weights_db(tmp_path) -> Path:
    """A database whose encodings come from other weights (another fingerprint)."""
    path = tmp_path / "other.sqlite"
    with FaceDatabase(path) as db:
        db.add_faces("bob", random_records(np.random.default_rng(0), 2), FINGERPRINT)
    return path


@pytest.mark.parametrize("command", ["enroll", "verify", "identify", "door"])
def test_a_database_of_other_weights_is_one_error_line_and_unchanged(command, other_weights_db, ctx, tmp_path, capfd):
    image = ctx.good
    if command == "door":  # the door compares only faces the detector finds: use a real face
        image = tmp_path / "frames" / "tian.jpg"
        image.parent.mkdir()
        shutil.copy(photo("tian"), image)
    args = {"enroll": ["enroll", "alice", image], "verify": ["verify", image, "--as", "bob"],
            "identify": ["identify", image], "door": ["door", image.parent, "--out", tmp_path / "out"]}[command]
    before = snapshot(other_weights_db)
    capfd.readouterr()
    assert main(["--db", str(other_weights_db), *map(str, args)]) == 2
    assert_one_error_line(capfd.readouterr().err, "was built with other weights", "FACEREC_WEIGHTS")
    assert snapshot(other_weights_db) == before


def test_an_empty_database_says_to_enroll_first(ctx, tmp_path, capfd):
    empty = tmp_path / "empty.sqlite"
    empty_database(empty, ctx.encoder.name)
    with pytest.raises(UnknownIdentity) as caught:
        facerec.verify(ctx.good, "bob", empty, encoder=ctx.encoder)
    assert_typed(caught.value, UnknownIdentity, "the database is empty; enroll people first")
    with pytest.raises(EmptyDatabase) as caught:
        facerec.identify(ctx.good, empty, encoder=ctx.encoder)
    assert_typed(caught.value, EmptyDatabase, "enroll people first")
    capfd.readouterr()
    assert main(["--db", str(empty), "verify", str(ctx.good), "--as", "bob"]) == 2
    assert_one_error_line(capfd.readouterr().err, "the database is empty; enroll people first")
    frames = tmp_path / "frames"
    frames.mkdir()
    shutil.copy(photo("kian"), frames / "kian.jpg")
    assert main(["--db", str(empty), "door", str(frames), "--out", str(tmp_path / "out")]) == 2
    assert_one_error_line(capfd.readouterr().err, "holds no faces; enroll people first")


# -- real processes: what a shell sees ------------------------------------------------------------------------


@pytest.mark.parametrize("case", ["verify a missing photo", "identify with a truncated database",
                                  "enroll a truncated JPEG", "door on a text file named .mp4",
                                  "identify with a weights folder missing a CSV"])
def test_a_real_process_exits_2_with_one_line_and_no_traceback(case, ctx, populated, tmp_path):
    env = {}
    if case == "verify a missing photo":
        args, fragment = ["--db", ctx.db, "verify", ctx.bad["missing"], "--as", "bob"], "does not exist"
    elif case == "identify with a truncated database":
        db = truncated_copy(populated[0], tmp_path / "cut.sqlite", 4096)
        args, fragment = ["--db", db, "identify", ctx.good], "not a usable facerec database"
    elif case == "enroll a truncated JPEG":
        args, fragment = ["--db", ctx.db, "enroll", "alice", ctx.bad["truncated_jpeg"]], "truncated, corrupt"
    elif case == "door on a text file named .mp4":
        (tmp_path / "notes.mp4").write_text("not a video\n" * 100)
        args, fragment = ["--db", ctx.db, "door", tmp_path / "notes.mp4", "--out", tmp_path / "o.mp4"], "cannot decode"
    else:
        folder = broken_weights(weights_or_skip(), tmp_path / "weights", "missing_csv")
        args, fragment = ["--db", ctx.db, "--weights", folder, "identify", ctx.good], "conv2_w.csv"
        env["FACEREC_CACHE"] = str(tmp_path / "cache")
    before = snapshot(ctx.db)
    done = run_facerec(*args, **env)
    assert done.returncode == 2 and done.stdout == "", done.stderr
    assert_one_error_line(done.stderr, fragment)
    assert snapshot(ctx.db) == before

