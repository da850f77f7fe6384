"""Helpers of the browser tests (conftest modules are not importable by name)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from web_browser import Browser, Page

JOIN_BUTTON = 'role=button[name="Join meeting"]'


def meeting_url(stack: Any, token: str, **query: str) -> str:
    extra = "".join(f"&{k}={quote(v)}" for k, v in query.items())
    return f"{stack.gateway_url}/meeting?authToken={quote(token)}{extra}"


async def open_meeting(browser: Browser, pages: list[Page], stack: Any, name: str, token: str, *,
                       join: bool = True, expect: str = "joined", **query: str) -> Page:
    """Open the meeting page as `name`, click "Join meeting", wait for room state `expect`."""
    page = await browser.open(name, meeting_url(stack, token, **query))
    pages.append(page)
    await page.wait(JOIN_BUTTON, timeout=20)
    if join:
        await page.click(JOIN_BUTTON)
        await page.wait_for("(s) => window.meeting && window.meeting.self.roomState === s", expect, timeout=20)
    return page


async def wait_participants(page: Page, count: int, timeout: float = 15.0) -> None:
    await page.wait_for("(n) => window.meeting.participants.joined.size === n", count, timeout=timeout)


# JS: stats of the inbound RTP streams of every peer connection of the SDK, by kind.
INBOUND_STATS = """async () => {
  const media = window.meeting._media;
  const out = [];
  for (const pc of (media ? media.peerConnections() : [])) {
    const stats = await pc.getStats();
    stats.forEach((s) => {
      if (s.type === 'inbound-rtp') out.push({kind: s.kind, trackIdentifier: s.trackIdentifier, mid: s.mid,
        framesDecoded: s.framesDecoded || 0, frameWidth: s.frameWidth || 0, frameHeight: s.frameHeight || 0,
        packetsReceived: s.packetsReceived || 0, bytesReceived: s.bytesReceived || 0,
        totalSamplesReceived: s.totalSamplesReceived || 0, audioLevel: s.audioLevel || 0});
    });
  }
  return out;
}"""


def peer_video_decoded_js() -> str:
    """JS predicate: the remote participant `peerName`'s camera track is decoding frames."""
    return """async ({peerName, kind, minFrames}) => {
      const m = window.meeting;
      const p = m.participants.joined.toArray().find((x) => x.name === peerName);
      if (!p) return false;
      const track = kind === 'screenshare' ? p.screenShareTracks.video : kind === 'audio' ? p.audioTrack : p.videoTrack;
      if (!track) return false;
      for (const pc of m._media.peerConnections()) {
        const receiver = pc.getReceivers().find((r) => r.track === track);
        if (!receiver) continue;
        const stats = await receiver.getStats();
        let result = false;
        stats.forEach((s) => {
          if (s.type !== 'inbound-rtp') return;
          if (kind === 'audio') {
            if ((s.totalSamplesReceived || 0) > 0 && (s.packetsReceived || 0) > 10) result = {packets: s.packetsReceived, samples: s.totalSamplesReceived, level: s.audioLevel || 0};
          } else if ((s.framesDecoded || 0) >= minFrames && s.frameWidth > 0) {
            result = {framesDecoded: s.framesDecoded, width: s.frameWidth, height: s.frameHeight};
          }
        });
        if (result) return result;
      }
      return false;
    }"""


async def decoded(page: Page, peer_name: str, kind: str = "video", min_frames: int = 10,
                  timeout: float = 30.0) -> dict[str, Any]:
    """Wait until `page` decodes `peer_name`'s `kind` (video, audio or screenshare); the stats."""
    return await page.wait_for(peer_video_decoded_js(), {"peerName": peer_name, "kind": kind, "minFrames": min_frames},
                               timeout=timeout, polling=250)
