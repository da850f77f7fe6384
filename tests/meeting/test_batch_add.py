"""BatchAddParticipants: several participants of one meeting in one call. Items fail alone
(unknown preset, invalid field); failures of the whole call (unknown meeting, bad item count,
auth service down, another tenant) add nobody. Domain on real Postgres, then over gRPC."""

from __future__ import annotations

import uuid

import grpc
import pytest
from realtime.auth.v1 import auth_service_pb2, auth_service_pb2_grpc
from realtime.meeting.v1 import (
    meeting_pb2,
    meeting_service_pb2,
    meeting_service_pb2_grpc,
    participant_pb2,
    participant_service_pb2,
    participant_service_pb2_grpc,
)
from rtk_meeting.domain.participants import MAX_BATCH
from rtkit.clients import ACCOUNT_HEADER, internal_metadata
from rtkit.errors import ApiError, decode_rpc_error, decode_status

P = participant_pb2.Participant
ps = participant_service_pb2


async def _all(domain, app_id: str, meeting_id: str) -> list[participant_pb2.Participant]:
    items, _, total = await domain.participants.list(app_id, meeting_id, ps.ListParticipantsRequest(page_size=100))
    assert total == len(items)
    return items


async def _row_count(domain, app_id: str) -> int:
    return await domain.db.fetchval("SELECT count(*) FROM participants WHERE app_id = $1", app_id)


# domain ---------------------------------------------------------------------------------------


async def test_batch_adds_every_participant_in_order_with_its_own_token(domain, app_id):
    meeting = await domain.meetings.create(app_id, meeting_pb2.Meeting(title="batch"))
    presets = ["group_call_host", "group_call_participant", "webinar_viewer", "webinar_presenter", "group_call_host"]
    requested = [P(custom_participant_id=f"u{i}", preset_name=name, name=f"User {i}") for i, name in enumerate(presets)]
    requested[1].picture = "https://example.com/p.png"
    before = len(await domain.events.read())

    outcomes = await domain.participants.add_many(app_id, meeting.id, requested)

    assert len(outcomes) == len(requested)
    assert not any(isinstance(o, ApiError) for o in outcomes), outcomes
    added = [o[0] for o in outcomes]
    tokens = [o[1] for o in outcomes]
    # In request order, with the requested fields and resolved presets.
    assert [p.custom_participant_id for p in added] == [r.custom_participant_id for r in requested]
    assert [p.preset_name for p in added] == presets
    assert [p.name for p in added] == [r.name for r in requested]
    assert added[1].picture == "https://example.com/p.png" and not added[0].HasField("picture")
    assert len({p.id for p in added}) == len(added)
    for p in added:
        assert uuid.UUID(p.id) and p.app_id == app_id and p.meeting_id == meeting.id
        preset = await domain.presets.get_by_name(app_id, p.preset_name)
        assert p.preset_id == preset.id
    # One token per participant, each issued for that participant, its preset and meeting.
    assert len(domain.tokens.issued) == len(added) and len(set(tokens)) == len(tokens)
    by_token = {f"jwt.{t['token_id']}": t for t in domain.tokens.issued}
    for p, token in zip(added, tokens, strict=True):
        issued = by_token[token]
        assert (issued["participant_id"], issued["meeting_id"], issued["preset_id"], issued["app_id"]) == (
            p.id, meeting.id, p.preset_id, app_id)
    # Readable, exactly as returned.
    for p in added:
        assert await domain.participants.get(app_id, meeting.id, p.id) == p
    listed = await _all(domain, app_id, meeting.id)
    assert {p.id: p for p in listed} == {p.id: p for p in added}
    # One ParticipantAdded event per participant, on the meeting's subject.
    events = (await domain.events.read())[before:]
    assert [e.payload_field for e in events] == ["participant_added"] * len(added)
    assert {e.payload.participant.id for e in events} == {p.id for p in added}
    assert all(e.subject_tail == f"meetings.{meeting.id}.participant_added" and e.app_id == app_id for e in events)
    # The single add still works (it delegates to the batch).
    one, token = await domain.participants.add(app_id, meeting.id, P(custom_participant_id="solo",
                                                                      preset_name="webinar_viewer"))
    assert token not in tokens and len(await _all(domain, app_id, meeting.id)) == len(added) + 1
    assert (await _all(domain, app_id, meeting.id))[-1].id == one.id


