"""Name labels and avatar tiles for the composite (media/composite.py), drawn with Pillow's
built-in scalable font (`ImageFont.load_default(size)`, FreeType; no font file, nothing fetched).

Everything is rendered once per (text, size) and cached as yuv420p planes:

* `Label`: the name, white, on a translucent dark rounded band (as RealtimeKit's name tag),
  kept as a per-pixel weight `k` and a premultiplied colour `c` (both ×256) so that drawing it
  on a frame is one small integer blend: `out = (out * k + c) >> 8`.
* `avatar()`: a tile for a participant without a picture: the initials large and white on a
  disc whose colour follows the name, on the dark tile background.

Names in scripts the default font lacks (it covers Latin, Greek and Cyrillic) show as boxes.
"""

from __future__ import annotations

import zlib
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

BAND_ALPHA = 0.7  # the label band's opacity
BAND_Y, TEXT_Y = 16, 235  # video-range luma of the band (black) and the text (white)
TILE_RGB = (38, 38, 42)  # avatar tile background (RealtimeKit's dark theme)
# Disc colours: saturated and dark enough (luma ≤ ~120) for white initials to stand out.
PALETTE = ((37, 99, 235), (124, 58, 237), (190, 24, 93), (194, 65, 12), (21, 128, 61), (14, 116, 144),
           (161, 98, 7), (79, 70, 229))
MIN_FONT, MAX_FONT = 11, 24


