"""Stage: request / grant / deny / join / leave / kick (webinar presets)."""

from __future__ import annotations

import pytest
from realtimekit import ClientError
from signaling_helpers import joined, until


async def test_stage_request_grant_join_kick_deny(api, connect):
    meeting_id = await api.meeting()
    host = await joined(connect, await api.token(meeting_id, "webinar_presenter", "Presenter"))
    viewer = await joined(connect, await api.token(meeting_id, "webinar_viewer", "Viewer"))
    assert viewer.stage.status == "OFF_STAGE"
    assert viewer.self.permissions.stage_access == "CAN_REQUEST"

    # Joining without being accepted is refused.
    with pytest.raises(ClientError):
        await viewer.stage.join()

    requested = host.stage.wait_for("stageAccessRequestUpdate", lambda reqs: any(r.peer_id == viewer.self.id for r in reqs))
    await viewer.stage.request_access()
    await until(lambda: viewer.stage.status == "REQUESTED_TO_JOIN_STAGE", viewer.stage, "stageStatusUpdate")
    await requested
    assert [r.user_id for r in await host.stage.get_access_requests()] == [viewer.self.user_id]

    approved = viewer.stage.wait_for("stageRequestApproved")
    await host.stage.grant_access([viewer.self.user_id])
    await approved
    assert viewer.stage.status == "ACCEPTED_TO_JOIN_STAGE"

    on_stage = host.participants.joined[viewer.self.id].wait_for("stageStatusUpdate", lambda s: s == "ON_STAGE")
    await viewer.stage.join()
    await on_stage
    assert viewer.stage.status == "ON_STAGE"

    kicked = viewer.stage.wait_for("stageStatusUpdate", lambda s: s == "OFF_STAGE")
    await host.stage.kick([viewer.self.user_id])
    await kicked

    # Request again, get denied.
    await viewer.stage.request_access()
    denied = viewer.stage.wait_for("stageRequestRejected")
    await host.stage.deny_access([viewer.self.id])
    await denied
    assert viewer.stage.status == "OFF_STAGE"

    # An invite (grant without request), then join and leave.
    await host.stage.grant_access([viewer.self.user_id])
    await until(lambda: viewer.stage.status == "ACCEPTED_TO_JOIN_STAGE", viewer.stage, "stageStatusUpdate")
    await viewer.stage.join()
    off = viewer.stage.wait_for("stageStatusUpdate", lambda s: s == "OFF_STAGE")
    await viewer.stage.leave()
    await off


async def test_presenter_goes_on_stage_directly_and_viewers_cannot_moderate(api, connect):
    meeting_id = await api.meeting()
    host = await joined(connect, await api.token(meeting_id, "webinar_presenter"))
    viewer = await joined(connect, await api.token(meeting_id, "webinar_viewer"))
    await host.stage.request_access()  # ALLOWED: straight to ACCEPTED_TO_JOIN_STAGE
    await until(lambda: host.stage.status == "ACCEPTED_TO_JOIN_STAGE", host.stage, "stageStatusUpdate")
    await host.stage.join()
    for action in (viewer.stage.grant_access, viewer.stage.deny_access, viewer.stage.kick):
        with pytest.raises(ClientError) as refused:
            await action([host.self.user_id])
        assert refused.value.code == "0101"
    remote = viewer.participants.joined[host.self.id]
    await until(lambda: remote.stage_status == "ON_STAGE", remote, "stageStatusUpdate")
