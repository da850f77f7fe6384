"""Packet loss on the client <-> SFU links is repaired by NACK + RTX, without a PLI storm."""

from __future__ import annotations

import asyncio

import pytest
from rtk_sfu.media.rtp import parse_header
from sfu_media_helpers import (
    Harness,
    PatternVideoTrack,
    drop_outgoing_rtp,
    metric,
    payload_type,
    tap_incoming_rtp,
    wait_for,
)

pytestmark = pytest.mark.media

FPS = 15


def every_nth(n: int, pts: set[int]):
    """Deterministic loss: drop every n-th packet of the given payload types (media only: the
    RTX payload type is never dropped, so each loss is repairable by one retransmission)."""
    state = {"seen": 0, "dropped": 0}

    def keep(data: bytes) -> bool:
        b1 = parse_header(data)[0]
        if (b1 & 0x7F) not in pts:
            return True
        state["seen"] += 1
        if state["seen"] % n == 0:
            state["dropped"] += 1
            return False
        return True

    return keep, state


async def test_loss_repaired_by_nack_and_rtx(harness: Harness) -> None:
    a = await harness.join("a")
    b = await harness.join("b")
    await a.publish(("video", PatternVideoTrack(640, 480, FPS)))
    harness.router.subscribe("b", "a", "video")
    await harness.settle()
    assert await wait_for(lambda: (s := b.stats_for("a", "video")) is not None and s.frames >= 5, 15)

    # downlink SFU -> b: every 8th VP8 packet lost; uplink a -> SFU: every 11th
    down_keep, down = every_nth(8, payload_type(b, "video/VP8"))
    up_keep, up = every_nth(11, payload_type(a, "video/VP8"))
    tap_incoming_rtp(b, down_keep)
    drop_outgoing_rtp(a, up_keep)
    before = {
        k: metric(f"rtk_sfu_{k}_total")
        for k in (
            "nacks_received",
            "rtx_packets_sent",
            "rtx_packets_received",
            "plis_received",
            "plis_sent",
            "nack_misses",
        )
    }
    frames0 = b.stats_for("a", "video").frames
    window = 5.0
    await asyncio.sleep(window)
    frames = b.stats_for("a", "video").frames - frames0
    delta = {k: metric(f"rtk_sfu_{k}_total") - v for k, v in before.items()}
    print(
        f"loss: down dropped {down['dropped']}/{down['seen']}, up dropped {up['dropped']}/{up['seen']}; "
        f"decoded {frames} frames in {window}s; sfu {delta}"
    )

    assert down["dropped"] >= 10 and up["dropped"] >= 5
    # the subscriber NACKed the SFU, which answered from its per-subscriber history with RTX
    assert delta["nacks_received"] >= down["dropped"]
    assert delta["rtx_packets_sent"] >= down["dropped"] * 0.8
    # the SFU NACKed the publisher (stock NACK generator kept alive) and forwarded the repairs
    assert delta["rtx_packets_received"] >= up["dropped"] * 0.8
    # video kept flowing at (nearly) full rate: repaired, not frozen waiting for keyframes
    assert frames >= FPS * window * 0.7
    # no PLI storm
    assert delta["plis_received"] <= 3
    assert delta["plis_sent"] <= 3
    assert b.stats_for("a", "video").sizes == {(640, 480)}
