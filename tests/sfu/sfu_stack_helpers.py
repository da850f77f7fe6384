"""Helpers of the end-to-end media tests (tests/sfu): REST setup, SDK peers, SFU metrics."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families
from realtimekit import RealtimeKitClient
from stack_support import RestApi

Connect = Callable[..., Awaitable[RealtimeKitClient]]

# Small, cheap synthetic video unless a test asks for 640×480 (2 cores run the stack too).
SMALL_VIDEO = {"mediaConfiguration": {"video": {"width": 320, "height": 240, "frameRate": 10}}}
VGA_VIDEO = {"mediaConfiguration": {"video": {"width": 640, "height": 480, "frameRate": 10}}}


class Api(RestApi):
    """REST calls as the bootstrap account, plus preset copies with media permissions changed."""

    def __init__(self, stack: Any) -> None:
        super().__init__(stack, title="media test")

    async def preset_variant(self, base: str, media: dict[str, str], waiting_room_type: str | None = None) -> str:
        """A copy of `base` with permissions.media.<kind>.can_produce (and optionally
        permissions.waiting_room_type) overridden; its name."""
        source = (await self.preset(base))["permissions"]
        permissions: dict[str, Any] = {"media": {
            kind: dict(source["media"][kind], **({"can_produce": media[kind]} if kind in media else {}))
            for kind in source["media"]}}
        if waiting_room_type is not None:
            permissions["waiting_room_type"] = waiting_room_type
        return await self.preset_copy(base, permissions=permissions, prefix="media")


def scrape(port: int, host: str = "127.0.0.1") -> dict[str, float]:
    """A process's Prometheus metrics: sample name (with labels when any) → value."""
    text = httpx.get(f"http://{host}:{port}/metrics", timeout=5).text
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            key = sample.name
            if sample.labels:
                key += "{" + ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items())) + "}"
            out[key] = sample.value
    return out


def sfu_metrics(stack: Any, name: str = "sfu") -> dict[str, float]:
    return scrape(stack.dev.services[name].metrics_port, stack.dev.host)


async def joined(connect: Connect, token: str, **options: Any) -> RealtimeKitClient:
    meeting = await connect(token, **options)
    await meeting.join()
    return meeting


async def until(predicate: Callable[[], Any], timeout: float = 15.0, interval: float = 0.05) -> Any:  # noqa: ASYNC109
    """Poll a cheap in-process predicate (state of local SDK objects) until true."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met within {timeout}s")
        await asyncio.sleep(interval)


async def remote_track(meeting: RealtimeKitClient, peer_id: str, kind: str, timeout: float = 15.0) -> Any:  # noqa: ASYNC109
    """The RemoteTrack of `peer_id`'s `kind` on `meeting`, once the SFU delivers it."""
    return await until(lambda: meeting._media.track_of(peer_id, kind), timeout)


async def peer_media(stack: Any, peer_id: str, name: str = "sfu") -> Any:
    """SfuService.GetPeerMedia on the stack's SFU: what it forwards from and to `peer_id`
    (realtime.sfu.v1.GetPeerMediaResponse); raises grpc.aio.AioRpcError (NOT_FOUND) when the
    SFU has no media for the peer."""
    from realtime.sfu.v1 import sfu_service_pb2, sfu_service_pb2_grpc
    from rtkit.clients import channel, internal_metadata

    async with channel(stack.dev.grpc_addresses()[name]) as ch:
        stub = sfu_service_pb2_grpc.SfuServiceStub(ch)
        return await stub.GetPeerMedia(sfu_service_pb2.GetPeerMediaRequest(peer_id=peer_id),
                                       metadata=internal_metadata(stack.internal_token), timeout=10)


def received_from(media: Any) -> set[tuple[str, str]]:
    """(publisher peer id, kind name) of every track in a GetPeerMediaResponse's `received`."""
    from realtime.signaling.v1 import signal_pb2

    return {(t.peer_id, signal_pb2.TrackKind.Name(t.kind).removeprefix("TRACK_KIND_").lower())
            for t in media.received}


async def metric_rises(stack: Any, key: str, above: float, timeout: float = 15.0) -> float:  # noqa: ASYNC109
    """Poll the SFU's metrics until sample `key` exceeds `above`; its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = sfu_metrics(stack).get(key, 0.0)
        if value > above:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{key} stayed at {value} (wanted > {above}) for {timeout}s")
        await asyncio.sleep(0.2)
