"""The practical paths stay free of TensorFlow: ``import facerec`` and a dlib database's commands never load it."""

from __future__ import annotations

import subprocess
import sys

from helpers_issue4 import photo, subprocess_env, weights_or_skip

PROBE = "import sys; {body}; print('tensorflow' in sys.modules, 'keras' in sys.modules)"


def _loaded(body: str) -> str:
    done = subprocess.run([sys.executable, "-c", PROBE.format(body=body)], env=subprocess_env(), capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip().splitlines()[-1]


def test_import_facerec_loads_no_tensorflow():
    assert _loaded("import facerec") == "False False"


def test_enroll_and_identify_on_a_dlib_database_load_no_tensorflow(tmp_path):
    weights_or_skip()
    db, younes, door = str(tmp_path / "faces.sqlite"), str(photo("younes")), str(photo("camera_0"))
    body = (f"from facerec.cli import main; assert main(['--db', {db!r}, 'enroll', 'younes', {younes!r}]) == 0; "
            f"assert main(['--db', {db!r}, '--json', 'identify', {door!r}]) == 0; "
            f"assert main(['--db', {db!r}, 'verify', {door!r}, '--as', 'younes']) == 0")
    assert _loaded(body) == "False False"


def test_every_practical_command_on_an_nn4_database_loads_no_tensorflow(tmp_path):
    weights_or_skip()
    db, younes, door = str(tmp_path / "faces.sqlite"), str(photo("younes")), str(photo("camera_0"))
    out = str(tmp_path / "annotated")
    body = (f"from facerec.cli import main; "
            f"assert main(['--db', {db!r}, '--encoder', 'nn4', 'enroll', 'younes', {younes!r}]) == 0; "
            f"assert main(['--db', {db!r}, '--encoder', 'nn4', 'enroll', 'kian', {str(photo('kian'))!r}]) == 0; "
            f"assert main(['--db', {db!r}, '--json', 'identify', {door!r}]) == 0; "
            f"assert main(['--db', {db!r}, 'verify', {door!r}, '--as', 'younes']) == 0; "
            f"assert main(['--db', {db!r}, 'door', {door!r}, '--out', {out!r}]) == 0; "
            f"assert main(['--db', {db!r}, 'remove', 'kian']) == 0; "
            f"assert main(['--db', {db!r}, 'people']) == 0")
    assert _loaded(body) == "False False"
