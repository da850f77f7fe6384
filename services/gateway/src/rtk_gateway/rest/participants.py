"""Participants: `{base}/meetings/{meeting_id}/participants` (reference §3.3, §4.3)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from fastapi.responses import ORJSONResponse
from realtime.meeting.v1 import participant_pb2, participant_service_pb2
from rtkit.wire import from_rest, to_rest, update_mask

from rtk_gateway.clients import Clients
from rtk_gateway.rest.deps import ID_PATTERN, GrpcCall, grpc_call
from rtk_gateway.rest.envelope import Page, ok, paged
from rtk_gateway.rest.models.participants import AddParticipantBody, EditParticipantBody

router = APIRouter(
    prefix="/client/v4/accounts/{account_id}/realtime/kit/{app_id}/meetings/{meeting_id}/participants",
    tags=["Participants"],
)

AppId = Annotated[str, Path(pattern=ID_PATTERN, description="App id.")]
MeetingId = Annotated[str, Path(max_length=64, description="Meeting id (UUID).")]
ParticipantId = Annotated[str, Path(max_length=64, description="Participant id (UUID).")]
_INTERNAL = frozenset({"app_id", "meeting_id", "preset_id"})


def participant_json(participant: participant_pb2.Participant, token: str | None = None) -> dict[str, Any]:
    """RealtimeKit's participant: id, name, picture, custom_participant_id, preset_name, timestamps."""
    data = to_rest(participant, omit=_INTERNAL)
    if token is not None:
        data["token"] = token
    return data


@router.get("", summary="List a meeting's participants")
async def list_participants(
    app_id: AppId, meeting_id: MeetingId, call: Annotated[GrpcCall, Depends(grpc_call)],
    page: Annotated[Page, Depends()],
) -> ORJSONResponse:
    response = await call.clients.participants.ListParticipants(
        participant_service_pb2.ListParticipantsRequest(
            app_id=app_id, meeting_id=meeting_id, page_size=page.per_page, skip=page.skip
        ),
        metadata=call.metadata, timeout=call.timeout,
    )
    return paged([participant_json(p) for p in response.participants], response.total_size, page)


async def add(clients: Clients, metadata: tuple[tuple[str, str], ...], app_id: str, meeting_id: str,
              body: AddParticipantBody) -> dict[str, Any]:
    """Add one participant; its JSON with `token`. Shared by the route and rest/fastpath.py."""
    participant = from_rest(body.model_dump(exclude_unset=True), participant_pb2.Participant)
    # Coalesced with concurrent adds to the same meeting into one BatchAddParticipants call.
    response = await clients.participant_adder.add(metadata, app_id, meeting_id, participant)
    return participant_json(response.participant, response.token)


@router.post("", summary="Add a participant", status_code=201)
async def add_participant(
    app_id: AppId, meeting_id: MeetingId, body: AddParticipantBody, call: Annotated[GrpcCall, Depends(grpc_call)]
) -> ORJSONResponse:
    # Most adds never get here: rest/fastpath.py serves them with this module's add().
    return ok(await add(call.clients, call.metadata, app_id, meeting_id, body), status=201)


@router.get("/{participant_id}", summary="Fetch a participant")
async def get_participant(
    app_id: AppId, meeting_id: MeetingId, participant_id: ParticipantId, call: Annotated[GrpcCall, Depends(grpc_call)]
) -> ORJSONResponse:
    response = await call.clients.participants.GetParticipant(
        participant_service_pb2.GetParticipantRequest(app_id=app_id, meeting_id=meeting_id,
                                                      participant_id=participant_id),
        metadata=call.metadata, timeout=call.timeout,
    )
    return ok(participant_json(response.participant))


@router.patch("/{participant_id}", summary="Edit a participant (returns a new token)")
async def edit_participant(
    app_id: AppId, meeting_id: MeetingId, participant_id: ParticipantId, body: EditParticipantBody,
    call: Annotated[GrpcCall, Depends(grpc_call)],
) -> ORJSONResponse:
    data = body.model_dump(exclude_unset=True)
    # An empty body changes nothing but still rotates the token (every PATCH answers with a new one).
    request = participant_service_pb2.UpdateParticipantRequest(
        app_id=app_id, meeting_id=meeting_id, participant_id=participant_id,
        participant=from_rest(data, participant_pb2.Participant),
        update_mask=update_mask(data, participant_pb2.Participant),
    )
    response = await call.clients.participants.UpdateParticipant(request, metadata=call.metadata,
                                                                 timeout=call.timeout)
    return ok(participant_json(response.participant, response.token))


@router.delete("/{participant_id}", summary="Delete a participant (revokes its tokens)")
async def delete_participant(
    app_id: AppId, meeting_id: MeetingId, participant_id: ParticipantId, call: Annotated[GrpcCall, Depends(grpc_call)]
) -> ORJSONResponse:
    response = await call.clients.participants.DeleteParticipant(
        participant_service_pb2.DeleteParticipantRequest(app_id=app_id, meeting_id=meeting_id,
                                                         participant_id=participant_id),
        metadata=call.metadata, timeout=call.timeout,
    )
    data = to_rest(response.participant)
    # RealtimeKit's delete response: {custom_participant_id, preset_id, created_at, updated_at}.
    return ok({k: data[k] for k in ("custom_participant_id", "preset_id", "created_at", "updated_at")})


@router.post("/{participant_id}/token", summary="Issue a fresh token", status_code=200)
async def refresh_participant_token(
    app_id: AppId, meeting_id: MeetingId, participant_id: ParticipantId, call: Annotated[GrpcCall, Depends(grpc_call)]
) -> ORJSONResponse:
    response = await call.clients.participants.RefreshParticipantToken(
        participant_service_pb2.RefreshParticipantTokenRequest(app_id=app_id, meeting_id=meeting_id,
                                                               participant_id=participant_id),
        metadata=call.metadata, timeout=call.timeout,
    )
    return ok({"token": response.token})
