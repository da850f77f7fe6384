"""One recording, run by the recorder process that owns it.

    INVOKED  ─ create the bot participant, join the session, start the pipeline ─►  RECORDING
    RECORDING ⇄ PAUSED      (clock paused: nothing recorded, no gap in the files)
    stop (API, max_seconds, alone for RTK_RECORDING_ALONE_SECONDS, session ended) ─► UPLOADING
    UPLOADING ─ close the files, store them ─► UPLOADED          any failure ─► ERRORED
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import shutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
from realtime.meeting.v1 import meeting_pb2
from realtime.recording.v1 import recorder_pb2, recording_service_pb2
from realtime.recording.v1 import recording_pb2 as R
from rtkit.errors import ApiError
from rtkit.logging import get_logger

from rtk_recording.domain import models as m
from rtk_recording.domain.ports import Directory
from rtk_recording.domain.recordings import Conflict, Recordings
from rtk_recording.media.clock import RecordingClock
from rtk_recording.media.composite import CompositeConfig
from rtk_recording.recorder.pipeline import OutputFile, Pipeline, RemoteTrack, safe
from rtk_recording.recorder.session import MediaSession, SessionListener
from rtk_recording.recorder.storage import Storage, customer_s3

log = get_logger("rtk_recording.job")

Connector = Callable[[str, SessionListener], Awaitable[MediaSession]]
_VIDEO = {meeting_pb2.VIDEO_CODEC_H264: "h264", meeting_pb2.VIDEO_CODEC_VP8: "vp8", meeting_pb2.VIDEO_CODEC_VP9: "vp9"}
_FILE_KIND = {"composite": R.RECORDING_FILE_KIND_COMPOSITE, "audio": R.RECORDING_FILE_KIND_AUDIO,
              "track": R.RECORDING_FILE_KIND_TRACK}
_LABELS = {"audio": ("audio", "screenshare_audio"), "video": ("video", "screenshare")}


@dataclass(frozen=True)
class JobSettings:
    workdir: Path
    preset: str = "recorder_preset_v2"
    join_timeout: float = 20.0
    alone_seconds: float = 5.0
    composite_fps: int = 15
    x264_preset: str = "superfast"
    tick: float = 0.1


class RecordingJob(SessionListener):
    def __init__(self, row: asyncpg.Record, recordings: Recordings, directory: Directory, connector: Connector,
                 storage: Storage, settings: JobSettings) -> None:
        self.id = str(row["id"])
        self.app_id = row["app_id"]
        self.meeting_id = row["meeting_id"]
        self.session_id = row["session_id"]
        self.type = row["type"]
        self.options = R.RecordingOptions.FromString(row["options"])
        self.storage_config = meeting_pb2.StorageConfig.FromString(row["storage_config"]) \
            if row["storage_config"] else None
        self.track_request = recording_service_pb2.StartTrackRecordingRequest.FromString(row["layers"]) \
            if row["layers"] else None
        self.recordings = recordings
        self.directory = directory
        self.connector = connector
        self.storage = storage
        self.settings = settings
        self.clock = RecordingClock()
        self.pipeline: Pipeline | None = None
        self.session: MediaSession | None = None
        self.status = m.INVOKED
        self.stop_reason: R.StopReason | None = None
        self._stop = asyncio.Event()
        self._lock = asyncio.Lock()
        self._lost: str | None = None
        self._alone_since: float | None = None
        self.task: asyncio.Task[None] | None = None
        self.workdir = settings.workdir / self.id
        self.started_wall = dt.datetime.now(dt.UTC)

    # -- SessionListener --------------------------------------------------------------------
    def track_added(self, track: RemoteTrack) -> None:
        if self.pipeline is not None:
            try:
                self.pipeline.add_track(track)
            except Exception as exc:  # noqa: BLE001 - one odd track must not end the recording
                log.warning("track_not_recorded", recording_id=self.id, peer_id=track.peer_id, label=track.label,
                            error=str(exc))

    def track_removed(self, key: str) -> None:
        if self.pipeline is not None:
            self.pipeline.remove_track(key)

    def peer_joined(self, peer_id: str, name: str) -> None:
        if self.pipeline is not None:
            self.pipeline.add_peer(peer_id, name)

    def peer_left(self, peer_id: str) -> None:
        if self.pipeline is not None:
            self.pipeline.remove_peer(peer_id)

    def session_lost(self, reason: str) -> None:
        self._lost = reason
        self._stop.set()

    # -- commands ---------------------------------------------------------------------------
    async def command(self, command: recorder_pb2.RecorderCommand) -> recorder_pb2.RecorderCommandResult:
        ok = recorder_pb2.RecorderCommandResult(ok=True)
        async with self._lock:
            try:
                if command.action == recorder_pb2.RECORDER_ACTION_STOP:
                    await self._request_stop(command.stop_reason)
                elif command.action == recorder_pb2.RECORDER_ACTION_PAUSE:
                    if self.status == m.PAUSED:
                        return ok
                    if self.status != m.RECORDING:
                        raise Conflict(self.status)
                    self.clock.pause()
                    try:
                        await self.recordings.transition(self.id, m.PAUSED)
                    except BaseException:
                        self.clock.resume()
                        raise
                    self.status = m.PAUSED
                elif command.action == recorder_pb2.RECORDER_ACTION_RESUME:
                    if self.status == m.RECORDING:
                        return ok
                    if self.status != m.PAUSED:
                        raise Conflict(self.status)
                    await self.recordings.transition(self.id, m.RECORDING)
                    self.status = m.RECORDING
                    self.clock.resume()
                    if self.pipeline is not None:
                        self.pipeline.on_resume()
                else:
                    return recorder_pb2.RecorderCommandResult(ok=False, reason="INVALID_FIELD", message="bad action")
            except Conflict as exc:
                return recorder_pb2.RecorderCommandResult(ok=False, reason="CONFLICT", message=m.status_name(exc.status))
        return ok

    async def _request_stop(self, reason: R.StopReason) -> None:
        """Caller holds the lock. RECORDING/PAUSED → UPLOADING now (files finish in run())."""
        if self.status in (m.UPLOADING, m.UPLOADED, m.ERRORED):
            return
        if self.status == m.INVOKED:
            self.stop_reason = reason
            self._stop.set()
            await self.recordings.fail(self.id, "Stopped before the recorder had joined; nothing was recorded.",
                                       stop_reason=reason.reason or R.STOP_REASON_TYPE_API_CALL)
            self.status = m.ERRORED
            return
        if self.clock.paused:
            self.clock.resume()  # the timeline ends where the pause began
        duration = int(round(self.clock.position()))
        self.clock.pause()
        self.stop_reason = reason
        await self.recordings.transition(self.id, m.UPLOADING, {
            "stopped_at": dt.datetime.now(dt.UTC), "stop_reason": reason.SerializeToString(),
            "duration_seconds": duration,
        })
        self.status = m.UPLOADING
        self._stop.set()

    # -- run --------------------------------------------------------------------------------
    def start(self) -> asyncio.Task[None]:
        self.task = asyncio.create_task(self._run(), name=f"recording-{self.id}")
        return self.task

    async def _run(self) -> None:
        try:
            await self._record()
            if self.status == m.ERRORED:
                return
            await self._finish()
        except asyncio.CancelledError:
            await self._abort("The recorder shut down before the recording finished.")
            raise
        except Exception as exc:  # noqa: BLE001 - every failure ends as ERRORED with a reason
            log.exception("recording_failed", recording_id=self.id, app_id=self.app_id)
            message = exc.message if isinstance(exc, ApiError) else f"{type(exc).__name__}: {exc}"
            await self._abort(message)
        finally:
            await self._cleanup()

    async def _record(self) -> None:
        name = "Recorder"
        participant_id, token = await self.directory.add_recorder_participant(
            self.app_id, self.meeting_id, self.settings.preset, name, f"recorder-{self.id}")
        await self.recordings.update_fields(self.id, {"participant_id": participant_id})
        if self._stop.is_set():
            return
        self.pipeline = self._pipeline()  # before joining: the first tracks arrive during the join
        session = await asyncio.wait_for(self.connector(token, self), self.settings.join_timeout)
        self.session = session
        await self.recordings.update_fields(self.id, {"peer_id": session.peer_id})
        if self.session_id and session.session_id and session.session_id != self.session_id:
            raise RuntimeError("the session to record ended before the recorder joined")
        async with self._lock:
            if self._stop.is_set():
                return
            self.clock.start()
            await self.recordings.transition(self.id, m.RECORDING, {"started_at": dt.datetime.now(dt.UTC)})
            self.status = m.RECORDING
        log.info("recording_started", recording_id=self.id, app_id=self.app_id, meeting_id=self.meeting_id,
                 session_id=self.session_id, peer_id=session.peer_id)
        loop = asyncio.get_running_loop()
        while not self._stop.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.settings.tick)
            if self._stop.is_set():
                break
            session.poll()
            self.pipeline.tick()
            if self.pipeline.composite is not None and self.pipeline.composite.failed:
                raise RuntimeError(f"composite encoder failed: {self.pipeline.composite.failed}")
            if self.options.max_seconds and self.clock.position() >= self.options.max_seconds:
                await self._auto_stop(R.STOP_REASON_TYPE_MAX_DURATION_REACHED)
            elif session.visible_peers() == 0:
                now = loop.time()
                self._alone_since = self._alone_since or now
                if now - self._alone_since >= self.settings.alone_seconds:
                    await self._auto_stop(R.STOP_REASON_TYPE_ALL_PEERS_LEFT)
            else:
                self._alone_since = None
        if self._lost and self.status in (m.RECORDING, m.PAUSED):
            await self._auto_stop(R.STOP_REASON_TYPE_ALL_PEERS_LEFT)

    async def _auto_stop(self, reason: int) -> None:
        async with self._lock:
            with contextlib.suppress(Conflict):
                await self._request_stop(R.StopReason(reason=reason))

    def _pipeline(self) -> Pipeline:
        stamp = self.started_wall.strftime("%Y%m%dT%H%M%SZ")
        if self.type == R.RECORDING_TYPE_TRACK:
            layers = dict(self.track_request.layers) if self.track_request else {}
            labels: set[str] = set()
            for layer in layers.values() or [R.TrackLayer()]:
                labels.update(_LABELS.get(layer.media_kind or "audio", _LABELS["audio"]))
            default = layers.get("default") or next(iter(layers.values()), R.TrackLayer())
            return Pipeline(mode="track", workdir=self.workdir, base_name=default.file_name_prefix or "track",
                            clock=self.clock, labels=labels or set(_LABELS["audio"]),
                            user_ids=list(self.track_request.user_ids) if self.track_request else [],
                            started_at=self.started_wall)
        video = self.options.video_config
        prefix = self.options.file_name_prefix
        base = f"{safe(prefix)}_{stamp}" if prefix else f"recording_{stamp}"
        config = CompositeConfig(
            directory=str(self.workdir), base_name=base, video_codec=_VIDEO.get(video.codec, "h264"),
            width=video.width or 1280, height=video.height or 720, fps=self.settings.composite_fps,
            audio_export=not self.options.audio_config.HasField("export_file") or self.options.audio_config.export_file,
            mono=self.options.audio_config.channel == meeting_pb2.AUDIO_CHANNEL_MONO,
            x264_preset=self.settings.x264_preset,
        )
        return Pipeline(mode="composite", workdir=self.workdir, base_name=base, clock=self.clock, composite=config,
                        started_at=self.started_wall)

    async def _finish(self) -> None:
        assert self.pipeline is not None
        if self.session is not None:
            await self.session.close()
            self.session = None
        files = await self.pipeline.finish()
        duration = int(round(self.clock.position()))
        stored = await self._store(files)
        main = stored[0] if stored else None
        await self.recordings.transition(self.id, m.UPLOADED, {
            "files": json_files(stored), "file_size": sum(f["size_bytes"] for f in stored) if self.type ==
            R.RECORDING_TYPE_TRACK else (main["size_bytes"] if main else 0),
            "duration_seconds": duration, "output_file_name": main["name"] if main else "",
            "uploaded_at": dt.datetime.now(dt.UTC), "expires_at": self.recordings.expiry(),
        })
        self.status = m.UPLOADED
        log.info("recording_uploaded", recording_id=self.id, app_id=self.app_id, files=len(stored),
                 duration=duration, bytes=sum(f["size_bytes"] for f in stored))

    async def _store(self, files: list[OutputFile]) -> list[dict[str, Any]]:
        builtin = not self.options.HasField("realtimekit_bucket") or self.options.realtimekit_bucket
        customer = customer_s3(self.storage_config) if self.storage_config is not None else None
        out = []
        for f in files:
            key = f"{self.app_id}/{self.id}/{f.path.name}"
            if customer is not None:
                await customer.put(f"{self.id}/{f.path.name}", f.path, f.content_type)
            if builtin:
                await self.storage.put(key, f.path, f.content_type)
            out.append(m.file_entry(
                name=f.path.name, kind=_FILE_KIND[f.kind], peer_id=f.peer_id, user_id=f.user_id,
                track_kind=f.track_kind, codec=f.codec, content_type=f.content_type, size_bytes=f.size_bytes,
                duration_seconds=round(f.duration_seconds, 3), storage_key=key if builtin else "",
                display_name=f.display_name, start_offset_seconds=round(f.start_offset_seconds, 3),
            ))
        return out

    async def _abort(self, message: str) -> None:
        if self.pipeline is not None:
            with contextlib.suppress(Exception):
                self.pipeline.abort()
        with contextlib.suppress(Exception):
            await asyncio.shield(self.recordings.fail(self.id, message))
        self.status = m.ERRORED

    async def _cleanup(self) -> None:
        if self.session is not None:
            with contextlib.suppress(Exception):
                await self.session.close()
            self.session = None
        await asyncio.to_thread(shutil.rmtree, self.workdir, True)


def json_files(files: list[dict[str, Any]]) -> str:
    from rtk_recording.store.pg import files_json

    return files_json(files)