async def test_batch_items_fail_alone(domain, app_id):
    meeting = await domain.meetings.create(app_id, meeting_pb2.Meeting(title="mixed"))
    requested = [
        P(custom_participant_id="ok0", preset_name="group_call_host"),
        P(custom_participant_id="ghost", preset_name="no-such-preset"),
        P(preset_name="group_call_host", name="no custom id"),
        P(custom_participant_id="ok3", preset_name="webinar_viewer"),
        P(custom_participant_id="long", preset_name="group_call_host", name="n" * 256),
        P(custom_participant_id="pic", preset_name="group_call_host", picture="ftp://x"),
        P(custom_participant_id="ok6", preset_name="group_call_participant"),
    ]
    before = len(await domain.events.read())

    outcomes = await domain.participants.add_many(app_id, meeting.id, requested)

    assert len(outcomes) == len(requested)
    errors = {i: o for i, o in enumerate(outcomes) if isinstance(o, ApiError)}
    assert {i: e.reason for i, e in errors.items()} == {
        1: "PRESET_NOT_FOUND", 2: "INVALID_FIELD", 4: "INVALID_FIELD", 5: "INVALID_FIELD"}
    assert "no-such-preset" in errors[1].message
    assert [f for f, _ in errors[2].field_violations] == ["custom_participant_id"]
    assert [f for f, _ in errors[4].field_violations] == ["name"]
    assert [f for f, _ in errors[5].field_violations] == ["picture"]
    added = {i: o[0] for i, o in enumerate(outcomes) if not isinstance(o, ApiError)}
    assert [p.custom_participant_id for p in added.values()] == ["ok0", "ok3", "ok6"]
    # Only the good ones exist, got tokens and events.
    listed = await _all(domain, app_id, meeting.id)
    assert sorted(p.custom_participant_id for p in listed) == ["ok0", "ok3", "ok6"]
    assert await _row_count(domain, app_id) == 3
    assert {t["participant_id"] for t in domain.tokens.issued} == {p.id for p in added.values()}
    assert len(domain.tokens.issued) == 3
    assert [e.payload.participant.id for e in (await domain.events.read())[before:]] == [p.id for p in added.values()]

    # A batch whose every item fails is not a failure of the call: each item says why.
    outcomes = await domain.participants.add_many(app_id, meeting.id, [
        P(custom_participant_id="a", preset_name="ghost"), P(custom_participant_id="", preset_name="ghost")])
    assert [o.reason for o in outcomes] == ["PRESET_NOT_FOUND", "INVALID_FIELD"]
    outcomes = await domain.participants.add_many(app_id, meeting.id, [P(custom_participant_id="a",
                                                                         preset_name="ghost")] * 2)
    assert [o.reason for o in outcomes] == ["PRESET_NOT_FOUND"] * 2
    assert await _row_count(domain, app_id) == 3


async def test_batch_whole_call_failures_add_nobody(domain, app_id):
    meeting = await domain.meetings.create(app_id, meeting_pb2.Meeting(title="whole"))
    good = [P(custom_participant_id=f"u{i}", preset_name="group_call_host") for i in range(3)]
    mixed = [*good, P(custom_participant_id="g", preset_name="ghost")]
    for app, mid in ((app_id, str(uuid.uuid4())), (app_id, "not-a-uuid"), ("another-app", meeting.id)):
        for batch in (good, mixed):
            with pytest.raises(ApiError) as err:
                await domain.participants.add_many(app, mid, batch)
            assert err.value.reason == "MEETING_NOT_FOUND", (app, mid)
    for count in (0, MAX_BATCH + 1):
        many = [P(custom_participant_id=f"u{i}", preset_name="group_call_host") for i in range(count)]
        with pytest.raises(ApiError) as err:
            await domain.participants.add_many(app_id, meeting.id, many)
        assert err.value.reason == "INVALID_FIELD", count
        assert [f for f, _ in err.value.field_violations] == ["participants"]
    assert await _row_count(domain, app_id) == 0
    assert domain.tokens.issued == []
    assert "participant_added" not in (await domain.events.names())

    # The auth service failing while tokens are issued: the call fails, no row is left behind,
    # no event is published.
    domain.tokens.fail_next = True
    with pytest.raises(ApiError) as err:
        await domain.participants.add_many(app_id, meeting.id, mixed)
    assert err.value.reason == "DEPENDENCY_UNAVAILABLE"
    assert await _row_count(domain, app_id) == 0
    assert await _all(domain, app_id, meeting.id) == []
    assert "participant_added" not in (await domain.events.names())

    # Exactly MAX_BATCH is accepted, and the service works again after the failure.
    full = [P(custom_participant_id=f"f{i}", preset_name="webinar_viewer") for i in range(MAX_BATCH)]
    outcomes = await domain.participants.add_many(app_id, meeting.id, full)
    assert [o[0].custom_participant_id for o in outcomes] == [p.custom_participant_id for p in full]
    assert await _row_count(domain, app_id) == MAX_BATCH
    assert (await domain.events.names()).count("participant_added") == MAX_BATCH


