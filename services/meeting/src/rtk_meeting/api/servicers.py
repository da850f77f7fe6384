"""Thin gRPC servicers: authorise the app, call the domain, wrap the result."""

from __future__ import annotations

import grpc
from realtime.meeting.v1 import (
    meeting_service_pb2 as ms,
)
from realtime.meeting.v1 import (
    meeting_service_pb2_grpc,
    participant_service_pb2_grpc,
    preset_service_pb2_grpc,
)
from realtime.meeting.v1 import (
    participant_service_pb2 as pas,
)
from realtime.meeting.v1 import (
    preset_service_pb2 as prs,
)
from rtkit.authz import Authorizer
from rtkit.errors import ApiError
from rtkit.logging import get_logger

from rtk_meeting.domain.meetings import Meetings
from rtk_meeting.domain.participants import Participants
from rtk_meeting.domain.presets import Presets

Ctx = grpc.aio.ServicerContext
log = get_logger("rtk_meeting.api")


class MeetingServicer(meeting_service_pb2_grpc.MeetingServiceServicer):
    def __init__(self, authz: Authorizer, meetings: Meetings) -> None:
        self._authz = authz
        self._meetings = meetings

    async def CreateMeeting(self, request: ms.CreateMeetingRequest, context: Ctx) -> ms.CreateMeetingResponse:
        await self._authz.require_app(context, request.app_id)
        return ms.CreateMeetingResponse(meeting=await self._meetings.create(request.app_id, request.meeting))

    async def GetMeeting(self, request: ms.GetMeetingRequest, context: Ctx) -> ms.GetMeetingResponse:
        await self._authz.require_app(context, request.app_id)
        return ms.GetMeetingResponse(meeting=await self._meetings.get(request.app_id, request.meeting_id))

    async def ListMeetings(self, request: ms.ListMeetingsRequest, context: Ctx) -> ms.ListMeetingsResponse:
        await self._authz.require_app(context, request.app_id)
        items, token, total = await self._meetings.list(request.app_id, request)
        return ms.ListMeetingsResponse(meetings=items, next_page_token=token, total_size=total)

    async def UpdateMeeting(self, request: ms.UpdateMeetingRequest, context: Ctx) -> ms.UpdateMeetingResponse:
        await self._authz.require_app(context, request.app_id)
        meeting = await self._meetings.update(request.app_id, request.meeting_id, request.meeting, request.update_mask)
        return ms.UpdateMeetingResponse(meeting=meeting)

    async def ReplaceMeeting(self, request: ms.ReplaceMeetingRequest, context: Ctx) -> ms.ReplaceMeetingResponse:
        await self._authz.require_app(context, request.app_id)
        meeting = await self._meetings.replace(request.app_id, request.meeting_id, request.meeting)
        return ms.ReplaceMeetingResponse(meeting=meeting)


class PresetServicer(preset_service_pb2_grpc.PresetServiceServicer):
    def __init__(self, authz: Authorizer, presets: Presets) -> None:
        self._authz = authz
        self._presets = presets

    async def CreatePreset(self, request: prs.CreatePresetRequest, context: Ctx) -> prs.CreatePresetResponse:
        await self._authz.require_app(context, request.app_id)
        return prs.CreatePresetResponse(preset=await self._presets.create(request.app_id, request.preset))

    async def GetPreset(self, request: prs.GetPresetRequest, context: Ctx) -> prs.GetPresetResponse:
        await self._authz.require_app(context, request.app_id)
        return prs.GetPresetResponse(preset=await self._presets.get(request.app_id, request.preset_id))

    async def GetPresetByName(self, request: prs.GetPresetByNameRequest, context: Ctx) -> prs.GetPresetByNameResponse:
        await self._authz.require_app(context, request.app_id)
        return prs.GetPresetByNameResponse(preset=await self._presets.get_by_name(request.app_id, request.name))

    async def ListPresets(self, request: prs.ListPresetsRequest, context: Ctx) -> prs.ListPresetsResponse:
        await self._authz.require_app(context, request.app_id)
        items, token, total = await self._presets.list(request.app_id, request)
        return prs.ListPresetsResponse(presets=items, next_page_token=token, total_size=total)

    async def UpdatePreset(self, request: prs.UpdatePresetRequest, context: Ctx) -> prs.UpdatePresetResponse:
        await self._authz.require_app(context, request.app_id)
        preset = await self._presets.update(request.app_id, request.preset_id, request.preset, request.update_mask)
        return prs.UpdatePresetResponse(preset=preset)

    async def ReplacePreset(self, request: prs.ReplacePresetRequest, context: Ctx) -> prs.ReplacePresetResponse:
        await self._authz.require_app(context, request.app_id)
        return prs.ReplacePresetResponse(
            preset=await self._presets.replace(request.app_id, request.preset_id, request.preset)
        )

    async def DeletePreset(self, request: prs.DeletePresetRequest, context: Ctx) -> prs.DeletePresetResponse:
        await self._authz.require_app(context, request.app_id)
        return prs.DeletePresetResponse(preset=await self._presets.delete(request.app_id, request.preset_id))


