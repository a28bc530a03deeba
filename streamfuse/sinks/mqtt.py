"""MQTT sink (paho-mqtt 2.x), with topics laid out as Frigate does.

Every event goes, QoS 1, to ``<prefix>/events`` and to ``<prefix>/<source id>/<short type>``
(``streamfuse/cam1/speech``); ``<prefix>/available`` holds ``online`` (retained) while the sink is
connected, and the broker publishes the last will ``offline`` (retained) if the sink dies; a clean
close publishes ``offline`` itself. An event leaves the durable buffer only after the broker's
PUBACK for both topics.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from typing import Any

import paho.mqtt.client as mqtt

from ..events.cloudevents import short_type
from ._delivery import TransportError


def topic_part(text: str) -> str:
    """A string made safe for one MQTT topic level (no ``/``, ``+``, ``#``)."""
    return "".join("_" if c in "/+#\0" else c for c in text) or "_"


class MqttTransport:
    """One paho client with its own network thread; paho reconnects by itself."""

    def __init__(self, host: str, port: int, prefix: str, *, username: str | None = None,
                 password: str | None = None, client_id: str | None = None, keepalive: int = 30,
                 display: str = "") -> None:
        self.display = display or f"mqtt://{host}:{port}/{prefix}"
        self.host, self.port, self.prefix, self.keepalive = host, port, prefix, keepalive
        self.available_topic = f"{prefix}/available"
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
                                   client_id=client_id or f"streamfuse-sink-{uuid.uuid4().hex[:12]}",
                                   protocol=mqtt.MQTTv311, clean_session=True)
        self.secrets = tuple(x for x in (password,) if x)
        if username is not None:
            self._client.username_pw_set(username, password)
        self._client.will_set(self.available_topic, "offline", qos=1, retain=True)
        self._client.reconnect_delay_set(0.2, 2.0)
        self._client.max_inflight_messages_set(1000)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_connect_fail = self._on_connect_fail
        self._connected = threading.Event()
        self._started = False
        self.refused: str | None = None  # why the last attempt failed
        self.auth_failed = False

    # paho callbacks (paho's network thread)
    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any,
                    properties: Any) -> None:
        if reason_code.is_failure:
            self.refused = str(reason_code)
            self.auth_failed = reason_code.value in (0x86, 0x87, 4, 5)  # bad user/pass, not authorized
            return
        self.refused, self.auth_failed = None, False
        client.publish(self.available_topic, "online", qos=1, retain=True)
        self._connected.set()

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any,
                       properties: Any) -> None:
        self._connected.clear()

    def _on_connect_fail(self, client: mqtt.Client, userdata: Any) -> None:
        self.refused = "connection refused or unreachable"

    # Transport
    @property
    def connected(self) -> bool:
        return self._connected.is_set() and self._client.is_connected()

    def connect(self, timeout: float) -> None:
        if not self._started:
            self._client.connect_async(self.host, self.port, self.keepalive)
            self._client.loop_start()
            self._started = True
        deadline = time.monotonic() + timeout
        while not self._connected.wait(0.05):
            if self.auth_failed or time.monotonic() > deadline:  # refused credentials will not get better
                raise TransportError(f"MQTT broker {self.display} not connected: {self.refused or 'no answer'}")

    def publish(self, events: list[dict[str, Any]], timeout: float) -> int:
        infos = []
        for event in events:
            payload = json.dumps(event, separators=(",", ":"), ensure_ascii=False)
            source_id = event.get("source", "").removeprefix("streamfuse://")
            infos.append((self._client.publish(f"{self.prefix}/events", payload, qos=1),
                          self._client.publish(f"{self.prefix}/{topic_part(source_id)}/"
                                               f"{topic_part(short_type(event))}", payload, qos=1)))
        deadline = time.monotonic() + timeout
        done = 0
        for pair in infos:
            for info in pair:
                try:
                    info.wait_for_publish(max(0.0, deadline - time.monotonic()))
                except (RuntimeError, ValueError) as exc:
                    if done == 0:
                        raise TransportError(f"MQTT publish to {self.display} failed: {exc}") from None
                    return done
                if not info.is_published():
                    return done
            done += 1
        return done

    def close(self, timeout: float) -> None:
        if not self._started:
            return
        try:
            if self.connected:
                info = self._client.publish(self.available_topic, "offline", qos=1, retain=True)
                try:
                    info.wait_for_publish(timeout)
                except (RuntimeError, ValueError):
                    pass
            self._client.disconnect()
        finally:
            self._client.loop_stop()
            self._started = False
