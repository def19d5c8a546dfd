"""ASGI middlewares that bound what one request may cost before the application reads it.

* :class:`Gate`: a check on the headers (the bearer token) before the body is read, so a
  request without the token is refused without its upload being received or parsed;
* :class:`ReceiveDeadline`: the body must arrive within ``total`` seconds, with at most
  ``idle`` seconds between two chunks (408 otherwise), so slow clients cannot hold a
  connection and a worker as long as they like.

Both answer with the application's own error body (``respond(error)``, an ASGI app), and
close the connection after an answer given before the body was read in full.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

BODY_TIMEOUT_S = 60.0  # the whole body of one request (20 MB at 2.7 Mbit/s)
BODY_IDLE_S = 10.0  # between two chunks of a body


class BodyTooSlow(Exception):
    """Raised inside ``receive`` when the body does not arrive in time (answered 408)."""


def closing(respond: Callable, error: Exception):
    """``respond(error)`` with ``Connection: close`` (the unread rest of the body must not be parsed as a request)."""
    response = respond(error)
    response.headers["Connection"] = "close"
    return response


class Gate:
    """ASGI middleware: ``check(scope)`` before the application runs, for the paths where ``guarded(path)``.

    ``check`` raises to refuse; the refusal is ``respond(error)``. Nothing of the body is read.
    """

    def __init__(self, app, check: Callable[[dict], None], guarded: Callable[[str], bool], respond: Callable):
        self.app, self.check, self.guarded, self.respond = app, check, guarded, respond

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and self.guarded(scope.get("path", "")):
            try:
                self.check(scope)
            except Exception as error:  # noqa: BLE001 - the check's refusal, answered by respond
                return await closing(self.respond, error)(scope, receive, send)
        return await self.app(scope, receive, send)


class ReceiveDeadline:
    """ASGI middleware: 408 when the request body takes over ``total`` s, or over ``idle`` s between chunks."""

    def __init__(self, app, respond: Callable[[Exception], Callable[..., Awaitable]], total: float = BODY_TIMEOUT_S,
                 idle: float = BODY_IDLE_S):
        self.app, self.respond, self.total, self.idle = app, respond, total, idle

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.total
        state = {"done": False, "late": None, "started": False}

        async def timed_receive():
            if state["done"]:  # the body is in: waiting for a disconnect is not bounded
                return await receive()
            left = deadline - loop.time()
            try:
                message = await asyncio.wait_for(receive(), max(0.0, min(self.idle, left)))
            except asyncio.TimeoutError:
                state["late"] = BodyTooSlow(
                    f"the upload did not arrive in time (at most {self.total:g} s for a request's body, "
                    f"{self.idle:g} s between two parts of it); send smaller photos or use a faster connection")
                raise state["late"] from None
            if message["type"] != "http.request" or not message.get("more_body", False):
                state["done"] = True
            return message

        async def watched_send(message):
            if state["late"] is not None:  # the application's answer to a body it could not read: replaced below
                return
            state["started"] = state["started"] or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, timed_receive, watched_send)
        except BodyTooSlow:
            pass
        if state["late"] is not None and not state["started"]:
            await closing(self.respond, state["late"])(scope, receive, send)
