"""Stage transitions, permissions and producer authorization (reference §8)."""

from __future__ import annotations

from realtime.meeting.v1 import preset_pb2 as P
from realtime.session.v1 import session_pb2 as S
from realtime.session.v1 import session_service_pb2 as pb
from realtime.session.v1 import stage_pb2 as st
from realtime.signaling.v1 import signal_pb2 as sig

A = sig.StageActionType


async def authorize(world, peer, kind=S.MEDIA_KIND_AUDIO):
    return await world.sessions.AuthorizeProducer(pb.AuthorizeProducerRequest(peer_id=peer.peer_id, kind=kind),
                                                  metadata=world.md)


async def stage(peer, action, user_ids=()):
    return await peer.send(stage_action=sig.StageAction(action=action, user_ids=list(user_ids)))


async def test_request_grant_join_kick(world):
    mid = await world.meeting()
    presenter = await world.join(mid, "webinar_presenter", "Presenter")
    viewer = await world.join(mid, "webinar_viewer", "Viewer")
    assert viewer.join_response.self.stage_status == st.STAGE_STATUS_OFF_STAGE
    denied = await authorize(world, viewer)
    assert not denied.allowed and denied.reason == "STAGE_ACCESS_NOT_ALLOWED"
    assert (await stage(viewer, A.STAGE_ACTION_TYPE_JOIN)).error.reason == "STAGE_ACCESS_NOT_ALLOWED"

    assert (await stage(viewer, A.STAGE_ACTION_TYPE_REQUEST_ACCESS)).WhichOneof("message") == "ack"
    mine = await viewer.expect("stage_status")
    assert mine.status == st.STAGE_STATUS_REQUESTED_TO_JOIN_STAGE
    requests = await presenter.expect("stage_requests", lambda r: len(r.requests) == 1)
    assert requests.requests[0].user_id == viewer.user_id
    updated = await presenter.expect("participant_updated", lambda u: u.participant.id == viewer.peer_id)
    assert updated.participant.stage_status == st.STAGE_STATUS_REQUESTED_TO_JOIN_STAGE

    # a viewer cannot moderate the stage
    refused = await stage(viewer, A.STAGE_ACTION_TYPE_GRANT_ACCESS, [viewer.user_id])
    assert refused.error.reason == "PERMISSION_DENIED_BY_PRESET"

    await presenter.ok(stage_action=sig.StageAction(action=A.STAGE_ACTION_TYPE_GRANT_ACCESS,
                                                    user_ids=[viewer.user_id]))
    granted = await viewer.expect("stage_status")
    assert granted.status == st.STAGE_STATUS_ACCEPTED_TO_JOIN_STAGE and granted.reason == "grantAccess"
    await presenter.expect("stage_requests", lambda r: len(r.requests) == 0)
    assert not (await authorize(world, viewer)).allowed  # accepted is not on stage yet

    await viewer.ok(stage_action=sig.StageAction(action=A.STAGE_ACTION_TYPE_JOIN))
    assert (await viewer.expect("stage_status")).status == st.STAGE_STATUS_ON_STAGE
    allowed = await authorize(world, viewer)
    assert allowed.allowed and allowed.participant_id == viewer.user_id and allowed.meeting_id == mid
    screen = await authorize(world, viewer, S.MEDIA_KIND_SCREENSHARE)  # webinar_viewer: screenshare NOT_ALLOWED
    assert not screen.allowed and screen.reason == "PERMISSION_DENIED_BY_PRESET"
    await viewer.ok(media_update=sig.MediaStateUpdate(audio_enabled=True))
    upd = await presenter.expect("participant_updated", lambda u: u.participant.audio_enabled)
    assert "audio_enabled" in upd.changed_fields

    await presenter.ok(stage_action=sig.StageAction(action=A.STAGE_ACTION_TYPE_KICK, user_ids=[viewer.peer_id]))
    kicked = await viewer.expect("stage_status")
    assert kicked.status == st.STAGE_STATUS_OFF_STAGE and kicked.reason == "kick"
    assert not (await authorize(world, viewer)).allowed
    off = await presenter.expect("participant_updated", lambda u: u.participant.id == viewer.peer_id
                                 and u.participant.stage_status == st.STAGE_STATUS_OFF_STAGE)
    assert not off.participant.audio_enabled  # leaving the stage stops publishing

    statuses = [e.stage_status_changed.status for e in await world.wait_event("stage_status_changed", 4)]
    assert statuses == [st.STAGE_STATUS_REQUESTED_TO_JOIN_STAGE, st.STAGE_STATUS_ACCEPTED_TO_JOIN_STAGE,
                        st.STAGE_STATUS_ON_STAGE, st.STAGE_STATUS_OFF_STAGE]


