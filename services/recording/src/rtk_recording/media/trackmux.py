"""Per-track files without transcoding: encoded frames straight into a container (PyAV mux).

| Codec | Container | MIME |
|---|---|---|
| Opus | WebM (audio only) | audio/webm |
| VP8, VP9 | WebM | video/webm |
| H.264 | MP4 (Annex B in, avcC written by the muxer) | video/mp4 |

Timestamps are the recording timeline's (media/clock.py) shifted so that the file starts at 0;
where the file starts on the timeline is `TrackFileInfo.start_offset_seconds` (stored with the
recording's files, for whoever lines the tracks up again); gaps (a muted or stalled publisher) stay gaps, paused intervals are not on the timeline at all.
Video starts at a key frame; frames that would go backwards in time are dropped.
"""

from __future__ import annotations

import fractions
import struct
from dataclasses import dataclass
from pathlib import Path

import av

MS = fractions.Fraction(1, 1000)

CONTAINERS: dict[str, tuple[str, str, str]] = {
    # codec → (ffmpeg format, extension, MIME type)
    "opus": ("webm", "webm", "audio/webm"),
    "vp8": ("webm", "webm", "video/webm"),
    "vp9": ("webm", "webm", "video/webm"),
    "h264": ("mp4", "mp4", "video/mp4"),
}


def opus_head(channels: int = 2, rate: int = 48000, pre_skip: int = 312) -> bytes:
    """RFC 7845 §5.1 identification header (the codec private data of Opus in WebM/Ogg)."""
    return b"OpusHead" + struct.pack("<BBHIhB", 1, channels, pre_skip, rate, 0, 0)


def probe_dimensions(codec: str, data: bytes) -> tuple[int, int]:
    """Width and height of a key frame (decoded once; (0, 0) when it cannot be decoded)."""
    if codec == "vp8" and len(data) >= 10 and data[3:6] == b"\x9d\x01\x2a":
        return struct.unpack("<H", data[6:8])[0] & 0x3FFF, struct.unpack("<H", data[8:10])[0] & 0x3FFF
    try:
        decoder = av.CodecContext.create(codec, "r")
        for frame in decoder.decode(av.Packet(data)):
            return frame.width, frame.height
    except (av.FFmpegError, ValueError):
        pass
    return 0, 0


def extension_for(codec: str) -> str:
    return CONTAINERS[codec][1]


@dataclass
class TrackFileInfo:
    path: Path
    codec: str
    content_type: str
    size_bytes: int
    duration_seconds: float
    frames: int
    start_offset_seconds: float = 0.0  # the first frame's position on the recording timeline


class TrackWriter:
    """One track → one file. `write()` is cheap (a packet copy); call `close()` at the end."""

    def __init__(self, path: Path, codec: str, *, width: int = 0, height: int = 0) -> None:
        if codec not in CONTAINERS:
            raise ValueError(f"cannot record codec {codec!r}")
        self.path = Path(path)
        self.codec = codec
        self.kind = "audio" if codec == "opus" else "video"
        self._width, self._height = width, height
        self._container: av.container.OutputContainer | None = None
        self._stream = None
        self._origin: float | None = None
        self._last_ms = -1
        self.frames = 0
        self._end_ms = 0

    def _open(self) -> None:
        fmt, _, _ = CONTAINERS[self.codec]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        container = av.open(str(self.path), "w", format=fmt)
        if self.codec == "opus":
            stream = container.add_stream("opus", rate=48000)
            stream.codec_context.extradata = opus_head()
            stream.codec_context.layout = "stereo"
        else:
            stream = container.add_stream(self.codec)
            stream.width = self._width or 640
            stream.height = self._height or 480
            stream.pix_fmt = "yuv420p"
        stream.time_base = MS
        self._container, self._stream = container, stream

    @property
    def started(self) -> bool:
        return self._origin is not None

    def write(self, data: bytes, pts: float, *, keyframe: bool = True, duration: float = 0.0) -> bool:
        """Add one encoded frame at timeline second `pts`; False when it was dropped."""
        if self._origin is None:
            if self.kind == "video" and not keyframe:
                return False
            self._origin = pts
            if self.kind == "video" and not (self._width and self._height):
                self._width, self._height = probe_dimensions(self.codec, data)
            self._open()
        ms = round((pts - self._origin) * 1000)
        if ms <= self._last_ms:
            if self.kind == "video" or ms < self._last_ms:
                return False
            ms = self._last_ms + 1
        packet = av.Packet(data)
        packet.stream = self._stream
        packet.pts = packet.dts = ms
        packet.time_base = MS
        if duration:
            packet.duration = max(1, round(duration * 1000))
        if keyframe:
            packet.is_keyframe = True
        assert self._container is not None
        self._container.mux(packet)
        step = round(duration * 1000) if duration else (ms - self._last_ms if self._last_ms >= 0 else 0)
        self._last_ms = ms
        self._end_ms = ms + step
        self.frames += 1
        return True

    def close(self) -> TrackFileInfo | None:
        """Finish the file; None when nothing was ever written (no file exists then)."""
        if self._container is None:
            return None
        self._container.close()
        self._container = None
        return TrackFileInfo(path=self.path, codec=self.codec, content_type=CONTAINERS[self.codec][2],
                             size_bytes=self.path.stat().st_size, duration_seconds=self._end_ms / 1000,
                             frames=self.frames, start_offset_seconds=self._origin or 0.0)
