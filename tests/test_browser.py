"""The web page in a real browser: headless Chromium (Debian's chromium + chromium-driver) driven by Selenium.

Starts ``facerec serve`` on a free loopback port, opens the page, enrolls a
resident through the form, sends a door-camera shot through the upload button,
and checks that the right name is drawn (listed under the picture) and logged.
Saves a screenshot to ``runs/browser/serve_page.png`` (the README's picture).
Slow (about 30 s); ``.ci/run`` installs Chromium and runs it.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from helpers_issue4 import REPO, photo, subprocess_env, weights_or_skip

pytestmark = pytest.mark.slow
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
SCREENSHOT = REPO / "runs" / "browser" / "serve_page.png"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture()
def server(tmp_path):
    yield from _serve(tmp_path)


def _serve(tmp_path, *options: str):
    """``facerec serve`` on a free loopback port (with ``options``): yields its URL, stops it afterwards."""
    weights_or_skip()
    port = _free_port()
    log = open(tmp_path / "server.log", "w")
    process = subprocess.Popen([sys.executable, "-m", "facerec", "--db", str(tmp_path / "faces.sqlite"), "serve",
                                "--port", str(port), *options], stdout=log, stderr=subprocess.STDOUT,
                               env=subprocess_env())
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url + "/api/health", timeout=2)
            break
        except OSError:
            assert process.poll() is None, (tmp_path / "server.log").read_text()
            time.sleep(0.3)
    else:
        pytest.fail("facerec serve did not answer within 120 s:\n" + (tmp_path / "server.log").read_text())
    yield url
    process.terminate()
    process.wait(timeout=30)
    log.close()


@pytest.fixture()
def browser():
    yield from _chromium()


def _chromium(*flags: str):
    """Headless Chromium under Selenium (with extra command-line ``flags``), quit afterwards."""
    if not (os.path.exists(CHROMIUM) and os.path.exists(DRIVER)):
        pytest.skip("Debian's chromium and chromium-driver are not installed (apt-get install chromium "
                    "chromium-driver; .ci/run does)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # the console: CSP violations show there
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                 "--no-first-run", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--window-size=1280,1100", *flags):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    yield driver
    driver.quit()


def _wait_for_text(driver, css: str, text: str, timeout: float = 60) -> str:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, timeout).until(expected_conditions.text_to_be_present_in_element((By.CSS_SELECTOR, css),
                                                                                          text))
    return driver.find_element(By.CSS_SELECTOR, css).text


def test_enroll_by_the_form_then_a_camera_shot_draws_the_right_name(server, browser):
    from selenium.webdriver.common.by import By

    browser.get(server + "/")
    _wait_for_text(browser, "#status", "0 people enrolled")
    for name in ("younes", "kian", "arnaud"):
        browser.find_element(By.ID, "enroll-name").send_keys(name)
        browser.find_element(By.ID, "enroll-photos").send_keys(str(photo(name)))
        browser.find_element(By.ID, "enroll-submit").click()
        _wait_for_text(browser, "#enroll-result", f"enrolled 1 photo(s) of {name}")
    _wait_for_text(browser, "#people", "arnaud (1)")
    browser.find_element(By.ID, "door-photo").send_keys(str(photo("camera_0")))
    drawn = _wait_for_text(browser, "#door-faces", "younes")
    assert "unknown" not in drawn
    _wait_for_text(browser, "#door-faces", "strangers of any group would be let in at this gallery")  # issue 23
    _wait_for_text(browser, "#log-table tbody", "younes")
    assert "admitted" in browser.find_element(By.CSS_SELECTOR, "#log-table tbody").text
    pixels = browser.execute_script(
        "const c = document.getElementById('door-canvas');"
        "return Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data.slice(0, 4000));")
    assert any(pixels), "the door picture was not drawn"
    _wait_for_text(browser, "#status", "3 people enrolled")
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(SCREENSHOT))
    assert SCREENSHOT.stat().st_size > 10_000


@pytest.fixture()
def camera_server(tmp_path):
    """younes enrolled; the server's door on a loopback MJPEG stream of benoit (a stranger to it)."""
    from test_door_camera import MjpegServer, door_frame

    from facerec.cli import main

    weights_or_skip()
    assert main(["--db", str(tmp_path / "faces.sqlite"), "enroll", "younes", str(photo("younes"))]) == 0
    stream = MjpegServer(door_frame("benoit"), per_connection=10, connections=3)
    yield from _serve(tmp_path, "--camera", stream.url, "--detector", "hog")


