"""RecordingService gRPC servicer: authorize, convert, call the domain, convert back."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import grpc
from realtime.recording.v1 import recording_pb2 as R
from realtime.recording.v1 import recording_service_pb2 as pb
from realtime.recording.v1 import recording_service_pb2_grpc
from rtkit.authz import Authorizer
from rtkit.errors import ApiError, invalid_field

from rtk_recording.domain import models as m
from rtk_recording.domain.recordings import Recordings, caller_of
from rtk_recording.recorder.storage import Storage

Ctx = grpc.aio.ServicerContext


class RecordingServicer(recording_service_pb2_grpc.RecordingServiceServicer):
    def __init__(self, authorizer: Authorizer, recordings: Recordings, storage: Storage) -> None:
        self._authz = authorizer
        self._recordings = recordings
        self._storage = storage

    async def StartRecording(self, request: pb.StartRecordingRequest, context: Ctx) -> pb.StartRecordingResponse:
        principal = await self._authz.require_app(context, request.app_id)
        recording = await self._recordings.start_api(request, R.RECORDING_TYPE_COMPOSITE,
                                                     caller_of(principal.internal), principal.internal)
        return pb.StartRecordingResponse(recording=recording)

    async def StartTrackRecording(self, request: pb.StartTrackRecordingRequest,
                                  context: Ctx) -> pb.StartTrackRecordingResponse:
        principal = await self._authz.require_app(context, request.app_id)
        recording = await self._recordings.start_api(request, R.RECORDING_TYPE_TRACK,
                                                     caller_of(principal.internal), principal.internal)
        return pb.StartTrackRecordingResponse(recording=recording)

    async def GetRecording(self, request: pb.GetRecordingRequest, context: Ctx) -> pb.GetRecordingResponse:
        await self._authz.require_app(context, request.app_id)
        return pb.GetRecordingResponse(recording=await self._recordings.get(request.app_id, request.recording_id))

    async def ListRecordings(self, request: pb.ListRecordingsRequest, context: Ctx) -> pb.ListRecordingsResponse:
        await self._authz.require_app(context, request.app_id)
        items, total, end = await self._recordings.list(request)
        return pb.ListRecordingsResponse(recordings=items, total_size=total,
                                         next_page_token=str(end) if end < total else "")

    async def GetActiveRecording(self, request: pb.GetActiveRecordingRequest,
                                 context: Ctx) -> pb.GetActiveRecordingResponse:
        await self._authz.require_app(context, request.app_id)
        if not request.meeting_id:
            raise invalid_field("meeting_id", "is required")
        return pb.GetActiveRecordingResponse(recording=await self._recordings.active(request.app_id,
                                                                                     request.meeting_id))

    async def ControlRecording(self, request: pb.ControlRecordingRequest,
                               context: Ctx) -> pb.ControlRecordingResponse:
        principal = await self._authz.require_app(context, request.app_id)
        recording = await self._recordings.control(request.app_id, request.recording_id, request.action,
                                                   caller_of(principal.internal))
        return pb.ControlRecordingResponse(recording=recording)

    async def DownloadRecording(self, request: pb.DownloadRecordingRequest,
                                context: Ctx) -> AsyncIterator[pb.DownloadRecordingResponse]:
        await self._authz.require_internal(context)
        if not self._recordings.signer.verify(request.recording_id, request.file, request.expires,
                                              request.signature, time.time()):
            raise ApiError("FORBIDDEN", "The download link is invalid or expired.")
        row = await self._recordings.row(request.recording_id)
        if row is None or row["status"] != m.UPLOADED:
            raise ApiError("RECORDING_NOT_FOUND", f"No downloadable recording {request.recording_id}.")
        files = m.to_proto(row, None).files
        chosen = files[0] if files and not request.file else next((f for f in files if f.name == request.file), None)
        if chosen is None or not chosen.storage_key:
            raise ApiError("RECORDING_NOT_FOUND", f"Recording {request.recording_id} has no such file.")
        redirect = self._storage.presigned_get(chosen.storage_key, max(1, int(request.expires - time.time())))
        if redirect:
            yield pb.DownloadRecordingResponse(file_name=chosen.name, content_type=chosen.content_type,
                                               size_bytes=chosen.size_bytes, redirect_url=redirect)
            return
        try:
            size, chunks = await self._storage.open(chosen.storage_key)
        except FileNotFoundError:
            raise ApiError("RECORDING_NOT_FOUND", f"The file of recording {request.recording_id} is gone.") from None
        yield pb.DownloadRecordingResponse(file_name=chosen.name, content_type=chosen.content_type, size_bytes=size)
        async for chunk in chunks:
            yield pb.DownloadRecordingResponse(chunk=chunk)
