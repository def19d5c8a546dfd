"""Door events to a webhook: each event POSTed as signed JSON, retried with back-off.

Each event (:func:`facerec.events.visit_event`) is sent as ``POST`` with ``Content-Type: application/json`` and:

* ``X-Facerec-Event``: ``visit`` (someone enrolled was recognised) or ``unknown_visitor``;
* ``X-Facerec-Delivery``: a random id, the same on every retry of one event (receivers drop repeats);
* ``X-Facerec-Signature``: ``sha256=<hex HMAC-SHA256 of the body's bytes under the shared key>`` when a key
  is set (:func:`signature` computes it; compare it in constant time, e.g. :func:`hmac.compare_digest`).

Delivery runs on its own thread, so a slow or absent receiver never holds the door: an event is retried
on a connection error, a timeout, 408, 429 or 5xx, waiting 0.5, 1, 2, 4, then 8 s between attempts, at
most :data:`ATTEMPTS` times; any other 4xx is final. :meth:`WebhookPublisher.close` waits for what is queued.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import queue
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from facerec.exceptions import InvalidArgument

ATTEMPTS = 6  # the first try and 5 retries
BACKOFF = (0.5, 8.0)  # first and largest wait between attempts, in seconds
TIMEOUT_S = 5.0  # per attempt
RETRY_STATUS = frozenset({408, 429}) | frozenset(range(500, 600))


def signature(key: bytes, body: bytes) -> str:
    """The ``X-Facerec-Signature`` value of ``body``: ``sha256=`` and the hex HMAC-SHA256 under ``key``."""
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


@dataclass
class DeliveryStats:
    """What a publisher did: events ``delivered``, ``failed`` (given up), ``retries`` (attempts after a first)."""

    delivered: int = 0
    failed: int = 0
    retries: int = 0
    errors: list[str] = field(default_factory=list)


class WebhookPublisher:
    """POSTs events to one URL from a background thread (see the module docstring).

    Args:
        url: ``http://`` or ``https://`` address of the receiver.
        key: the shared HMAC key (None: events are not signed).
        attempts, backoff, timeout: at most this many attempts per event, the ``(first, largest)`` wait
            between them (doubling), and the seconds one attempt may take.

    Raises:
        InvalidArgument: the URL is not http(s), or the key is shorter than 16 bytes.
    """

    def __init__(self, url: str, key: bytes | None = None, attempts: int = ATTEMPTS,
                 backoff: tuple[float, float] = BACKOFF, timeout: float = TIMEOUT_S):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidArgument(f"a webhook must be an http:// or https:// address, got {url[:80]!r}")
        if key is not None and len(key) < 16:
            raise InvalidArgument("a webhook key must be at least 16 bytes; make one with: python -c "
                                  "\"import secrets; print(secrets.token_urlsafe(32))\"")
        self.url, self.key, self.attempts, self.backoff, self.timeout = url, key, attempts, backoff, timeout
        self.stats = DeliveryStats()
        self._queue: queue.Queue[dict | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="facerec-webhook", daemon=True)
        self._thread.start()

    def publish(self, event: dict) -> None:
        """Queue ``event`` (a JSON-ready dict) for delivery; returns at once."""
        self._queue.put(event)

    def close(self, wait: float = 60.0) -> DeliveryStats:
        """Deliver what is queued (waiting at most ``wait`` seconds), stop the thread, return the stats."""
        self._queue.put(None)
        self._thread.join(wait)
        return self.stats

    def _run(self) -> None:
        while (event := self._queue.get()) is not None:
            self._deliver(event)

    def _deliver(self, event: dict) -> None:
        body = json.dumps(event, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json", "User-Agent": "facerec",
                   "X-Facerec-Event": str(event.get("event", "")), "X-Facerec-Delivery": str(event.get("delivery", ""))}
        if self.key is not None:
            headers["X-Facerec-Signature"] = signature(self.key, body)
        wait = self.backoff[0]
        for attempt in range(self.attempts):
            if attempt:
                self.stats.retries += 1
                time.sleep(wait)
                wait = min(wait * 2, self.backoff[1])
            outcome = self._attempt(body, headers)
            if outcome == "delivered":
                self.stats.delivered += 1
                return
            if outcome.startswith("final"):
                break
        self.stats.failed += 1
        self.stats.errors.append(outcome)
        print(f"facerec: warning: a door event was not delivered to the webhook ({outcome})", file=sys.stderr)

    def _attempt(self, body: bytes, headers: dict) -> str:
        """One POST: ``delivered``, ``retry: why`` or ``final: why``."""
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 - http(s) checked
                response.read(1024)
            return "delivered"
        except urllib.error.HTTPError as error:
            kind = "retry" if error.code in RETRY_STATUS else "final"
            return f"{kind}: the receiver answered {error.code}"
        except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as error:
            reason = getattr(error, "reason", error)
            return f"retry: {reason}"
