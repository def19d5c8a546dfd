"""Door events to a webhook: signed JSON, retried with back-off, never holding the door (a real receiver on
127.0.0.1)."""

from __future__ import annotations

import hmac
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from helpers_issue4 import photo, weights_or_skip

from facerec.events import WebhookPublisher, signature, visit_event
from facerec.exceptions import InvalidArgument

KEY = b"a-shared-key-of-the-house-0123456789"


class Receiver:
    """An HTTP receiver on 127.0.0.1 that answers the statuses of ``answers`` in turn (then 200)."""

    def __init__(self, answers: list[int] | None = None):
        self.answers, self.requests = list(answers or []), []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - the http.server name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                owner.requests.append((dict(self.headers), body))
                status = owner.answers.pop(0) if owner.answers else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/door"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    made = []

    def make(answers=None):
        made.append(Receiver(answers))
        return made[-1]

    yield make
    for server in made:
        server.close()


def _verified(headers: dict, body: bytes) -> dict:
    assert hmac.compare_digest(headers["X-Facerec-Signature"], signature(KEY, body))
    return json.loads(body)


def test_an_event_is_signed_and_retried_until_delivered_once_with_one_delivery_id(receiver):
    server = receiver([503, 500])
    publisher = WebhookPublisher(server.url, KEY, backoff=(0.01, 0.05))
    publisher.publish(visit_event({"visit": 1, "identity": None, "admitted": False}))
    stats = publisher.close()
    assert (stats.delivered, stats.failed, stats.retries) == (1, 0, 2)
    assert len(server.requests) == 3
    events = [_verified(headers, body) for headers, body in server.requests]
    assert {event["delivery"] for event in events} == {events[0]["delivery"]}  # the receiver can drop repeats
    headers = server.requests[-1][0]
    assert events[0]["event"] == "unknown_visitor" and headers["X-Facerec-Event"] == "unknown_visitor"
    assert headers["Content-Type"] == "application/json"


def test_a_refusal_is_final_and_a_missing_receiver_is_given_up_without_holding_the_caller(receiver):
    server = receiver([400])
    publisher = WebhookPublisher(server.url, KEY, backoff=(0.01, 0.05))
    publisher.publish(visit_event({"visit": 1, "identity": "younes", "admitted": True}))
    stats = publisher.close()
    assert (stats.delivered, stats.failed, len(server.requests)) == (0, 1, 1) and "400" in stats.errors[0]
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    nowhere = WebhookPublisher(f"http://127.0.0.1:{port}/", None, attempts=3, backoff=(0.01, 0.02), timeout=1)
    nowhere.publish({"event": "visit"})  # returns at once
    stats = nowhere.close()
    assert (stats.delivered, stats.failed, stats.retries) == (0, 1, 2)


@pytest.mark.parametrize("url, key", [("ftp://example.org/x", None), ("door", None), ("http://127.0.0.1/", b"short")])
def test_bad_webhook_settings_are_refused(url, key):
    with pytest.raises(InvalidArgument):
        WebhookPublisher(url, key)


def test_the_door_sends_a_visit_and_an_unknown_visitor_to_the_webhook(tmp_path, receiver, capsys):
    from facerec.cli import main

    weights_or_skip()
    server = receiver()
    db = str(tmp_path / "faces.sqlite")
    key_file = tmp_path / "webhook.key"
    key_file.write_text(KEY.decode() + "\n")
    assert main(["--db", db, "enroll", "younes", str(photo("younes"))]) == 0
    for shot in ("camera_0", "camera_3"):  # younes at the door, then someone not enrolled
        assert main(["--db", db, "door", str(photo(shot)), "--webhook", server.url,
                     "--webhook-key-file", str(key_file)]) == 0
    assert "1 event(s) sent to the webhook, 0 not delivered" in capsys.readouterr().err
    events = [_verified(headers, body) for headers, body in server.requests]
    assert [(e["event"], e["identity"], e["admitted"]) for e in events] == [
        ("visit", "younes", True), ("unknown_visitor", None, False)]
    assert {"visit", "start", "end", "distance", "frames", "flat"} <= set(events[0])


# -- MQTT, with a real broker (Debian's mosquitto, installed by .ci/run) on 127.0.0.1 -------------------------

@pytest.fixture
def broker(tmp_path):
    """A mosquitto broker on a free loopback port (skipped where mosquitto is not installed)."""
    import shutil
    import subprocess
    import time

    binary = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)
    if binary is None:
        pytest.skip("mosquitto is not installed (apt-get install mosquitto; .ci/run does)")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = tmp_path / "mosquitto.conf"
    config.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    process = subprocess.Popen([binary, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            assert process.poll() is None and time.monotonic() < deadline, process.communicate()
            time.sleep(0.05)
    yield port
    process.terminate()
    process.wait(10)


def _subscribe(port: int):
    """A client subscribed to every topic; returns ``(client, messages)``, messages as ``{topic: [payloads]}``."""
    import time

    import paho.mqtt.client as mqtt

    messages: dict[str, list] = {}
    ready = threading.Event()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="test-listener")
    client.on_message = lambda c, u, m: messages.setdefault(m.topic, []).append((m.payload.decode(), m.retain))
    client.on_subscribe = lambda *args: ready.set()
    client.on_connect = lambda c, *args: c.subscribe("#", qos=1)
    client.connect("127.0.0.1", port)
    client.loop_start()
    assert ready.wait(10)
    time.sleep(0.1)
    return client, messages


def test_the_door_publishes_visits_and_home_assistant_discovery_to_a_real_broker(tmp_path, broker, capsys):
    import time

    from facerec.cli import main

    weights_or_skip()
    listener, messages = _subscribe(broker)
    db = str(tmp_path / "faces.sqlite")
    assert main(["--db", db, "enroll", "younes", str(photo("younes"))]) == 0
    for shot in ("camera_0", "camera_3"):
        assert main(["--db", db, "door", str(photo(shot)), "--mqtt", f"mqtt://127.0.0.1:{broker}",
                     "--door-name", "Front Door"]) == 0
    deadline = time.monotonic() + 10
    while len(messages.get("facerec/front_door/event", [])) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    listener.loop_stop()
    listener.disconnect()
    sensor = json.loads(messages["homeassistant/binary_sensor/facerec_front_door_younes/config"][0][0])
    assert sensor["device_class"] == "presence" and sensor["state_topic"] == "facerec/front_door/presence/younes"
    visitor = json.loads(messages["homeassistant/event/facerec_front_door_visitor/config"][0][0])
    assert visitor["event_types"] == ["visit", "unknown_visitor"]
    events = [json.loads(payload) for payload, _ in messages["facerec/front_door/event"]]
    assert [(e["event_type"], e["identity"]) for e in events] == [("visit", "younes"), ("unknown_visitor", None)]
    assert messages["facerec/front_door/presence/younes"] == [("ON", False)]
    seen = json.loads(messages["facerec/front_door/presence/younes/attributes"][0][0])
    assert seen["last_seen"] == events[0]["end"]
    assert [payload for payload, _ in messages["facerec/front_door/availability"]][-1] == "offline"
