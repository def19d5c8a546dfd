"""A snapshot URL: an HTTP(S) address answering one JPEG (or PNG) per request, polled at a fixed rate."""

from __future__ import annotations

import base64
import time
import urllib.error
import urllib.request
from urllib.parse import unquote, urlsplit, urlunsplit

import cv2
import numpy as np

from facerec.exceptions import InvalidArgument
from facerec.sources import safe_name
from facerec.sources.live import LiveSource

MAX_SNAPSHOT_BYTES = 32 * 1024 * 1024  # a larger answer is not a camera snapshot
REQUEST_TIMEOUT = 5.0


class SnapshotSource(LiveSource):
    """Polls ``url`` every ``poll`` seconds (see :class:`facerec.sources.live.LiveSource` for the options).

    A failed request or an answer that is not an image counts as a dropped stream: the
    next request waits for the back-off.
    """

    def __init__(self, url: str, poll: float, **options):
        super().__init__(**options)
        if not poll > 0:
            raise InvalidArgument(f"--poll must be above 0 seconds, got {poll}")
        self.poll = poll
        self.name = safe_name(url)
        self.request = _request(url)
        self._due = 0.0

    def _open(self) -> SnapshotSource:
        return self  # nothing to hold between requests

    def _read(self, handle) -> np.ndarray | None:
        self._stop.wait(max(0.0, self._due - time.monotonic()))
        self._due = time.monotonic() + self.poll
        try:
            with urllib.request.urlopen(self.request, timeout=REQUEST_TIMEOUT) as answer:  # noqa: S310 - http(s) only
                data = answer.read(MAX_SNAPSHOT_BYTES + 1)
        except (OSError, urllib.error.URLError, ValueError):
            return None
        if len(data) > MAX_SNAPSHOT_BYTES:
            return None
        bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB) if bgr is not None else None


def _request(url: str) -> urllib.request.Request:
    """A GET of ``url`` with its ``user:password@`` (if any) moved into a Basic Authorization header."""
    parts = urlsplit(url)
    if parts.username is None:
        return urllib.request.Request(url)
    host = f"[{parts.hostname}]" if ":" in (parts.hostname or "") else parts.hostname or ""
    netloc = host + (f":{parts.port}" if parts.port else "")
    request = urllib.request.Request(urlunsplit(parts._replace(netloc=netloc)))
    secret = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
    request.add_header("Authorization", "Basic " + base64.b64encode(secret).decode())
    return request
