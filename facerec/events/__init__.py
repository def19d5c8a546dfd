"""Tell the house who came: one event per door visit, to a webhook (:mod:`facerec.events.webhook`) or an
MQTT broker with Home Assistant discovery (:mod:`facerec.events.mqtt`).

Every visit becomes one event, ``{"event": "visit" | "unknown_visitor", "delivery": ID, ...the visit's
JSON (see :func:`facerec.door.visit_json`)}``: ``visit`` when someone enrolled was recognised,
``unknown_visitor`` otherwise; ``delivery`` is a random id a receiver can use to drop repeats.
"""

from __future__ import annotations

import secrets

from facerec.events.webhook import DeliveryStats, WebhookPublisher, signature

__all__ = ["DeliveryStats", "WebhookPublisher", "signature", "visit_event"]


def visit_event(visit: dict) -> dict:
    """The event of one visit: its kind (``visit`` or ``unknown_visitor``), a delivery id, the visit's fields."""
    kind = "visit" if visit.get("identity") is not None else "unknown_visitor"
    return {"event": kind, "delivery": secrets.token_hex(16), **visit}
