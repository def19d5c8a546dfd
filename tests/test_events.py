"""Door events to a webhook: signed JSON, retried with back-off, never holding the door (a real receiver on
127.0.0.1)."""

from __future__ import annotations

import hmac
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

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