async def test_batch_rows_list_in_request_order(domain, app_id):
    """ListParticipants is 'oldest first': participants added by one call list in the order they
    were requested in (as with single adds), though one statement inserts them all."""
    meeting = await domain.meetings.create(app_id, meeting_pb2.Meeting(title="order"))
    requested = [P(custom_participant_id=f"u{i:02d}", preset_name="webinar_viewer") for i in range(20)]
    await domain.participants.add_many(app_id, meeting.id, requested)
    listed = await _all(domain, app_id, meeting.id)
    assert [p.custom_participant_id for p in listed] == [p.custom_participant_id for p in requested]


# gRPC -----------------------------------------------------------------------------------------


async def _second_tenant(stack) -> tuple[str, str, str]:
    """Another account with its own app and API token."""
    md = internal_metadata(stack.internal_token)
    async with grpc.aio.insecure_channel(stack.grpc["auth"]) as channel:
        stub = auth_service_pb2_grpc.AuthServiceStub(channel)
        account = (await stub.CreateAccount(auth_service_pb2.CreateAccountRequest(
            name=f"batch-{uuid.uuid4().hex[:6]}"), metadata=md)).account
        token = await stub.CreateApiToken(auth_service_pb2.CreateApiTokenRequest(account_id=account.id), metadata=md)
        app = (await stub.CreateApp(auth_service_pb2.CreateAppRequest(account_id=account.id, name="b-app"),
                                    metadata=md)).app
    return account.id, app.id, token.secret


async def _same_account_app(stack) -> str:
    md = internal_metadata(stack.internal_token)
    async with grpc.aio.insecure_channel(stack.grpc["auth"]) as channel:
        stub = auth_service_pb2_grpc.AuthServiceStub(channel)
        return (await stub.CreateApp(auth_service_pb2.CreateAppRequest(
            account_id=stack.account_id, name=f"batch-{uuid.uuid4().hex[:8]}"), metadata=md)).app.id


