"""Helpers of the browser tests (conftest modules are not importable by name)."""

# ruff: noqa: ASYNC109 - `timeout` is handed to the browser (Playwright waits), not an asyncio timeout

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from web_browser import Browser, Page

# The server's resume window in the web test stack (RTK_ORCHESTRATOR_RESUME_WINDOW_SECONDS): a
# dropped page resumes well within it; the "connection lost" test waits it out.
RESUME_WINDOW_SECONDS = 8

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
            // decoded samples with sound in them (not silence): energy accumulates over time
            if ((s.totalSamplesReceived || 0) > 0 && (s.packetsReceived || 0) > 10 && (s.totalAudioEnergy || 0) > 0) {
              result = {packets: s.packetsReceived, samples: s.totalSamplesReceived, energy: s.totalAudioEnergy};
            }
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


# -- what a user sees ----------------------------------------------------------------------------

def tile_selector(name: str, kind: str = "video") -> str:
    """CSS selector of the grid tile of participant `name` (a remote one: its label is the name)."""
    label = f"{name} (screen)" if kind == "screenshare" else name
    return f'rtk-grid rtk-participant-tile[data-kind="{kind}"][aria-label="{label}"]'


async def wait_tile(page: Page, name: str, kind: str = "video", timeout: float = 20.0, **data: str) -> None:
    """Wait until `page` shows `name`'s tile with the given data attributes (e.g.
    `audioEnabled="false"`)."""
    await page.wait_for(
        """({selector, data}) => {
          const tile = document.querySelector(selector);
          return !!tile && Object.entries(data).every(([k, v]) => tile.dataset[k] === v);
        }""",
        {"selector": tile_selector(name, kind), "data": data}, timeout=timeout)


async def open_panel(page: Page, label: str) -> None:
    """Open a side panel (Participants, Chat, Polls) with its control-bar button."""
    button = f'rtk-meeting footer >> role=button[name="{label}"]'
    if await page.attribute(button, "aria-expanded") != "true":
        await page.click(button)
    await page.wait(f'rtk-meeting aside section[data-panel="{label.lower()}"]')


# -- PNG ---------------------------------------------------------------------------------------

def read_png(data: bytes) -> tuple[int, int, list[bytes]]:
    """Decode an 8-bit, non-interlaced RGB or RGBA PNG (what Chromium's screenshots are) into
    (width, height, rows of RGB bytes). Pillow is not a dependency of the project."""
    import struct
    import zlib

    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, chunks, header = 8, [], None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            chunks.append(body)
        elif kind == b"IEND":
            break
    assert header is not None, "PNG without IHDR"
    width, height, depth, color, _, _, interlace = header
    assert depth == 8 and color in (2, 6) and interlace == 0, f"unsupported PNG {header}"
    bpp = 3 if color == 2 else 4
    raw = zlib.decompress(b"".join(chunks))
    stride = width * bpp
    rows: list[bytes] = []
    previous = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        for i in range(stride):
            left = line[i - bpp] if i >= bpp else 0
            up = previous[i]
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + ((left + up) >> 1)) & 0xFF
            elif kind == 4:
                upper_left = previous[i - bpp] if i >= bpp else 0
                p = left + up - upper_left
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - upper_left)
                predictor = left if pa <= pb and pa <= pc else up if pb <= pc else upper_left
                line[i] = (line[i] + predictor) & 0xFF
        previous = line
        rows.append(bytes(line) if bpp == 3 else bytes(b for j in range(0, stride, 4) for b in line[j:j + 3]))
    return width, height, rows


def image_stats(rows: list[bytes], box: tuple[int, int, int, int] | None = None) -> dict[str, float]:
    """Distinct colours and luminance standard deviation of the RGB rows (optionally a box
    x, y, width, height), sampled every other pixel."""
    x0, y0, w, h = box or (0, 0, len(rows[0]) // 3, len(rows))
    colors: set[bytes] = set()
    lum: list[float] = []
    for y in range(max(0, y0), min(len(rows), y0 + h), 2):
        row = rows[y]
        for x in range(max(0, x0), min(len(row) // 3, x0 + w), 2):
            r, g, b = row[3 * x:3 * x + 3]
            colors.add(bytes((r, g, b)))
            lum.append(0.299 * r + 0.587 * g + 0.114 * b)
    mean = sum(lum) / max(1, len(lum))
    variance = sum((v - mean) ** 2 for v in lum) / max(1, len(lum))
    return {"colors": len(colors), "stddev": variance ** 0.5, "mean": mean, "pixels": len(lum)}
