"""The recorder slots of one process.

Each process registers itself in `recording.recorders` (id new at every start, capacity
RTK_RECORDING_MAX_CONCURRENT) and heartbeats its load every RTK_RECORDING_HEARTBEAT_SECONDS.
`StartRecording` assigns a recording to a live recorder with a free slot inside the insert's
transaction (row lock on the recorder), so the service refuses with RECORDER_CAPACITY_EXHAUSTED
instead of over-committing. Commands reach the owning process directly (same process) or over
core NATS request/reply (`realtime.recording.v1.recorders.<id>.commands`). A recorder that stops
heartbeating for RTK_RECORDING_LEASE_SECONDS is dead: the sweeper (every replica, at start and
periodically) marks its recordings ERRORED.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import uuid
from typing import Any

import asyncpg
from nats.aio.msg import Msg
from prometheus_client import Gauge
from realtime.recording.v1 import recorder_pb2
from rtkit.logging import get_logger

from rtk_recording.domain import models as m
from rtk_recording.domain.ports import Directory
from rtk_recording.domain.recordings import Recordings
from rtk_recording.recorder.job import Connector, JobSettings, RecordingJob
from rtk_recording.recorder.storage import Storage
from rtk_recording.store import pg

log = get_logger("rtk_recording.worker")
SLOTS = Gauge("rtk_recording_slots", "Recording slots of this recorder process", ["state"])
COMMAND_SUBJECT = "realtime.recording.v1.recorders.{}.commands"


class RecorderWorker:
    def __init__(self, pool: asyncpg.Pool, recordings: Recordings, directory: Directory, connector: Connector,
                 storage: Storage, settings: JobSettings, *, capacity: int, heartbeat_seconds: float) -> None:
        self.id = uuid.uuid4()
        self.host = socket.gethostname()
        self._pool = pool
        self.recordings = recordings
        self.directory = directory
        self.connector = connector
        self.storage = storage
        self.settings = settings
        self.capacity = capacity
        self.heartbeat_seconds = heartbeat_seconds
        self.jobs: dict[str, RecordingJob] = {}
        self._task: asyncio.Task[None] | None = None

    @property
    def active(self) -> int:
        return len(self.jobs)

    async def start(self, bus: Any | None = None) -> None:
        async with self._pool.acquire() as conn:
            await pg.register_recorder(conn, self.id, self.host, self.capacity)
        if bus is not None:
            await bus.subscribe(COMMAND_SUBJECT.format(self.id), self._on_nats)
        self._report()
        self._task = asyncio.create_task(self._heartbeat(), name="recorder-heartbeat")
        log.info("recorder_started", recorder_id=str(self.id), capacity=self.capacity)

    def _report(self) -> None:
        SLOTS.labels("capacity").set(self.capacity)
        SLOTS.labels("busy").set(self.active)

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_seconds)
            try:
                async with self._pool.acquire() as conn:
                    await pg.heartbeat(conn, self.id, self.host, self.capacity, self.active)
                self._report()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - retried; the lease covers a few misses
                log.warning("recorder_heartbeat_failed", error=str(exc))

    async def _on_nats(self, msg: Msg) -> None:
        try:
            command = recorder_pb2.RecorderCommand.FromString(msg.data)
            result = await self.handle(command)
        except Exception as exc:  # noqa: BLE001
            result = recorder_pb2.RecorderCommandResult(ok=False, reason="INTERNAL", message=str(exc))
        if msg.reply:
            await msg.respond(result.SerializeToString())

    async def handle(self, command: recorder_pb2.RecorderCommand) -> recorder_pb2.RecorderCommandResult:
        if command.action == recorder_pb2.RECORDER_ACTION_START:
            return await self._start(command.recording_id)
        job = self.jobs.get(command.recording_id)
        if job is None:
            return recorder_pb2.RecorderCommandResult(ok=False, reason="RECORDING_NOT_FOUND",
                                                      message="this recorder does not run the recording")
        return await job.command(command)

    async def _start(self, recording_id: str) -> recorder_pb2.RecorderCommandResult:
        if recording_id in self.jobs:
            return recorder_pb2.RecorderCommandResult(ok=True)
        row = await self.recordings.row(recording_id)
        if row is None or str(row["recorder_id"]) != str(self.id) or row["status"] != m.INVOKED:
            return recorder_pb2.RecorderCommandResult(ok=False, reason="RECORDING_NOT_FOUND",
                                                      message="not an INVOKED recording of this recorder")
        if self.active >= self.capacity:
            return recorder_pb2.RecorderCommandResult(ok=False, reason="RECORDER_CAPACITY_EXHAUSTED",
                                                      message="no free slot")
        job = RecordingJob(row, self.recordings, self.directory, self.connector, self.storage, self.settings)
        self.jobs[recording_id] = job
        task = job.start()
        task.add_done_callback(lambda _t, rid=recording_id: self._done(rid))
        self._report()
        return recorder_pb2.RecorderCommandResult(ok=True)

    def _done(self, recording_id: str) -> None:
        self.jobs.pop(recording_id, None)
        self._report()

    async def drain(self, grace: float = 30.0) -> None:
        """Stop every recording and finish its files (SIGTERM), within `grace` seconds."""
        from realtime.recording.v1 import recording_pb2 as R

        jobs = list(self.jobs.values())
        for job in jobs:
            with contextlib.suppress(Exception):
                await job.command(recorder_pb2.RecorderCommand(
                    recording_id=job.id, action=recorder_pb2.RECORDER_ACTION_STOP,
                    stop_reason=R.StopReason(reason=R.STOP_REASON_TYPE_INTERNAL_ERROR)))
        tasks = [j.task for j in jobs if j.task is not None]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=grace)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=5)

    async def stop(self) -> None:
        await self.drain()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(Exception):
            async with self._pool.acquire() as conn:
                await pg.unregister_recorder(conn, self.id)


class RecorderLink:
    """Commands to a recorder: in-process when it is this process, else NATS request/reply."""

    def __init__(self, bus: Any | None) -> None:
        self.bus = bus
        self.local: RecorderWorker | None = None

    async def send(self, recorder_id: str, command: recorder_pb2.RecorderCommand,
                   wait: float = 10.0) -> recorder_pb2.RecorderCommandResult:
        if self.local is not None and str(self.local.id) == recorder_id:
            return await self.local.handle(command)
        if self.bus is None:
            raise RuntimeError("no NATS connection to reach other recorders")
        reply = await self.bus.nc.request(COMMAND_SUBJECT.format(recorder_id), command.SerializeToString(),
                                          timeout=wait)
        return recorder_pb2.RecorderCommandResult.FromString(reply.data)