def font_size(tile_height: int) -> int:
    """Label font size for a tile whose 16:9 height is `tile_height`: 24 px for a full 720p tile,
    11 px (still legible after H.264) from 4×4 tiles at 720p on."""
    return max(MIN_FONT, min(MAX_FONT, tile_height // 16))


@lru_cache(maxsize=64)
def font(size: int) -> Any:
    return ImageFont.load_default(size=size)


def initials(name: str) -> str:
    """"Ada Lovelace" → "AL", "ada" → "A", "" → "?" (words starting with a letter first)."""
    words = name.replace("_", " ").split()
    words = [w for w in words if w[:1].isalpha()] or [w for w in words if w[:1].isalnum()]
    if not words:
        return "?"
    first = words[0][0]
    return (first + words[-1][0] if len(words) > 1 else first).upper()


def _even(n: int) -> int:
    return (n + 1) // 2 * 2


def _fit(text: str, fnt: Any, width: int) -> str:
    if fnt.getlength(text) <= width:
        return text
    while text and fnt.getlength(text + "…") > width:
        text = text[:-1]
    return text.rstrip() + "…" if text.strip() else ""


@dataclass
class Label:
    width: int
    height: int
    margin: int  # from the picture's left and bottom edges
    k_y: Any  # uint16 weights of the frame underneath, ×256
    c_y: Any  # uint16 premultiplied label luma, ×256
    k_c: Any  # the same at chroma resolution (neutral chroma: c = 128 × (256 − k))
    c_c: Any

    def __post_init__(self) -> None:
        self._ty = np.empty_like(self.k_y)  # scratch buffers: no allocation per frame
        self._tc = np.empty_like(self.k_c)

    def blend(self, Y: Any, U: Any, V: Any, x: int, y: int) -> None:  # noqa: N803 - plane names
        h, w = self.height, self.width
        self._mix(Y[y: y + h, x: x + w], self.k_y, self.c_y, self._ty)
        cy, cx, ch, cw = y // 2, x // 2, h // 2, w // 2
        self._mix(U[cy: cy + ch, cx: cx + cw], self.k_c, self.c_c, self._tc)
        self._mix(V[cy: cy + ch, cx: cx + cw], self.k_c, self.c_c, self._tc)

    @staticmethod
    def _mix(region: Any, k: Any, c: Any, tmp: Any) -> None:
        np.multiply(region, k, out=tmp)
        tmp += c
        tmp >>= 8
        region[...] = tmp


def render_label(text: str, size: int, max_width: int, max_height: int) -> Label | None:
    """`text` in a band at most `max_width` wide (the picture's width); None when the picture is
    too small for a legible label or the text is empty."""
    fnt = font(size)
    pad = max(3, round(size * 0.45))
    margin = _even(max(2, round(size * 0.4)))
    height = _even(round(size * 1.5))
    room = max_width - 2 * margin - 2 * pad
    if not text or room < size * 2 or height + 2 * margin > max_height // 2:
        return None
    text = _fit(text, fnt, room)
    if not text:
        return None
    width = _even(round(fnt.getlength(text)) + 2 * pad)
    band = Image.new("L", (width, height), 0)
    ImageDraw.Draw(band).rounded_rectangle((0, 0, width - 1, height - 1), radius=max(2, height // 4),
                                           fill=round(255 * BAND_ALPHA))
    glyphs = Image.new("L", (width, height), 0)
    ImageDraw.Draw(glyphs).text((pad, height / 2), text, fill=255, font=fnt, anchor="lm")
    b = np.asarray(band, np.float32) / 255
    t = np.asarray(glyphs, np.float32) / 255
    keep = (1 - b) * (1 - t)  # band over the frame, text over the band
    colour = BAND_Y * b * (1 - t) + TEXT_Y * t
    k_c = keep.reshape(height // 2, 2, width // 2, 2).mean(axis=(1, 3))
    return Label(width=width, height=height, margin=margin,
                 k_y=np.round(keep * 256).astype(np.uint16), c_y=np.round(colour * 256).astype(np.uint16),
                 k_c=np.round(k_c * 256).astype(np.uint16), c_c=np.round(128 * (1 - k_c) * 256).astype(np.uint16))


def render_avatar(name: str, width: int, height: int) -> tuple[Any, Any, Any]:
    """yuv420p planes (Y, U, V) of a `width`×`height` avatar tile (even sizes)."""
    import av

    image = Image.new("RGB", (width, height), TILE_RGB)
    draw = ImageDraw.Draw(image)
    d = max(8, round(min(width, height) * 0.42))
    cx, cy = width / 2, height / 2
    colour = PALETTE[zlib.crc32(name.encode()) % len(PALETTE)]
    draw.ellipse((cx - d / 2, cy - d / 2, cx + d / 2, cy + d / 2), fill=colour)
    text = initials(name)
    size = max(8, round(d * (0.42 if len(text) > 1 else 0.5)))
    draw.text((cx, cy), text, fill=(255, 255, 255), font=font(size), anchor="mm",
              stroke_width=max(1, size // 28), stroke_fill=(255, 255, 255))
    frame = av.VideoFrame.from_ndarray(np.asarray(image), format="rgb24").reformat(format="yuv420p")
    planes = []
    for plane in frame.planes:
        arr = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)[:, : plane.width]
        planes.append(arr.copy())
    return planes[0], planes[1], planes[2]


class LabelCache:
    """Rendered labels and avatars, least recently used dropped beyond `limit` entries."""

    def __init__(self, limit: int = 256, avatars: int = 32) -> None:
        self.limit, self.avatar_limit = limit, avatars  # an avatar is a tile's worth of planes
        self._labels: OrderedDict[tuple, Label | None] = OrderedDict()
        self._avatars: OrderedDict[tuple, tuple[Any, Any, Any]] = OrderedDict()
        self.rendered = 0  # labels and avatars drawn (not served from the cache)

    def _get(self, cache: OrderedDict, key: tuple, make: Any, limit: int) -> Any:
        if key in cache:
            cache.move_to_end(key)
            return cache[key]
        value = cache[key] = make()
        self.rendered += 1
        if len(cache) > limit:
            cache.popitem(last=False)
        return value

    def label(self, text: str, size: int, max_width: int, max_height: int) -> Label | None:
        return self._get(self._labels, (text, size, max_width, max_height),
                         lambda: render_label(text, size, max_width, max_height), self.limit)

    def avatar(self, name: str, width: int, height: int) -> tuple[Any, Any, Any]:
        return self._get(self._avatars, (name, width, height), lambda: render_avatar(name, width, height),
                         self.avatar_limit)
