"""The meeting service over gRPC (domain errors reach gRPC callers too) and its NATS events."""

from __future__ import annotations

import asyncio

import grpc
import nats
import pytest
from google.protobuf import field_mask_pb2
from realtime.events.v1 import event_pb2
from realtime.meeting.v1 import (
    meeting_pb2,
    meeting_service_pb2,
    meeting_service_pb2_grpc,
    participant_pb2,
    participant_service_pb2,
    participant_service_pb2_grpc,
    preset_service_pb2,
    preset_service_pb2_grpc,
)
from rtkit.clients import ACCOUNT_HEADER, internal_metadata
from rtkit.errors import decode_rpc_error

pytestmark = pytest.mark.slow


async def test_grpc_callers_get_invalid_field_with_violations(stack):
    async with grpc.aio.insecure_channel(stack.grpc["meeting"]) as channel:
        meetings = meeting_service_pb2_grpc.MeetingServiceStub(channel)
        md = internal_metadata(stack.internal_token)
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await meetings.CreateMeeting(meeting_service_pb2.CreateMeetingRequest(
                app_id=stack.app_id, meeting=meeting_pb2.Meeting(session_keep_alive_time_in_secs=900, title="x" * 2000),
            ), metadata=md)
        decoded = decode_rpc_error(err.value)
        assert decoded.code == grpc.StatusCode.INVALID_ARGUMENT and decoded.reason == "INVALID_FIELD"
        assert [f for f, _ in decoded.field_violations] == ["title", "session_keep_alive_time_in_secs"]

        created = (await meetings.CreateMeeting(meeting_service_pb2.CreateMeetingRequest(
            app_id=stack.app_id, meeting=meeting_pb2.Meeting(title="grpc")), metadata=md)).meeting
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await meetings.UpdateMeeting(meeting_service_pb2.UpdateMeetingRequest(
                app_id=stack.app_id, meeting_id=created.id, update_mask=field_mask_pb2.FieldMask(paths=["app_id"])),
                metadata=md)
        assert decode_rpc_error(err.value).reason == "INVALID_FIELD"

        # API-token callers are scoped to their account's apps.
        api_md = (("authorization", f"Bearer {stack.api_token}"), (ACCOUNT_HEADER, stack.account_id))
        presets = preset_service_pb2_grpc.PresetServiceStub(channel)
        host = (await presets.GetPresetByName(preset_service_pb2.GetPresetByNameRequest(
            app_id=stack.app_id, name="group_call_host"), metadata=api_md)).preset
        assert host.permissions.kick_participant
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await presets.GetPresetByName(preset_service_pb2.GetPresetByNameRequest(
                app_id="some-other-app", name="group_call_host"), metadata=api_md)
        assert decode_rpc_error(err.value).reason == "APP_NOT_FOUND"
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await presets.ListPresets(preset_service_pb2.ListPresetsRequest(app_id=stack.app_id))
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_committed_changes_are_published_as_events(stack):
    nc = await nats.connect(stack.dev.nats_url)
    received: list[tuple[str, event_pb2.Event]] = []

    async def on_message(msg) -> None:
        received.append((msg.subject, event_pb2.Event.FromString(msg.data)))

    await nc.subscribe(f"realtime.events.v1.apps.{stack.app_id}.>", cb=on_message)
    try:
        async with grpc.aio.insecure_channel(stack.grpc["meeting"]) as channel:
            md = internal_metadata(stack.internal_token)
            meetings = meeting_service_pb2_grpc.MeetingServiceStub(channel)
            participants = participant_service_pb2_grpc.ParticipantServiceStub(channel)
            meeting = (await meetings.CreateMeeting(meeting_service_pb2.CreateMeetingRequest(
                app_id=stack.app_id, meeting=meeting_pb2.Meeting(title="evented")), metadata=md)).meeting
            await meetings.UpdateMeeting(meeting_service_pb2.UpdateMeetingRequest(
                app_id=stack.app_id, meeting_id=meeting.id,
                meeting=meeting_pb2.Meeting(status=meeting_pb2.MEETING_STATUS_INACTIVE),
                update_mask=field_mask_pb2.FieldMask(paths=["status"])), metadata=md)
            added = await participants.AddParticipant(participant_service_pb2.AddParticipantRequest(
                app_id=stack.app_id, meeting_id=meeting.id,
                participant=participant_pb2.Participant(custom_participant_id="e", preset_name="webinar_viewer")),
                metadata=md)
            await participants.DeleteParticipant(participant_service_pb2.DeleteParticipantRequest(
                app_id=stack.app_id, meeting_id=meeting.id, participant_id=added.participant.id), metadata=md)
        prefix = f"realtime.events.v1.apps.{stack.app_id}.meetings.{meeting.id}."
        expected = ["meeting_created", "meeting_updated", "participant_added", "participant_deleted"]
        for _ in range(100):
            mine = [(s, e) for s, e in received if s.startswith(prefix)]
            if len(mine) >= len(expected):
                break
            await asyncio.sleep(0.05)
        assert [s.removeprefix(prefix) for s, _ in mine] == expected
        assert [e.WhichOneof("payload") for _, e in mine] == expected
        assert all(e.app_id == stack.app_id and e.event_id and e.occur_time.seconds for _, e in mine)
        assert list(mine[1][1].meeting_updated.changed_fields) == ["status"]
        assert mine[3][1].participant_deleted.participant.id == added.participant.id
        # They are durable on the REALTIME_EVENTS stream, too.
        js = nc.jetstream()
        info = await js.find_stream_name_by_subject(prefix + "meeting_created")
        assert info == "REALTIME_EVENTS"
    finally:
        await nc.close()


async def test_concurrent_adds_each_get_their_own_valid_token(stack):
    """The meeting service coalesces concurrent token issues into batches: every caller must still
    get the token of its own participant, and every token must verify."""
    import jwt
    from realtime.auth.v1 import auth_service_pb2, auth_service_pb2_grpc

    md = internal_metadata(stack.internal_token)
    async with grpc.aio.insecure_channel(stack.grpc["meeting"]) as channel, \
            grpc.aio.insecure_channel(stack.grpc["auth"]) as auth_channel:
        meetings = meeting_service_pb2_grpc.MeetingServiceStub(channel)
        participants = participant_service_pb2_grpc.ParticipantServiceStub(channel)
        auth = auth_service_pb2_grpc.AuthServiceStub(auth_channel)
        meeting = (await meetings.CreateMeeting(meeting_service_pb2.CreateMeetingRequest(
            app_id=stack.app_id, meeting=meeting_pb2.Meeting(title="crowd")), metadata=md)).meeting

        async def add(i: int) -> participant_service_pb2.AddParticipantResponse:
            return await participants.AddParticipant(participant_service_pb2.AddParticipantRequest(
                app_id=stack.app_id, meeting_id=meeting.id,
                participant=participant_pb2.Participant(custom_participant_id=f"c{i}", preset_name="group_call_host")),
                metadata=md)

        added = await asyncio.gather(*(add(i) for i in range(60)))
        assert len({a.participant.id for a in added}) == 60
        for a in added:
            claims = jwt.decode(a.token, options={"verify_signature": False})
            assert claims["participantId"] == a.participant.id and claims["meetingId"] == meeting.id
        for a in added[::10]:
            verified = await auth.VerifyParticipantToken(
                auth_service_pb2.VerifyParticipantTokenRequest(token=a.token, meeting_id=meeting.id), metadata=md)
            assert verified.claims.participant_id == a.participant.id