@pytest.mark.slow
async def test_batch_add_over_grpc(stack):
    import jwt

    api_md = (("authorization", f"Bearer {stack.api_token}"), (ACCOUNT_HEADER, stack.account_id))
    async with grpc.aio.insecure_channel(stack.grpc["meeting"]) as channel:
        meetings = meeting_service_pb2_grpc.MeetingServiceStub(channel)
        participants = participant_service_pb2_grpc.ParticipantServiceStub(channel)
        meeting = (await meetings.CreateMeeting(meeting_service_pb2.CreateMeetingRequest(
            app_id=stack.app_id, meeting=meeting_pb2.Meeting(title="grpc batch")), metadata=api_md)).meeting

        def batch(items, meeting_id=meeting.id, app_id=stack.app_id):
            return ps.BatchAddParticipantsRequest(app_id=app_id, meeting_id=meeting_id, participants=items)

        async def listed() -> list[participant_pb2.Participant]:
            items: list[participant_pb2.Participant] = []
            token = ""
            while True:
                response = await participants.ListParticipants(ps.ListParticipantsRequest(
                    app_id=stack.app_id, meeting_id=meeting.id, page_size=100, page_token=token), metadata=api_md)
                items.extend(response.participants)
                token = response.next_page_token
                if not token:
                    assert response.total_size == len(items)
                    return items

        requested = [
            P(custom_participant_id="g0", preset_name="group_call_host", name="Ada"),
            P(custom_participant_id="bad-preset", preset_name="no-such-preset"),
            P(custom_participant_id="g2", preset_name="webinar_viewer"),
            P(preset_name="group_call_host"),  # custom_participant_id missing
            P(custom_participant_id="g4", preset_name="group_call_participant", name="x" * 10),
            P(custom_participant_id="long", preset_name="group_call_host", name="n" * 256),
        ]
        response = await participants.BatchAddParticipants(batch(requested), metadata=api_md)
        assert len(response.results) == len(requested)
        kinds = [r.WhichOneof("outcome") for r in response.results]
        assert kinds == ["added", "error", "added", "error", "added", "error"]
        errors = {i: decode_status(r.error) for i, r in enumerate(response.results) if r.HasField("error")}
        assert errors[1].reason == "PRESET_NOT_FOUND" and errors[1].code == grpc.StatusCode.NOT_FOUND
        assert errors[1].http_status == 404 and "no-such-preset" in errors[1].message
        assert errors[3].reason == "INVALID_FIELD" and errors[3].code == grpc.StatusCode.INVALID_ARGUMENT
        assert [f for f, _ in errors[3].field_violations] == ["custom_participant_id"]
        assert errors[5].reason == "INVALID_FIELD" and [f for f, _ in errors[5].field_violations] == ["name"]
        # Each item's error is what AddParticipant alone answers for it.
        for i, decoded in errors.items():
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await participants.AddParticipant(ps.AddParticipantRequest(
                    app_id=stack.app_id, meeting_id=meeting.id, participant=requested[i]), metadata=api_md)
            alone = decode_rpc_error(err.value)
            assert (alone.code, alone.reason, alone.message, alone.field_violations) == (
                decoded.code, decoded.reason, decoded.message, decoded.field_violations)

        added = [r.added for r in response.results if r.HasField("added")]
        assert [a.participant.custom_participant_id for a in added] == ["g0", "g2", "g4"]
        assert len({a.token for a in added}) == 3
        for a in added:
            claims = jwt.decode(a.token, options={"verify_signature": False})
            assert claims["participantId"] == a.participant.id and claims["meetingId"] == meeting.id
            got = await participants.GetParticipant(ps.GetParticipantRequest(
                app_id=stack.app_id, meeting_id=meeting.id, participant_id=a.participant.id), metadata=api_md)
            assert got.participant == a.participant
        assert sorted(p.id for p in await listed()) == sorted(a.participant.id for a in added)

        # Whole-call failures: a gRPC error, nobody added.
        good = [P(custom_participant_id="w", preset_name="group_call_host")]
        for request, reason in (
            (batch(good, meeting_id=str(uuid.uuid4())), "MEETING_NOT_FOUND"),
            (batch([]), "INVALID_FIELD"),
            (batch([P(custom_participant_id=f"m{i}", preset_name="group_call_host") for i in range(101)]),
             "INVALID_FIELD"),
        ):
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await participants.BatchAddParticipants(request, metadata=api_md)
            assert decode_rpc_error(err.value).reason == reason, request.meeting_id
        full = await participants.BatchAddParticipants(batch(
            [P(custom_participant_id=f"h{i}", preset_name="webinar_viewer") for i in range(100)]), metadata=api_md)
        assert all(r.HasField("added") for r in full.results) and len(full.results) == 100
        expected = sorted([a.participant.id for a in added] + [r.added.participant.id for r in full.results])

        # Tenant isolation. Unauthenticated: refused.
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await participants.BatchAddParticipants(batch(good))
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
        # Another app of the same account cannot reach this app's meeting.
        sibling = await _same_account_app(stack)
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await participants.BatchAddParticipants(batch(good, app_id=sibling), metadata=api_md)
        assert decode_rpc_error(err.value).reason == "MEETING_NOT_FOUND"
        # Another account: neither through its own app nor by naming this app.
        account_b, app_b, token_b = await _second_tenant(stack)
        md_b = (("authorization", f"Bearer {token_b}"), (ACCOUNT_HEADER, account_b))
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await participants.BatchAddParticipants(batch(good, app_id=app_b), metadata=md_b)
        assert decode_rpc_error(err.value).reason == "MEETING_NOT_FOUND"
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await participants.BatchAddParticipants(batch(good), metadata=md_b)
        assert decode_rpc_error(err.value).reason in ("APP_NOT_FOUND", "FORBIDDEN")
        md_b_claiming_a = (("authorization", f"Bearer {token_b}"), (ACCOUNT_HEADER, stack.account_id))
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await participants.BatchAddParticipants(batch(good), metadata=md_b_claiming_a)
        assert decode_rpc_error(err.value).reason in ("APP_NOT_FOUND", "FORBIDDEN", "TOKEN_INVALID")

        assert sorted(p.id for p in await listed()) == expected
