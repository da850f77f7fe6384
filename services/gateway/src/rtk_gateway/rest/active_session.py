"""Active session: `{base}/meetings/{meeting_id}/active-session…` (reference §3.6, §4.6, §4.7)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from fastapi.responses import ORJSONResponse
from pydantic import BaseModel, Field
from realtime.meeting.v1 import participant_pb2
from realtime.session.v1 import poll_pb2, session_pb2
from realtime.session.v1 import session_service_pb2 as pb
from rtkit.errors import invalid_field
from rtkit.wire import to_rest

from rtk_gateway.rest.deps import ID_PATTERN, GrpcCall, grpc_call
from rtk_gateway.rest.envelope import ok
from rtk_gateway.rest.sessions import session_json

router = APIRouter(prefix="/client/v4/accounts/{account_id}/realtime/kit/{app_id}/meetings/{meeting_id}/active-session",
                   tags=["Active session"])

AppId = Annotated[str, Path(pattern=ID_PATTERN, description="App id.")]
MeetingId = Annotated[str, Path(max_length=64, description="Meeting id (UUID).")]
_KINDS = {"audio": session_pb2.MEDIA_KIND_AUDIO, "video": session_pb2.MEDIA_KIND_VIDEO,
          "screenshare": session_pb2.MEDIA_KIND_SCREENSHARE}


class ParticipantsBody(BaseModel):
    participant_ids: list[str] | None = Field(default=None, max_length=1000)
    custom_participant_ids: list[str] | None = Field(default=None, max_length=1000)


class MuteBody(ParticipantsBody):
    allow_unmute: bool | None = None
    kinds: list[str] | None = Field(default=None, max_length=3, description="audio, video, screenshare (default audio).")


class MuteAllBody(BaseModel):
    allow_unmute: bool | None = None
    kinds: list[str] | None = Field(default=None, max_length=3)


class PollBody(BaseModel):
    question: str = Field(..., min_length=1, max_length=1000)
    options: list[str] = Field(..., min_length=2, max_length=20)
    anonymous: bool | None = None
    hide_votes: bool | None = None


def _ids(body: ParticipantsBody) -> tuple[list[str], list[str]]:
    ids, custom = body.participant_ids or [], body.custom_participant_ids or []
    if not ids and not custom:
        raise invalid_field("participant_ids", "give participant_ids or custom_participant_ids")
    return ids, custom


def _kinds(names: list[str] | None) -> list[int]:
    out = []
    for name in names or []:
        if name not in _KINDS:
            raise invalid_field("kinds", "each must be audio, video or screenshare")
        out.append(_KINDS[name])
    return out


def participant_json(participant: participant_pb2.Participant) -> dict[str, Any]:
    return to_rest(participant, omit=frozenset({"app_id", "meeting_id", "preset_id"}))


def poll_json(poll: poll_pb2.Poll) -> dict[str, Any]:
    return to_rest(poll, omit=frozenset({"session_id", "create_time"}))


@router.get("", summary="The meeting's live session")
async def get_active_session(app_id: AppId, meeting_id: MeetingId,
                             call: Annotated[GrpcCall, Depends(grpc_call)]) -> ORJSONResponse:
    response = await call.clients.sessions.GetActiveSession(
        pb.GetActiveSessionRequest(app_id=app_id, meeting_id=meeting_id), metadata=call.metadata,
        timeout=call.timeout)
    return ok(session_json(response.session))


@router.post("/kick", summary="Remove participants")
async def kick(app_id: AppId, meeting_id: MeetingId, body: ParticipantsBody,
               call: Annotated[GrpcCall, Depends(grpc_call)]) -> ORJSONResponse:
    ids, custom = _ids(body)
    response = await call.clients.sessions.KickParticipants(
        pb.KickParticipantsRequest(app_id=app_id, meeting_id=meeting_id, participant_ids=ids,
                                   custom_participant_ids=custom),
        metadata=call.metadata, timeout=call.timeout)
    return ok({"action": "kick", "participants": [participant_json(p) for p in response.participants]})


@router.post("/kick-all", summary="Remove everyone; ends the session")
async def kick_all(app_id: AppId, meeting_id: MeetingId,
                   call: Annotated[GrpcCall, Depends(grpc_call)]) -> ORJSONResponse:
    response = await call.clients.sessions.KickAllParticipants(
        pb.KickAllParticipantsRequest(app_id=app_id, meeting_id=meeting_id), metadata=call.metadata,
        timeout=call.timeout)
    return ok({"action": "kick-all", "kicked_participants_count": response.kicked_participants_count})


@router.post("/mute", summary="Mute participants")
async def mute(app_id: AppId, meeting_id: MeetingId, body: MuteBody,
               call: Annotated[GrpcCall, Depends(grpc_call)]) -> ORJSONResponse:
    ids, custom = _ids(body)
    response = await call.clients.sessions.MuteParticipants(
        pb.MuteParticipantsRequest(app_id=app_id, meeting_id=meeting_id, participant_ids=ids,
                                   custom_participant_ids=custom, kinds=_kinds(body.kinds),
                                   allow_unmute=bool(body.allow_unmute)),
        metadata=call.metadata, timeout=call.timeout)
    return ok({"action": "mute", "participants": [participant_json(p) for p in response.participants]})


@router.post("/mute-all", summary="Mute everyone")
async def mute_all(app_id: AppId, meeting_id: MeetingId, call: Annotated[GrpcCall, Depends(grpc_call)],
                   body: MuteAllBody | None = None) -> ORJSONResponse:
    body = body or MuteAllBody()
    response = await call.clients.sessions.MuteAllParticipants(
        pb.MuteAllParticipantsRequest(app_id=app_id, meeting_id=meeting_id, allow_unmute=bool(body.allow_unmute),
                                      kinds=_kinds(body.kinds)),
        metadata=call.metadata, timeout=call.timeout)
    return ok({"action": "mute-all", "muted_participants_count": response.muted_participants_count})


@router.post("/poll", summary="Create a poll in the live session", status_code=201)
async def create_poll(app_id: AppId, meeting_id: MeetingId, body: PollBody,
                      call: Annotated[GrpcCall, Depends(grpc_call)]) -> ORJSONResponse:
    response = await call.clients.sessions.CreatePoll(
        pb.CreatePollRequest(app_id=app_id, meeting_id=meeting_id, question=body.question, options=body.options,
                             anonymous=bool(body.anonymous), hide_votes=bool(body.hide_votes)),
        metadata=call.metadata, timeout=call.timeout)
    return ok({"action": "poll", "poll": poll_json(response.poll)}, status=201)