async def test_cancel_deny_invite_and_leave(world):
    mid = await world.meeting()
    presenter = await world.join(mid, "webinar_presenter", "Presenter")
    viewer = await world.join(mid, "webinar_viewer", "Viewer")
    await viewer.ok(stage_action=sig.StageAction(action=A.STAGE_ACTION_TYPE_REQUEST_ACCESS))
    await viewer.ok(stage_action=sig.StageAction(action=A.STAGE_ACTION_TYPE_CANCEL_REQUEST_ACCESS))
    assert (await viewer.expect("stage_status", lambda s: s.status == st.STAGE_STATUS_OFF_STAGE)).reason == \
        "cancelRequestAccess"
    await viewer.ok(stage_action=sig.StageAction(action=A.STAGE_ACTION_TYPE_REQUEST_ACCESS))
    await presenter.ok(stage_action=sig.StageAction(action=A.STAGE_ACTION_TYPE_DENY_ACCESS,
                                                    user_ids=[viewer.user_id]))
    assert (await viewer.expect("stage_status", lambda s: s.reason == "denyAccess")).status == \
        st.STAGE_STATUS_OFF_STAGE
    # invite without a request
    await presenter.ok(stage_action=sig.StageAction(action=A.STAGE_ACTION_TYPE_GRANT_ACCESS,
                                                    user_ids=[viewer.user_id]))
    assert (await viewer.expect("stage_status", lambda s: s.reason == "grantAccess")).status == \
        st.STAGE_STATUS_ACCEPTED_TO_JOIN_STAGE
    await viewer.ok(stage_action=sig.StageAction(action=A.STAGE_ACTION_TYPE_LEAVE))
    assert (await viewer.expect("stage_status", lambda s: s.reason == "leave")).status == st.STAGE_STATUS_OFF_STAGE
    snapshot = (await presenter.ok(sync=sig.SyncRequest())).join_response.stage
    assert not snapshot.on_stage_peer_ids and not snapshot.accepted_peer_ids and not snapshot.requested_peer_ids


async def test_allowed_preset_goes_straight_to_accepted(world):
    mid = await world.meeting()
    presenter = await world.join(mid, "webinar_presenter", "Presenter")
    assert not (await authorize(world, presenter)).allowed  # everyone joins the stage first
    await presenter.ok(stage_action=sig.StageAction(action=A.STAGE_ACTION_TYPE_REQUEST_ACCESS))
    assert (await presenter.expect("stage_status")).status == st.STAGE_STATUS_ACCEPTED_TO_JOIN_STAGE
    await presenter.ok(stage_action=sig.StageAction(action=A.STAGE_ACTION_TYPE_JOIN))
    assert (await authorize(world, presenter, S.MEDIA_KIND_VIDEO)).allowed
    listed = (await presenter.ok(stage_request_list=sig.StageRequestList())).stage_requests
    assert not listed.requests


async def test_not_allowed_cannot_request_and_group_calls_have_no_stage(world):
    mid = await world.meeting()

    def view_only(perms: P.PresetPermissions) -> None:
        perms.stage_access = P.STAGE_ACCESS_NOT_ALLOWED
        for media in (perms.media.audio, perms.media.video):
            media.can_produce = P.PRODUCE_PERMISSION_NOT_ALLOWED

    watcher = await world.join(mid, await world.preset("webinar_viewer", change=view_only), "Watcher")
    refused = await watcher.send(stage_action=sig.StageAction(action=A.STAGE_ACTION_TYPE_REQUEST_ACCESS))
    assert refused.error.reason == "STAGE_ACCESS_NOT_ALLOWED"
    media = await watcher.send(media_update=sig.MediaStateUpdate(video_enabled=True))
    assert media.error.reason == "PERMISSION_DENIED_BY_PRESET"

    caller = await world.join(mid, "group_call_participant", "Caller")
    assert caller.join_response.self.stage_status == st.STAGE_STATUS_ON_STAGE
    assert (await authorize(world, caller)).allowed
    no_stage = await caller.send(stage_action=sig.StageAction(action=A.STAGE_ACTION_TYPE_REQUEST_ACCESS))
    assert no_stage.error.reason == "STAGE_ACCESS_NOT_ALLOWED"
    unknown = await world.sessions.AuthorizeProducer(
        pb.AuthorizeProducerRequest(peer_id="00000000-0000-0000-0000-000000000000", kind=S.MEDIA_KIND_AUDIO),
        metadata=world.md)
    assert not unknown.allowed and unknown.reason == "PEER_NOT_FOUND"