class ParticipantServicer(participant_service_pb2_grpc.ParticipantServiceServicer):
    def __init__(self, authz: Authorizer, participants: Participants) -> None:
        self._authz = authz
        self._participants = participants

    async def AddParticipant(self, request: pas.AddParticipantRequest, context: Ctx) -> pas.AddParticipantResponse:
        await self._authz.require_app(context, request.app_id)
        participant, token = await self._participants.add(request.app_id, request.meeting_id, request.participant)
        return pas.AddParticipantResponse(participant=participant, token=token)

    async def BatchAddParticipants(self, request: pas.BatchAddParticipantsRequest, context: Ctx
                                   ) -> pas.BatchAddParticipantsResponse:
        await self._authz.require_app(context, request.app_id)
        outcomes = await self._participants.add_many(request.app_id, request.meeting_id, request.participants)
        return pas.BatchAddParticipantsResponse(results=[
            pas.AddParticipantResult(error=o.to_status_proto()) if isinstance(o, ApiError)
            else pas.AddParticipantResult(added=pas.AddParticipantResponse(participant=o[0], token=o[1]))
            for o in outcomes
        ])

    async def GetParticipant(self, request: pas.GetParticipantRequest, context: Ctx) -> pas.GetParticipantResponse:
        await self._authz.require_app(context, request.app_id)
        participant = await self._participants.get(request.app_id, request.meeting_id, request.participant_id)
        return pas.GetParticipantResponse(participant=participant)

    async def ListParticipants(self, request: pas.ListParticipantsRequest, context: Ctx
                               ) -> pas.ListParticipantsResponse:
        await self._authz.require_app(context, request.app_id)
        items, token, total = await self._participants.list(request.app_id, request.meeting_id, request)
        return pas.ListParticipantsResponse(participants=items, next_page_token=token, total_size=total)

    async def UpdateParticipant(self, request: pas.UpdateParticipantRequest, context: Ctx
                                ) -> pas.UpdateParticipantResponse:
        await self._authz.require_app(context, request.app_id)
        participant, token = await self._participants.update(
            request.app_id, request.meeting_id, request.participant_id, request.participant, request.update_mask
        )
        return pas.UpdateParticipantResponse(participant=participant, token=token)

    async def DeleteParticipant(self, request: pas.DeleteParticipantRequest, context: Ctx
                                ) -> pas.DeleteParticipantResponse:
        await self._authz.require_app(context, request.app_id)
        participant = await self._participants.delete(request.app_id, request.meeting_id, request.participant_id)
        return pas.DeleteParticipantResponse(participant=participant)

    async def RefreshParticipantToken(self, request: pas.RefreshParticipantTokenRequest, context: Ctx
                                      ) -> pas.RefreshParticipantTokenResponse:
        await self._authz.require_app(context, request.app_id)
        token = await self._participants.refresh_token(request.app_id, request.meeting_id, request.participant_id)
        return pas.RefreshParticipantTokenResponse(token=token)
