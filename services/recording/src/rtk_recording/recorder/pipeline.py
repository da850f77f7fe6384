"""From received tracks to files: one `Pipeline` per recording.

`add_track()` taps a remote track's aiortc receiver (media/tap.py); each encoded frame is put on
the recording timeline (`TrackTimer`) and then either muxed into that track's file (track
recordings) or sent to the compositor process (composite recordings). `add_peer()` gives a
visible participant a composite tile (an avatar) even while they publish nothing; track
recordings ignore it (no track, no file). Video waits for a key
frame at the start of a track, after a resume and after frames were dropped, asking the sender
for one (PLI) until it comes.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiortc import RTCRtpReceiver
from rtkit.logging import get_logger

from rtk_recording.media.clock import RecordingClock
from rtk_recording.media.composite import CompositeConfig, CompositeProcess
from rtk_recording.media.tap import EncodedFrame, EncodedTap
from rtk_recording.media.trackmux import CONTAINERS, TrackWriter

log = get_logger("rtk_recording.pipeline")
AUDIO_LABELS = ("audio", "screenshare_audio")
_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def safe(text: str) -> str:
    return _SAFE.sub("-", text).strip("-") or "x"


@dataclass
class RemoteTrack:
    """A track the recorder receives: who publishes it and the receiver it arrives on."""

    peer_id: str
    user_id: str
    name: str
    label: str  # audio | video | screenshare | screenshare_audio
    receiver: RTCRtpReceiver

    @property
    def key(self) -> str:
        return f"{self.peer_id}:{self.label}"

    @property
    def kind(self) -> str:
        return "audio" if self.label in AUDIO_LABELS else "video"


class TrackTimer:
    """RTP timestamps → recording timeline seconds, re-anchored after a resume or a jump."""

    MAX_DRIFT = 1.0

    def __init__(self, clock: RecordingClock) -> None:
        self.clock = clock
        self.epoch = -1
        self.anchor_pos = 0.0
        self.anchor_ts = 0
        self.last = -math.inf
        self.reanchors = 0

    def pts(self, frame: EncodedFrame) -> float:
        now = self.clock.position()
        if self.epoch == self.clock.epoch:
            pts = self.anchor_pos + (frame.timestamp - self.anchor_ts) / frame.clock_rate
            if abs(pts - now) <= self.MAX_DRIFT:
                return pts
            self.reanchors += 1
        self.epoch = self.clock.epoch
        self.anchor_pos = max(now, self.last + 0.001) if self.last > -math.inf else now
        self.anchor_ts = frame.timestamp
        return self.anchor_pos


@dataclass
class Feed:
    track: RemoteTrack
    tap: EncodedTap
    timer: TrackTimer
    need_key: bool = True
    last_pli: float = 0.0
    writer: TrackWriter | None = None
    writers: list[TrackWriter] = field(default_factory=list)
    codec: str = ""
    frames: int = 0
    file_base: str = ""


@dataclass
class OutputFile:
    path: Path
    kind: str  # composite | audio | track
    codec: str
    content_type: str
    size_bytes: int
    duration_seconds: float
    peer_id: str = ""
    user_id: str = ""
    track_kind: str = ""
    display_name: str = ""
    start_offset_seconds: float = 0.0


class Pipeline:
    PLI_INTERVAL = 0.5

    def __init__(self, *, mode: str, workdir: Path, base_name: str, clock: RecordingClock,
                 composite: CompositeConfig | None = None, labels: Iterable[str] | None = None,
                 user_ids: Iterable[str] = (), started_at: dt.datetime | None = None) -> None:
        self.mode = mode  # "composite" | "track"
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.base_name = base_name
        self.clock = clock
        self.labels = frozenset(labels) if labels is not None else None
        self.user_ids = frozenset(user_ids)
        self.started_at = started_at or dt.datetime.now(dt.UTC)
        self.feeds: dict[str, Feed] = {}
        self.retired: list[Feed] = []
        self.composite: CompositeProcess | None = None
        self.failed: str | None = None
        if mode == "composite":
            assert composite is not None
            self.composite = CompositeProcess(composite)
            self.composite.start()

    def wants(self, track: RemoteTrack) -> bool:
        if self.labels is not None and track.label not in self.labels:
            return False
        return not self.user_ids or track.user_id in self.user_ids or track.peer_id in self.user_ids

    def add_track(self, track: RemoteTrack) -> bool:
        if not self.wants(track):
            return False
        old = self.feeds.get(track.key)
        if old is not None:
            if old.track.receiver is track.receiver:
                return False
            old.tap.detach()  # renegotiated: same track on a new receiver, same file
        revived = None
        if old is None:  # the track was stopped and comes back: same file, the gap stays a gap
            revived = next((f for f in self.retired if f.track.key == track.key), None)
            if revived is not None:
                self.retired.remove(revived)
        feed = old or revived or Feed(track=track, tap=None, timer=TrackTimer(self.clock))  # type: ignore[arg-type]
        feed.track = track
        feed.need_key = True
        feed.tap = EncodedTap(track.receiver, lambda frame, f=feed: self._on_frame(f, frame))
        self.feeds[track.key] = feed
        if old is None and self.composite is not None:
            self.composite.add_track(track.key, track.kind, track.name,
                                     screen=track.label in ("screenshare", "screenshare_audio"))
        log.info("track_added", peer_id=track.peer_id, label=track.label, mode=self.mode)
        return True

    def remove_track(self, key: str) -> None:
        feed = self.feeds.pop(key, None)
        if feed is None:
            return
        feed.tap.detach()
        if self.composite is not None:
            self.composite.remove_track(key)
        self.retired.append(feed)

    def add_peer(self, peer_id: str, name: str) -> None:
        """A visible participant joined (or their name changed): a composite tile from now on."""
        if self.composite is not None:
            self.composite.add_participant(peer_id, name)

    def remove_peer(self, peer_id: str) -> None:
        for key in [k for k, f in self.feeds.items() if f.track.peer_id == peer_id]:
            self.remove_track(key)
        if self.composite is not None:
            self.composite.remove_participant(peer_id)

    def _request_key(self, feed: Feed) -> None:
        now = time.monotonic()
        if now - feed.last_pli >= self.PLI_INTERVAL:
            feed.last_pli = now
            feed.tap.request_keyframe()

    def on_resume(self) -> None:
        for feed in self.feeds.values():
            if feed.track.kind == "video":
                feed.need_key = True
                self._request_key(feed)

    def _on_frame(self, feed: Feed, frame: EncodedFrame) -> None:
        clock = self.clock
        if not clock.started or clock.paused or self.failed:
            return
        if frame.codec not in CONTAINERS:
            return
        kind = feed.track.kind
        if kind == "video" and feed.need_key:
            if not frame.keyframe:
                self._request_key(feed)
                return
            feed.need_key = False
        pts = feed.timer.pts(frame)
        feed.frames += 1
        try:
            if self.composite is not None:
                if not self.composite.frame(feed.track.key, kind, frame.codec, pts, frame.data, frame.keyframe):
                    feed.need_key = True
                return
            self._write(feed, frame, pts)
        except Exception as exc:  # noqa: BLE001 - one bad frame must not kill the event loop callback
            log.warning("frame_failed", peer_id=feed.track.peer_id, label=feed.track.label, error=str(exc))
            if kind == "video":
                feed.need_key = True

    def _write(self, feed: Feed, frame: EncodedFrame, pts: float) -> None:
        if feed.writer is None or feed.codec != frame.codec:
            if feed.writer is not None:  # codec changed mid-track: start a second file
                feed.writers.append(feed.writer)
            feed.codec = frame.codec
            track = feed.track
            stream_kind = "screenshare" if track.label.startswith("screenshare") else "webcam"
            stamp = self.started_at.strftime("%Y%m%dT%H%M%SZ")
            part = f"_{len(feed.writers) + 1}" if feed.writers else ""
            name = (f"{safe(self.base_name)}_{safe(track.user_id)}_{safe(track.peer_id)}_{stream_kind}_{track.kind}"
                    f"_{stamp}{part}.{CONTAINERS[frame.codec][1]}")
            feed.writer = TrackWriter(self.workdir / name, frame.codec)
            if track.kind == "video" and not frame.keyframe:
                feed.need_key = True
                return
        duration = 0.02 if feed.track.kind == "audio" else 0.0
        feed.writer.write(frame.data, pts, keyframe=frame.keyframe, duration=duration)

    def tick(self) -> None:
        """About ten times a second: keep the compositor's clock moving, chase key frames."""
        if self.composite is not None and not self.clock.paused:
            self.composite.tick(self.clock.position())
        for feed in self.feeds.values():
            if feed.need_key and feed.track.kind == "video" and not self.clock.paused:
                self._request_key(feed)

    async def finish(self) -> list[OutputFile]:
        """Stop taking frames and close every file."""
        for feed in self.feeds.values():
            feed.tap.detach()
        all_feeds = list(self.feeds.values()) + self.retired
        files: list[OutputFile] = []
        if self.composite is not None:
            result = await self.composite.stop(self.clock.position())
            for item in result["files"]:
                files.append(OutputFile(path=Path(item["path"]), kind=item["kind"], codec=item["codec"],
                                        content_type=item["content_type"], size_bytes=item["size_bytes"],
                                        duration_seconds=item["duration_seconds"]))
            return files
        for feed in all_feeds:
            for writer in [*feed.writers, feed.writer]:
                if writer is None:
                    continue
                info = writer.close()
                if info is None:
                    continue
                track = feed.track
                files.append(OutputFile(path=info.path, kind="track", codec=info.codec,
                                        content_type=info.content_type, size_bytes=info.size_bytes,
                                        duration_seconds=info.duration_seconds, peer_id=track.peer_id,
                                        user_id=track.user_id, track_kind=track.label, display_name=track.name,
                                        start_offset_seconds=info.start_offset_seconds))
        return files

    def abort(self) -> None:
        for feed in self.feeds.values():
            feed.tap.detach()
        if self.composite is not None:
            self.composite.kill()

    def stats(self) -> dict[str, Any]:
        return {"tracks": len(self.feeds), "frames": sum(f.frames for f in self.feeds.values()),
                "dropped": self.composite.dropped if self.composite else 0}
