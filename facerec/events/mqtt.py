"""Door events to an MQTT broker, with Home Assistant's MQTT discovery (``paho-mqtt``).

Topics, under ``facerec/<door>`` (the door's name, ``--door-name``, default ``door``):

* ``facerec/<door>/availability``: ``online`` while the door runs, ``offline`` when it stops or dies (the
  broker sends the last will), retained;
* ``facerec/<door>/event``: every visit, ``{"event_type": "visit" | "unknown_visitor", ...the event}``;
* ``facerec/<door>/presence/<resident>``: ``ON`` when that resident was admitted, retained, with
  ``.../attributes`` holding ``{"last_seen": UTC ISO 8601, "distance", "visit"}``, retained.

Home Assistant finds them through retained discovery messages (``homeassistant/<component>/<id>/config``,
published on connecting): one ``binary_sensor`` of class ``presence`` per resident (``last_seen`` among its
attributes, off again ``presence_off_s`` seconds after the visit), an ``event`` entity whose event types are
``visit`` and ``unknown_visitor``, and the door's availability. Messages go out with QoS 1 from paho's own
network thread; paho queues them while the broker is away and sends them when it is back.
"""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

from facerec.exceptions import InvalidArgument

DISCOVERY_PREFIX = "homeassistant"
PRESENCE_OFF_S = 300  # a resident's presence sensor turns off again after this many seconds


def slug(name: str) -> str:
    """A topic- and id-safe form of a name: lower case letters, digits and ``_``."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") or "x"


class MqttPublisher:
    """Publishes door events to ``mqtt://host[:port]`` (see the module docstring).

    Args:
        url: ``mqtt://[user@]host[:port]`` (default port 1883); the password comes from ``$FACEREC_MQTT_PASSWORD``.
        door: the door's name (topics and entity ids).
        residents: the enrolled names, each given a presence sensor.
        password: the broker's password (None: none).
        presence_off_s: seconds after which a presence sensor turns off again.

    Raises:
        InvalidArgument: the URL is not ``mqtt://``.
    """

    def __init__(self, url: str, door: str = "door", residents: list[str] = (), password: str | None = None,
                 presence_off_s: int = PRESENCE_OFF_S):
        import paho.mqtt.client as mqtt

        parts = urlsplit(url)
        if parts.scheme != "mqtt" or not parts.hostname:
            raise InvalidArgument(f"an MQTT broker must be an mqtt://host[:port] address, got {url[:80]!r}")
        self.door, self.residents, self.presence_off_s = slug(door), list(residents), presence_off_s
        self.base = f"facerec/{self.door}"
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"facerec-{self.door}")
        if parts.username:
            self.client.username_pw_set(parts.username, password)
        self.client.will_set(f"{self.base}/availability", "offline", qos=1, retain=True)
        self.client.on_connect = lambda client, userdata, flags, reason, properties: self._announce()
        self.client.connect_async(parts.hostname, parts.port or 1883)
        self.client.loop_start()

    def _publish(self, topic: str, payload, retain: bool = False) -> None:
        body = payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"))
        self.client.publish(topic, body, qos=1, retain=retain)

    def _device(self) -> dict:
        return {"identifiers": [f"facerec_{self.door}"], "name": f"facerec {self.door}", "manufacturer": "facerec"}

    def _announce(self) -> None:
        """Discovery messages and ``online`` (on every connection: the broker may have lost them)."""
        availability = {"availability_topic": f"{self.base}/availability", "device": self._device()}
        for name in self.residents:
            key = slug(name)
            self._publish(f"{DISCOVERY_PREFIX}/binary_sensor/facerec_{self.door}_{key}/config", {
                "name": f"{name} at the {self.door}", "unique_id": f"facerec_{self.door}_{key}",
                "device_class": "presence", "state_topic": f"{self.base}/presence/{key}",
                "json_attributes_topic": f"{self.base}/presence/{key}/attributes",
                "off_delay": self.presence_off_s, **availability}, retain=True)
        self._publish(f"{DISCOVERY_PREFIX}/event/facerec_{self.door}_visitor/config", {
            "name": f"Visitor at the {self.door}", "unique_id": f"facerec_{self.door}_visitor",
            "state_topic": f"{self.base}/event", "event_types": ["visit", "unknown_visitor"], **availability},
            retain=True)
        self._publish(f"{self.base}/availability", "online", retain=True)

    def publish(self, event: dict) -> None:
        """Publish one visit's event (:func:`facerec.events.visit_event`); returns at once."""
        self._publish(f"{self.base}/event", {"event_type": event.get("event"), **event})
        if event.get("admitted") and event.get("identity"):
            key = slug(event["identity"])
            self._publish(f"{self.base}/presence/{key}", "ON", retain=True)
            self._publish(f"{self.base}/presence/{key}/attributes", {
                "last_seen": event.get("end"), "distance": event.get("distance"), "visit": event.get("visit")},
                retain=True)

    def close(self, wait: float = 10.0) -> None:
        """Say ``offline``, send what is queued (at most ``wait`` seconds), disconnect."""
        info = self.client.publish(f"{self.base}/availability", "offline", qos=1, retain=True)
        try:
            info.wait_for_publish(wait)
        except (RuntimeError, ValueError):  # never connected: nothing more can be sent
            pass
        self.client.disconnect()
        self.client.loop_stop()
