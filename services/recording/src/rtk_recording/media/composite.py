"""Composite recording: a grid of every video track plus the mixed audio, encoded in a separate
process so that decoding, scaling, mixing and encoding never run on the recorder's event loop
(which keeps receiving, and forwarding to per-track muxers, while the encoder works).

    comp = CompositeProcess(config); comp.start()
    comp.add_participant(peer_id, name); comp.add_track(key, "video", name, screen)
    comp.frame(key, codec, pts, data, keyframe); comp.tick(pos)
    result = await comp.stop(pos)     # {"files": [...], "duration": s, "frames": n}

| video_config.codec | Main file | Audio export |
|---|---|---|
| H264 (default) | MP4, H.264 (libx264) + AAC | `.m4a` (AAC) |
| VP8 | WebM, VP8 (libvpx) + Opus | `.ogg` (Opus) |
| VP9 | WebM, VP9 (libvpx-vp9) + Opus | `.ogg` (Opus) |

Layout: a grid of equal tiles (√n columns, pictures letterboxed); when someone shares their
screen, the screenshare takes the left three quarters and the cameras a column on the right
(`Compositor._layout`). Every tile carries its participant's name at the bottom left (white on a
translucent dark band; a screenshare "<name> (screen)"), and a participant without a camera
picture — microphone only, a camera that has no picture yet, or no track at all (present:
`add_participant`, as RealtimeKit shows every visible participant) — gets an avatar tile: their
initials large on a coloured disc (`media/labels.py`; the track key's part before the last ':'
is the participant, as in `peer_id:label`, so a present participant's tracks share their tile).
Labels and avatars are rendered once per (text, size) with Pillow's built-in font and cached;
per output frame only a small alpha blend remains.

Timing: the parent sends encoded frames stamped on the recording timeline (media/clock.py) and a
`tick(position)` about ten times a second; the child renders output up to `position - latency`
(so frames still in flight are not missed) and everything at `stop`. Video is constant frame
rate: each output frame shows every track's latest decoded picture at that instant. Audio
frames are mixed at their timeline position (small jitter is absorbed by keeping each track's
samples contiguous); silence fills the rest. Paused intervals are not on the timeline, so the
output has no frozen or silent gap for them.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import math
import multiprocessing as mp
import os
import queue
import threading
import time
from collections import OrderedDict, deque
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

RATE = 48000

# codec → (main format, main ext, audio codec, audio-file format, audio-file ext, main MIME, audio MIME)
LAYOUTS: dict[str, tuple[str, str, str, str, str, str, str]] = {
    "h264": ("mp4", "mp4", "aac", "mp4", "m4a", "video/mp4", "audio/mp4"),
    "vp8": ("webm", "webm", "libopus", "ogg", "ogg", "video/webm", "audio/ogg"),
    "vp9": ("webm", "webm", "libopus", "ogg", "ogg", "video/webm", "audio/ogg"),
}
_ENCODERS = {"h264": "libx264", "vp8": "libvpx", "vp9": "libvpx-vp9"}
_STREAM_CODEC = {"h264": "h264", "vp8": "vp8", "vp9": "vp9", "aac": "aac", "libopus": "opus"}


@dataclass(frozen=True)
class CompositeConfig:
    directory: str
    base_name: str
    video_codec: str = "h264"
    width: int = 1280
    height: int = 720
    fps: int = 15
    audio_export: bool = True
    mono: bool = False
    latency: float = 0.6
    x264_preset: str = "superfast"
    video_bitrate: int = 0  # 0: derived from the frame size

    def normalized(self) -> CompositeConfig:
        w = max(64, min(1920, self.width)) // 2 * 2  # any even size: libx264/libvpx pad internally
        h = max(64, min(1920, self.height)) // 2 * 2
        codec = self.video_codec if self.video_codec in LAYOUTS else "h264"
        return CompositeConfig(**{**asdict(self), "width": w, "height": h, "video_codec": codec,
                                  "fps": max(1, min(60, self.fps))})


@dataclass
class _VideoTrack:
    name: str
    decoder: Any
    screen: bool = False
    pending: deque = field(default_factory=deque)
    current: Any = None
    cache_key: tuple | None = None
    cache: tuple | None = None
    needs_key: bool = True


@dataclass
class _AudioTrack:
    name: str
    decoder: Any
    resampler: Any
    next_pos: int | None = None
    screen: bool = False  # screenshare audio: no tile of its own


@dataclass(frozen=True)
class _Avatar:
    """A tile for a participant without a picture: their initials (and name label)."""

    name: str


def _peer(key: str) -> str:
    return key.rpartition(":")[0] or key


def _planes(frame: Any) -> list[Any]:
    import numpy as np

    out = []
    for plane in frame.planes:
        arr = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)[:, : plane.width]
        out.append(arr)
    return out


class Compositor:
    """Runs inside the child process (also usable in-process by tests and benchmarks)."""

    def __init__(self, config: CompositeConfig) -> None:
        import av
        import numpy as np

        from rtk_recording.media import labels

        self.av, self.np, self.labels = av, np, labels
        self.cfg = config = config.normalized()
        fmt, ext, acodec, afmt, aext, self.mime, self.audio_mime = LAYOUTS[config.video_codec]
        directory = Path(config.directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / f"{config.base_name}.{ext}"
        self.audio_path = directory / f"{config.base_name}_audio.{aext}" if config.audio_export else None
        self.W, self.H, self.fps = config.width, config.height, config.fps
        layout = "mono" if config.mono else "stereo"
        self.channels = 1 if config.mono else 2

        venc = av.CodecContext.create(_ENCODERS[config.video_codec], "w")
        venc.width, venc.height, venc.pix_fmt = self.W, self.H, "yuv420p"
        venc.time_base = fractions.Fraction(1, self.fps)
        venc.framerate = fractions.Fraction(self.fps, 1)
        venc.gop_size = self.fps * 2
        venc.bit_rate = config.video_bitrate or int(self.W * self.H * self.fps * 0.1)
        if config.video_codec == "h264":
            venc.options = {"preset": config.x264_preset, "tune": "zerolatency"}
        else:
            venc.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0",
                            **({"row-mt": "1"} if config.video_codec == "vp9" else {})}
        venc.open()
        self.venc = venc
        aenc = av.CodecContext.create(acodec, "w")
        aenc.sample_rate, aenc.layout = RATE, layout
        aenc.format = "fltp" if acodec == "aac" else "flt"
        aenc.time_base = fractions.Fraction(1, RATE)
        aenc.bit_rate = 128_000 if self.channels == 2 else 64_000
        aenc.flags |= av.codec.context.Flags.global_header
        aenc.open()
        self.aenc = aenc
        self.frame_size = aenc.frame_size or 960

        self.out = av.open(str(self.path), "w", format=fmt,
                           options={"movflags": "+faststart"} if fmt == "mp4" else {})
        self.vstream = self.out.add_stream(_STREAM_CODEC[config.video_codec], rate=self.fps)
        self.vstream.width, self.vstream.height, self.vstream.pix_fmt = self.W, self.H, "yuv420p"
        self.vstream.time_base = venc.time_base
        self.astream = self._audio_stream(self.out, acodec, layout)
        self.aout = None
        self.aout_stream = None
        if self.audio_path is not None:
            self.aout = av.open(str(self.audio_path), "w", format=afmt)
            self.aout_stream = self._audio_stream(self.aout, acodec, layout)

        self.videos: OrderedDict[str, _VideoTrack] = OrderedDict()
        self.audios: dict[str, _AudioTrack] = {}
        self.order: dict[str, int] = {}  # participant → position in the grid (first seen)
        self.present: dict[str, str] = {}  # participant (peer id) → name: joined, tracks or not
        self._seq = 0
        self._labels = labels.LabelCache()
        self.blocks: dict[int, Any] = {}  # audio block index → (channels, frame_size) float32
        self.video_index = 0
        self.audio_block = 0
        self.rendered = 0.0
        self.video_packets = 0
        self.audio_packets = 0
        self._last_frame: Any = None
        self._dirty = True
        self.Y = np.full((self.H, self.W), 16, np.uint8)
        self.U = np.full((self.H // 2, self.W // 2), 128, np.uint8)
        self.V = np.full((self.H // 2, self.W // 2), 128, np.uint8)

    def _audio_stream(self, container: Any, acodec: str, layout: str) -> Any:
        stream = container.add_stream(_STREAM_CODEC[acodec], rate=RATE)
        stream.codec_context.extradata = self.aenc.extradata
        stream.codec_context.layout = layout
        stream.time_base = fractions.Fraction(1, RATE)
        return stream

    # -- input ------------------------------------------------------------------------------
    def add_track(self, key: str, kind: str, name: str = "", screen: bool = False) -> None:
        """`screen`: a screenshare's video or audio (an audio track without it is a microphone,
        which gives its participant an avatar tile while they have no camera track)."""
        av = self.av
        if kind == "video":
            if key not in self.videos:
                self.videos[key] = _VideoTrack(name=name, decoder=None, screen=screen)
                self._dirty = True
        elif key not in self.audios:
            layout = "mono" if self.channels == 1 else "stereo"
            self.audios[key] = _AudioTrack(name=name, decoder=None, screen=screen,
                                           resampler=av.AudioResampler(format="fltp", layout=layout, rate=RATE))
            self._dirty = True
        else:
            return
        self._place_peer(_peer(key))

    def _place_peer(self, peer: str) -> None:
        if peer not in self.order:
            self.order[peer] = self._seq
            self._seq += 1

    def _forget_peer(self, peer: str) -> None:
        if peer not in self.present and not any(_peer(k) == peer for k in (*self.videos, *self.audios)):
            self.order.pop(peer, None)

    def add_participant(self, peer_id: str, name: str = "") -> None:
        """A visible participant of the session: a tile (an avatar until they have a camera
        picture) whether or not they publish anything, until `remove_participant`."""
        if self.present.get(peer_id) != name:
            self.present[peer_id] = name
            self._dirty = True
        self._place_peer(peer_id)

    def remove_participant(self, peer_id: str) -> None:
        if self.present.pop(peer_id, None) is not None:
            self._dirty = True
        self._forget_peer(peer_id)

    def remove_track(self, key: str) -> None:
        if self.videos.pop(key, None) is not None or self.audios.pop(key, None) is not None:
            self._dirty = True
        self._forget_peer(_peer(key))

    def frame(self, key: str, codec: str, pts: float, data: bytes, keyframe: bool) -> None:
        av = self.av
        video = self.videos.get(key)
        if video is not None:
            if video.needs_key and not keyframe:
                return
            if video.decoder is None or video.decoder.name != codec:
                video.decoder = av.CodecContext.create(codec, "r")
            try:
                frames = video.decoder.decode(av.Packet(data))
            except av.FFmpegError:
                video.needs_key = True
                return
            video.needs_key = False
            for decoded in frames:
                video.pending.append((pts, decoded))
            while len(video.pending) > 60:  # far behind the output clock: keep the newest
                video.pending.popleft()
            return
        audio = self.audios.get(key)
        if audio is None:
            return
        if audio.decoder is None:
            audio.decoder = av.CodecContext.create(codec, "r")
        try:
            frames = audio.decoder.decode(av.Packet(data))
        except av.FFmpegError:
            return
        for decoded in frames:
            for resampled in audio.resampler.resample(decoded):
                self._place(audio, pts, resampled.to_ndarray())
                pts += resampled.samples / RATE

    def _place(self, track: _AudioTrack, pts: float, samples: Any) -> None:
        n = samples.shape[1]
        pos = round(pts * RATE)
        if track.next_pos is not None and abs(pos - track.next_pos) <= self.frame_size:
            pos = track.next_pos  # absorb jitter: keep the track contiguous
        track.next_pos = pos + n
        start = self.audio_block * self.frame_size
        if pos < start:  # too late for the part already encoded
            cut = start - pos
            if cut >= n:
                return
            samples, pos, n = samples[:, cut:], start, n - cut
        fs = self.frame_size
        i = 0
        while i < n:
            block, offset = divmod(pos + i, fs)
            take = min(fs - offset, n - i)
            buf = self.blocks.get(block)
            if buf is None:
                buf = self.blocks[block] = self.np.zeros((self.channels, fs), self.np.float32)
            buf[:, offset: offset + take] += samples[:, i: i + take]
            i += take

    # -- output -----------------------------------------------------------------------------
    def render(self, until: float) -> None:
        """Encode everything up to timeline second `until`."""
        if until <= self.rendered:
            return
        while self.video_index / self.fps < until:
            self._render_video(self.video_index / self.fps)
            self.video_index += 1
        fs = self.frame_size
        last_block = math.floor(until * RATE / fs)
        while self.audio_block < last_block:
            self._render_audio()
        self.rendered = until

    @staticmethod
    def _grid(n: int, x0: int, y0: int, w: int, h: int) -> list[tuple[int, int, int, int]]:
        """`n` equal cells (√n columns) filling the box at (x0, y0) of size w×h."""
        cols = math.ceil(math.sqrt(n))
        rows = math.ceil(n / cols)
        cw, ch = w // cols // 2 * 2, h // rows // 2 * 2
        return [(x0 + (i % cols) * cw, y0 + (i // cols) * ch, cw, ch) for i in range(n)]

    def _participants(self) -> list[_VideoTrack | _Avatar]:
        """One tile per participant, in the order they appeared: their camera, or (camera track
        without a picture yet, only a microphone, or present without any track) an avatar."""
        tiles: list[tuple[int, int, _VideoTrack | _Avatar]] = []
        with_camera = set()
        for key, track in self.videos.items():
            if not track.screen:
                with_camera.add(_peer(key))
                tiles.append((self.order.get(_peer(key), 0), len(tiles),
                              track if track.current is not None else _Avatar(track.name)))
        for key, audio in self.audios.items():
            peer = _peer(key)
            if not audio.screen and peer not in with_camera:
                with_camera.add(peer)
                tiles.append((self.order.get(peer, 0), len(tiles), _Avatar(audio.name or self.present.get(peer, ""))))
        for peer, name in self.present.items():
            if peer not in with_camera:
                tiles.append((self.order.get(peer, 0), len(tiles), _Avatar(name)))
        return [tile for _, _, tile in sorted(tiles, key=lambda t: t[:2])]

    def _layout(self) -> list[tuple[tuple[int, int, int, int], _VideoTrack | _Avatar]]:
        """Where each tile goes. Without a screenshare: a grid of equal tiles. With one:
        the screenshare(s) take the main area (the left three quarters; all of it when nobody
        else has a tile) and the participants a column of tiles on the right, as RealtimeKit's
        recording layout gives a screenshare prominence. A screenshare counts from its first
        picture on, so that starting one does not blank the main area while it connects."""
        screens = [t for t in self.videos.values() if t.screen and t.current is not None]
        cameras = self._participants()
        if not screens or not cameras:
            tracks = screens or cameras
            return list(zip(self._grid(len(tracks), 0, 0, self.W, self.H), tracks, strict=True)) if tracks else []
        main_w = self.W * 3 // 4 // 2 * 2
        strip_w = self.W - main_w
        rows = min(len(cameras), 4)
        cols = math.ceil(len(cameras) / rows)
        cw, ch = strip_w // cols // 2 * 2, self.H // rows // 2 * 2
        strip = [(main_w + (i // rows) * cw, (i % rows) * ch, cw, ch) for i in range(len(cameras))]
        return [*zip(self._grid(len(screens), 0, 0, main_w, self.H), screens, strict=True),
                *zip(strip, cameras, strict=True)]

    def _render_video(self, t: float) -> None:
        av, np = self.av, self.np
        for track in self.videos.values():
            while track.pending and track.pending[0][0] <= t:
                _, track.current = track.pending.popleft()
                self._dirty = True
        if self._dirty or self._last_frame is None:
            self.Y.fill(16)
            self.U.fill(128)
            self.V.fill(128)
            for (x, y, cw, ch), track in self._layout():
                if isinstance(track, _Avatar):
                    self._draw_avatar(track.name, x, y, cw, ch)
                    continue
                src = track.current
                scale = min(cw / src.width, ch / src.height)
                w = max(2, int(src.width * scale) // 2 * 2)
                h = max(2, int(src.height * scale) // 2 * 2)
                key = (id(src), w, h)
                if track.cache_key != key:
                    track.cache = tuple(_planes(src.reformat(width=w, height=h, format="yuv420p")))
                    track.cache_key = key
                py, pu, pv = track.cache  # type: ignore[misc]
                ox = (x + (cw - w) // 2) // 2 * 2
                oy = (y + (ch - h) // 2) // 2 * 2
                self.Y[oy: oy + h, ox: ox + w] = py
                self.U[oy // 2: oy // 2 + h // 2, ox // 2: ox // 2 + w // 2] = pu
                self.V[oy // 2: oy // 2 + h // 2, ox // 2: ox // 2 + w // 2] = pv
                self._draw_label(f"{track.name} (screen)" if track.screen else track.name, ox, oy, w, h,
                                 min(ch, cw * 9 // 16))
            data = np.concatenate([self.Y.reshape(-1), self.U.reshape(-1), self.V.reshape(-1)])
            self._last_frame = av.VideoFrame.from_ndarray(data.reshape(self.H * 3 // 2, self.W), format="yuv420p")
            self._dirty = False
        frame = self._last_frame
        frame.pts = self.video_index
        frame.time_base = self.venc.time_base
        for packet in self.venc.encode(frame):
            self._mux_video(packet)

    def _draw_avatar(self, name: str, x: int, y: int, cw: int, ch: int) -> None:
        gap = max(2, min(cw, ch) // 80) // 2 * 2  # so that neighbouring avatars stay apart
        x, y, w, h = x + gap // 2 // 2 * 2, y + gap // 2 // 2 * 2, cw - gap, ch - gap
        if w < 8 or h < 8:
            return
        py, pu, pv = self._labels.avatar(name, w, h)
        self.Y[y: y + h, x: x + w] = py
        self.U[y // 2: y // 2 + h // 2, x // 2: x // 2 + w // 2] = pu
        self.V[y // 2: y // 2 + h // 2, x // 2: x // 2 + w // 2] = pv
        self._draw_label(name, x, y, w, h, min(ch, cw * 9 // 16))

    def _draw_label(self, text: str, x: int, y: int, w: int, h: int, scale: int) -> None:
        """`text` at the bottom left of the picture at (x, y) of size w×h (all even); `scale`:
        the tile's height at 16:9, which sets the font size (the same for equal tiles)."""
        label = self._labels.label(text, self.labels.font_size(scale), w, h)
        if label is None:
            return
        lx = x + label.margin
        ly = y + h - label.margin - label.height
        label.blend(self.Y, self.U, self.V, lx, ly)

    def _mux_video(self, packet: Any) -> None:
        packet.stream = self.vstream
        self.out.mux(packet)
        self.video_packets += 1

    def _render_audio(self) -> None:
        av, np = self.av, self.np
        fs = self.frame_size
        buf = self.blocks.pop(self.audio_block, None)
        if buf is None:
            buf = np.zeros((self.channels, fs), np.float32)
        np.clip(buf, -1.0, 1.0, out=buf)
        layout = "mono" if self.channels == 1 else "stereo"
        if self.aenc.format.name == "flt":
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(buf.T).reshape(1, -1), format="flt", layout=layout)
        else:
            frame = av.AudioFrame.from_ndarray(buf, format="fltp", layout=layout)
        frame.sample_rate = RATE
        frame.pts = self.audio_block * fs
        frame.time_base = fractions.Fraction(1, RATE)
        self.audio_block += 1
        for packet in self.aenc.encode(frame):
            self._mux_audio(packet)

    def _mux_audio(self, packet: Any) -> None:
        if self.aout is not None:
            copy = self.av.Packet(bytes(packet))
            copy.pts, copy.dts, copy.time_base = packet.pts, packet.dts, packet.time_base
            copy.duration = packet.duration
            copy.stream = self.aout_stream
            self.aout.mux(copy)
        packet.stream = self.astream
        self.out.mux(packet)
        self.audio_packets += 1

    def finish(self, until: float) -> dict[str, Any]:
        self.render(until)
        for packet in self.venc.encode(None):
            self._mux_video(packet)
        for packet in self.aenc.encode(None):
            self._mux_audio(packet)
        self.out.close()
        if self.aout is not None:
            self.aout.close()
        duration = self.video_index / self.fps
        files = [{"path": str(self.path), "kind": "composite", "content_type": self.mime,
                  "codec": f"{self.cfg.video_codec}+{'aac' if self.cfg.video_codec == 'h264' else 'opus'}",
                  "size_bytes": self.path.stat().st_size, "duration_seconds": duration}]
        if self.audio_path is not None:
            files.append({"path": str(self.audio_path), "kind": "audio", "content_type": self.audio_mime,
                          "codec": "aac" if self.cfg.video_codec == "h264" else "opus",
                          "size_bytes": self.audio_path.stat().st_size, "duration_seconds": duration})
        return {"files": files, "duration": duration, "video_frames": self.video_index,
                "audio_packets": self.audio_packets}


