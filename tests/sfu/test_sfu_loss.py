"""Packet loss between SDK peers and the SFU of the real stack is repaired by NACK + RTX, without
a PLI storm: video packets are dropped on the publisher's uplink (SDK → SFU) and on the
subscriber's downlink (SFU → SDK) inside the test process, just above the SDK's SRTP layer."""

from __future__ import annotations

import pytest
from aiortc.rtp import is_rtcp
from sfu_stack_helpers import VGA_VIDEO, joined, remote_track, sfu_metrics, until

pytestmark = pytest.mark.media

COUNTERS = ("nacks_received", "rtx_packets_sent", "rtx_packets_received", "plis_received", "plis_sent", "nack_misses")


class Loss:
    """Drops every n-th RTP packet of the given payload types while `active` (RTX is never
    dropped, so each loss is repairable by one retransmission)."""

    def __init__(self, n: int, payload_types: set[int]) -> None:
        self.n = n
        self.payload_types = payload_types
        self.active = True
        self.seen = 0
        self.dropped = 0

    def keep(self, data: bytes) -> bool:
        if not self.active or (data[1] & 0x7F) not in self.payload_types:
            return True
        self.seen += 1
        if self.seen % self.n == 0:
            self.dropped += 1
            return False
        return True


def _vp8_payload_types(pc) -> set[int]:
    return {c.payloadType for t in pc.getTransceivers() if t.kind == "video"
            for c in t._codecs if c.mimeType.lower() == "video/vp8"}


def _uplink_loss(pc, loss: Loss) -> None:
    """Drop outgoing RTP of `pc` (before SRTP); RTCP passes."""
    dtls = pc.getTransceivers()[0].sender.transport
    send = dtls._send_rtp

    async def lossy(data: bytes) -> None:
        if is_rtcp(data) or loss.keep(data):
            await send(data)

    dtls._send_rtp = lossy


def _downlink_loss(pc, loss: Loss) -> None:
    """Drop incoming RTP of `pc` (after SRTP), as if lost on the wire."""
    dtls = pc.getTransceivers()[0].receiver.transport
    handle = dtls._handle_rtp_data

    async def lossy(data: bytes, arrival_time_ms: int) -> None:
        if loss.keep(data):
            await handle(data, arrival_time_ms)

    dtls._handle_rtp_data = lossy


def _counters(stack) -> dict[str, float]:
    metrics = sfu_metrics(stack)
    return {k: metrics[f"rtk_sfu_{k}_total"] for k in COUNTERS}


async def test_loss_between_sdk_and_sfu_is_repaired_by_nack_and_rtx(stack, api, connect) -> None:
    meeting_id = await api.meeting()
    a = await joined(connect, await api.token(meeting_id), defaults=VGA_VIDEO)
    b = await joined(connect, await api.token(meeting_id))
    await a.self.enable_video()
    video = await remote_track(b, a.self.id, "video")
    await video.wait_for_frames(5, timeout=20)

    up = Loss(6, _vp8_payload_types(a._media._pub_pc))
    down = Loss(5, _vp8_payload_types(b._media._sub_pc))
    assert up.payload_types and down.payload_types
    before = _counters(stack)

    def delta() -> dict[str, float]:
        return {k: v - before[k] for k, v in _counters(stack).items()}

    frames_before = video.frames_decoded
    _uplink_loss(a._media._pub_pc, up)
    _downlink_loss(b._media._sub_pc, down)

    await until(lambda: up.dropped >= 5 and down.dropped >= 8, timeout=60)
    up.active = down.active = False
    # The subscriber NACKed the SFU, which answered with RTX from its per-subscriber history;
    # the SFU NACKed the publisher, whose RTX it forwarded.
    repaired = await until(lambda: (d := delta())["rtx_packets_sent"] >= down.dropped * 0.8
                           and d["rtx_packets_received"] >= up.dropped * 0.8 and d, timeout=20, interval=0.2)
    await video.wait_for_frames(video.frames_decoded + 5)  # still decoding after the last loss
    final = delta()
    print(f"\nloss: uplink dropped {up.dropped}/{up.seen}, downlink {down.dropped}/{down.seen}; "
          f"decoded {video.frames_decoded - frames_before} frames; sfu {final}")
    assert repaired["nacks_received"] >= down.dropped
    # Repaired, not recovered by keyframes: no PLI storm in either direction.
    assert final["plis_received"] <= 3 and final["plis_sent"] <= 3
    assert (video.width, video.height) == (640, 480)