def test_a_visit_at_the_camera_is_reviewed_on_the_page_and_this_is_x_enrolls_it(camera_server, browser):
    from selenium.webdriver.common.by import By

    browser.get(camera_server + "/")
    card = _wait_for_text(browser, "#visits .visit", "unknown: refused")
    assert "threshold" in card and "frame(s)" in card
    _wait_for_text(browser, "#people", "younes (1)")
    browser.find_element(By.CSS_SELECTOR, "#visits .visit .assign-name").send_keys("benoit")
    browser.find_element(By.CSS_SELECTOR, "#visits .visit button.assign").click()
    _wait_for_text(browser, "#visits-message", "enrolled to benoit")
    _wait_for_text(browser, "#people", "benoit (1)")
    _wait_for_text(browser, "#visits .visit", "reviewed: this is benoit")
    loaded = browser.execute_script("const i = document.querySelector('#visits .visit img');"
                                    "return i !== null && i.complete && i.naturalWidth;")
    assert loaded == 128, "the visit's crop was not shown"


def _other_origin() -> str:
    """A blank page served from another port of 127.0.0.1 (another origin; the same site), in a daemon thread."""
    import http.server
    import threading

    class Blank(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(b"<!doctype html><title>another site</title>")

        def log_message(self, *args):
            pass

    site = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Blank)
    threading.Thread(target=site.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{site.server_address[1]}"


def _csp_violations(driver) -> list[str]:
    return [entry["message"] for entry in driver.get_log("browser") if "Content Security Policy" in entry["message"]]


def test_the_docs_render_offline_under_the_csp_and_another_origin_cannot_write(server, browser):
    """/docs (Swagger UI from the package) renders every route with no CSP violation; the page too; a page of
    another origin (another port: the same site, but not the same origin) cannot enroll anyone."""
    import base64
    import json

    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(server + "/")
    _wait_for_text(browser, "#status", "0 people enrolled")
    assert _csp_violations(browser) == []
    browser.get(server + "/docs")
    WebDriverWait(browser, 60).until(lambda driver: len(driver.find_elements(By.CSS_SELECTOR, ".opblock")) >= 8)
    assert "/api/identify" in browser.find_element(By.ID, "swagger-ui").text
    assert _csp_violations(browser) == []
    browser.get(_other_origin() + "/")  # a page of another origin (another port), without facerec's CSP
    script = """
        const done = arguments[arguments.length - 1];
        const bytes = Uint8Array.from(atob(arguments[1]), (c) => c.charCodeAt(0));
        const form = new FormData();
        form.append("photos", new Blob([bytes], {type: "image/jpeg"}), "younes.jpg");
        fetch(arguments[0] + "/api/people/mallory/faces", {method: "POST", body: form, mode: "no-cors"})
            .then((r) => done("sent " + r.type), (e) => done("error " + e));"""
    jpeg = base64.b64encode(photo("younes").read_bytes()).decode()
    status = browser.execute_async_script(script, server, jpeg)
    assert status.startswith(("sent", "error")), status  # the POST leaves; its 403 is unread (CORP: an error)
    with urllib.request.urlopen(server + "/api/people", timeout=10) as response:
        assert json.load(response) == []  # refused: nobody enrolled
    browser.get(server + "/")  # the same request from the server's own page enrolls
    _wait_for_text(browser, "#status", "people enrolled")
    browser.execute_async_script(script, server, jpeg)
    with urllib.request.urlopen(server + "/api/people", timeout=10) as response:
        assert json.load(response) == [{"name": "mallory", "faces": 1}]
    with urllib.request.urlopen(server + "/api/health", timeout=10) as response:
        assert response.headers["X-Frame-Options"] == "DENY" and "frame-ancestors 'none'" in response.headers[
            "Content-Security-Policy"]


@pytest.fixture()
def library_server(tmp_path, assets):
    """``facerec serve`` on a database that indexed 3 LFW photos each of 2 people (not grouped yet)."""
    from facerec.database import FaceDatabase
    from facerec.library.index import index

    for person in ("Aaron_Peirsol", "Abdullah_Gul"):
        (tmp_path / "photos" / person).mkdir(parents=True)
        for i in (1, 2, 3):
            shutil.copy(assets / "lfw" / person / f"{person}_{i:04d}.jpg", tmp_path / "photos" / person)
    with FaceDatabase(tmp_path / "faces.sqlite") as db:
        index(db, [tmp_path / "photos"], workers=1, detector="hog")
    yield from _serve(tmp_path)


def test_the_library_view_groups_faces_removes_one_and_names_a_group(library_server, browser):
    from selenium.webdriver.common.by import By

    browser.get(library_server + "/")
    _wait_for_text(browser, "#library-groups", "no unnamed groups")
    browser.find_element(By.ID, "library-cluster").click()
    _wait_for_text(browser, "#library-groups", "group 2: 3 faces")
    first = browser.find_elements(By.CSS_SELECTOR, "#library-groups .group")[0]
    first.find_element(By.CSS_SELECTOR, ".face button").click()  # remove one face from the biggest group
    _wait_for_text(browser, "#library-message", "removed from its group")
    _wait_for_text(browser, "#library-groups", ": 2 faces")
    group = browser.find_elements(By.CSS_SELECTOR, "#library-groups .group")[0]
    number = group.get_attribute("data-group")
    group.find_element(By.CSS_SELECTOR, "form.library-name input").send_keys("Someone")
    group.find_element(By.CSS_SELECTOR, "form.library-name button").click()
    _wait_for_text(browser, "#library-message", f"group {number} named Someone")
    _wait_for_text(browser, "#people", "Someone (")
    assert len(browser.find_elements(By.CSS_SELECTOR, "#library-groups .group")) == 1
    assert not _csp_violations(browser)


def _still_y4m(path, rgb, frames: int = 10) -> str:
    """A Y4M video (Chromium's fake camera file) of ``frames`` copies of a 640x480 RGB image."""
    import cv2

    height, width = rgb.shape[:2]
    planes = cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420).tobytes()
    with open(path, "wb") as handle:
        handle.write(f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            handle.write(b"FRAME\n" + planes)
    return str(path)


@pytest.fixture()
def flat_check_server(tmp_path):
    """younes enrolled; ``facerec serve --flat-check``."""
    from facerec.cli import main

    weights_or_skip()
    assert main(["--db", str(tmp_path / "faces.sqlite"), "enroll", "younes", str(photo("younes"))]) == 0
    yield from _serve(tmp_path, "--flat-check")


@pytest.fixture()
def still_camera_browser(tmp_path):
    """Chromium whose camera is a fake device showing younes' door-camera photo, still."""
    from facerec.attacks import place
    from facerec.image import load_image

    frame, _ = place(load_image(photo("camera_0")), 360)
    video = _still_y4m(tmp_path / "still.y4m", frame)
    yield from _chromium("--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                         f"--use-file-for-fake-video-capture={video}")


def test_a_still_face_at_the_camera_is_asked_to_turn_its_head(flat_check_server, still_camera_browser):
    """With --flat-check, the page's camera sends bursts; a face that stays still gets the challenge, and after
    the retries the decision is shown with the check's verdict (cannot tell)."""
    from selenium.webdriver.common.by import By

    browser = still_camera_browser
    browser.get(flat_check_server + "/")
    _wait_for_text(browser, "#status", "1 people enrolled")
    browser.find_element(By.ID, "camera-start").click()
    assert _wait_for_text(browser, "#door-challenge", "Turn your head a little", timeout=90)
    drawn = _wait_for_text(browser, "#door-faces", "flat or not: cannot tell", timeout=90)
    assert "younes" in drawn and "turn your head a little" in drawn
    _wait_for_text(browser, "#visits", "younes", timeout=30)