def _watch_parent(parent: int) -> None:
    """Exit at once when the recorder is gone (killed: nobody will stop us). A thread, so that it
    also works while the main loop is blocked — in the encoder, or reading a message the killed
    parent had half written into the queue's pipe."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(3)


def _child(config: CompositeConfig, inbox: Any, outbox: Any, processed: Any, parent: int) -> None:
    """Entry point of the compositor process. `parent` is the recorder's pid, passed in rather than
    read here: a recorder killed while this process was still starting would otherwise go
    unnoticed (the child would read its new parent's pid)."""
    threading.Thread(target=_watch_parent, args=(parent,), name="watch-parent", daemon=True).start()
    try:
        comp = Compositor(config)
        outbox.put(("ready", None))
        while True:
            try:
                msg = inbox.get(timeout=1.0)
            except queue.Empty:
                continue
            op = msg[0]
            if op == "frame":
                comp.frame(*msg[1:])
            elif op == "tick":
                comp.render(msg[1] - config.latency)
            elif op == "add":
                comp.add_track(*msg[1:])
            elif op == "remove":
                comp.remove_track(msg[1])
            elif op == "join":
                comp.add_participant(*msg[1:])
            elif op == "leave":
                comp.remove_participant(msg[1])
            elif op == "stop":
                outbox.put(("done", comp.finish(msg[1])))
                return
            processed.value += 1
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which errors the recording
        outbox.put(("error", f"{type(exc).__name__}: {exc}"))


class CompositeError(RuntimeError):
    pass


class CompositeProcess:
    """Parent side: never blocks the event loop (multiprocessing.Queue has a feeder thread)."""

    #: messages not yet handled by the child beyond which video frames are dropped
    MAX_BACKLOG = 900

    def __init__(self, config: CompositeConfig) -> None:
        self.config = config.normalized()
        ctx = mp.get_context("spawn")
        self._inbox = ctx.Queue()
        self._outbox = ctx.Queue()
        self._processed = ctx.RawValue("q", 0)
        self._sent = 0
        self.dropped = 0
        self._process = ctx.Process(target=_child, args=(self.config, self._inbox, self._outbox, self._processed,
                                                         os.getpid()),
                                    name=f"rtk-composite-{self.config.base_name}", daemon=True)
        self.pid: int | None = None
        self.failed: str | None = None

    def start(self) -> None:
        self._process.start()
        self.pid = self._process.pid

    @property
    def backlog(self) -> int:
        return self._sent - self._processed.value

    def _send(self, msg: tuple) -> None:
        if self.failed is None:
            self._inbox.put(msg)
            self._sent += 1

    def add_track(self, key: str, kind: str, name: str = "", screen: bool = False) -> None:
        self._send(("add", key, kind, name, screen))

    def remove_track(self, key: str) -> None:
        self._send(("remove", key))

    def add_participant(self, peer_id: str, name: str = "") -> None:
        self._send(("join", peer_id, name))

    def remove_participant(self, peer_id: str) -> None:
        self._send(("leave", peer_id))

    def frame(self, key: str, kind: str, codec: str, pts: float, data: bytes, keyframe: bool) -> bool:
        """False when a video frame was dropped because the encoder is behind (the caller then
        waits for the next key frame)."""
        if kind == "video" and self.backlog > self.MAX_BACKLOG:
            self.dropped += 1
            return False
        self._send(("frame", key, codec, pts, data, keyframe))
        return True

    def tick(self, position: float) -> None:
        self._poll_error()
        self._send(("tick", position))

    def _poll_error(self) -> None:
        with contextlib.suppress(queue.Empty):
            while True:
                op, payload = self._outbox.get_nowait()
                if op == "error":
                    self.failed = str(payload)
                    raise CompositeError(self.failed)

    async def stop(self, position: float, wait: float = 120.0) -> dict[str, Any]:
        """Render to `position`, close the files, return what was written."""
        if self.failed is None:
            self._inbox.put(("stop", position))
        loop = asyncio.get_running_loop()
        deadline = time.monotonic() + wait
        try:
            while True:
                if self.failed is not None:
                    raise CompositeError(self.failed)
                try:
                    op, payload = await loop.run_in_executor(None, self._outbox.get, True, 0.5)
                except queue.Empty:
                    if not self._process.is_alive():
                        raise CompositeError(f"compositor exited with code {self._process.exitcode}") from None
                    if time.monotonic() > deadline:
                        raise CompositeError("compositor did not finish in time") from None
                    continue
                if op == "done":
                    return payload
                if op == "error":
                    self.failed = str(payload)
        finally:
            await loop.run_in_executor(None, self._reap)

    def _reap(self) -> None:
        self._process.join(timeout=5)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(timeout=2)
        self._inbox.cancel_join_thread()
        self._inbox.close()
        self._outbox.close()

    def kill(self) -> None:
        if self._process.is_alive():
            self._process.kill()
        self._reap()
