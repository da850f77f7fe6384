"""`rtk_gateway.placement.install()` as the gateway wires it: settings from the environment,
its own NATS connection, heartbeats in, pins in the KV bucket, clean stop."""

from __future__ import annotations

import json
import uuid

import pytest
from placement_helpers import make_node
from realtime.events.v1 import node_events_pb2
from realtime.gateway.v1 import placement_pb2 as P
from rtk_gateway.placement import BUCKET, LocationHint, install
from rtk_gateway.placement.registry import heartbeat_subject
from rtkit.bus import EventBus


class _Hooks:
    """The part of rtkit.server.Service that install() uses."""

    def __init__(self) -> None:
        self.start: list = []
        self.stop: list = []

    def on_start(self, hook) -> None:  # noqa: ANN001
        self.start.append(hook)

    def on_stop(self, hook) -> None:  # noqa: ANN001
        self.stop.append(hook)


async def test_install_wires_registry_locator_and_shared_pins(infra, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    region = f"lab-{uuid.uuid4().hex[:6]}"
    monkeypatch.setenv("RTK_NATS_URL", infra.nats_url)
    monkeypatch.setenv("RTK_GATEWAY_REGIONS", f"{region}:-54.80:-68.30")  # Ushuaia: nobody else's nodes
    monkeypatch.setenv("RTK_GATEWAY_DEFAULT_REGION", region)
    monkeypatch.setenv("RTK_GATEWAY_GEO_CIDRS", json.dumps([{"cidr": "10.99.0.0/16", "region": region}]))
    hooks = _Hooks()
    placer = await install(hooks, settings=object(), bus=None)  # type: ignore[arg-type]
    assert len(hooks.start) == 1 and len(hooks.stop) == 1
    await hooks.start[0]()
    bus = await EventBus.connect(infra.nats_url, name="install-test", ensure_stream=False)
    try:
        node_id = f"install-{uuid.uuid4().hex[:8]}"
        beat = node_events_pb2.NodeHeartbeat(node=make_node(node_id, region, address="127.0.0.1:1"))
        await bus.publish_core(heartbeat_subject(node_id), beat.SerializeToString())
        assert await placer.registry.wait_for(lambda: placer.registry.get(node_id) is not None, 5)

        session = f"install-{uuid.uuid4()}"
        first = await placer.place(session, ip="10.99.1.1")
        assert first.node_id == node_id and first.reason == P.PLACEMENT_REASON_CIDR_TABLE
        assert first.distance_km == 0 and first.location_source == "cidr:10.99.0.0/16"
        assert not placer.pins.degraded  # shared through KV …
        kv = await bus.js.key_value(BUCKET)
        stored = P.Placement.FromString((await kv.get(session)).value)
        assert stored.node_id == node_id and stored.session_id == session
        later = await placer.place(session, hint=LocationHint(region="eu-central"))
        assert later.node_id == node_id and later.reason == P.PLACEMENT_REASON_SESSION_PINNED
        await placer.release(session)
        assert await placer.pins.get(session) is None
    finally:
        await bus.close()
        await hooks.stop[0]()


async def test_install_rejects_bad_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RTK_GATEWAY_GEO_CIDRS", "[{\"cidr\": \"10.0.0.0/8\"}]")
    with pytest.raises(ValueError):
        await install(_Hooks(), settings=object(), bus=None)  # type: ignore[arg-type]
    monkeypatch.delenv("RTK_GATEWAY_GEO_CIDRS")
    monkeypatch.setenv("RTK_GATEWAY_GEOIP_DB", "/nonexistent/GeoLite2-City.mmdb")
    with pytest.raises(ValueError):
        await install(_Hooks(), settings=object(), bus=None)  # type: ignore[arg-type]
