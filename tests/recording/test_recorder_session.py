"""Which participants the recorder reports for the composite's tiles: the visible ones on stage
(presets without a stage are always on it); webinar viewers off stage get no tile until they
join the stage, and lose it when they leave it or the meeting."""

from __future__ import annotations

from types import SimpleNamespace

from rtk_recording.recorder.session import SdkSession


class Joined:
    def __init__(self, *participants: SimpleNamespace) -> None:
        self.by_id = {p.id: p for p in participants}

    def to_list(self) -> list[SimpleNamespace]:
        return list(self.by_id.values())

    def get(self, peer_id: str) -> SimpleNamespace | None:
        return self.by_id.get(peer_id)


class Listener:
    def __init__(self) -> None:
        self.events: list[tuple[str, ...]] = []

    def track_added(self, track) -> None:
        self.events.append(("track_added", track.key))

    def track_removed(self, key: str) -> None:
        self.events.append(("track_removed", key))

    def peer_joined(self, peer_id: str, name: str) -> None:
        self.events.append(("peer_joined", peer_id, name))

    def peer_left(self, peer_id: str) -> None:
        self.events.append(("peer_left", peer_id))

    def session_lost(self, reason: str) -> None:
        self.events.append(("session_lost", reason))


def test_only_participants_on_stage_get_a_tile():
    host = SimpleNamespace(id="h", name="Host", user_id="u1", stage_status="ON_STAGE")
    viewer = SimpleNamespace(id="v", name="Viewer", user_id="u2", stage_status="OFF_STAGE")
    joined = Joined(host, viewer)
    meeting = SimpleNamespace(participants=SimpleNamespace(joined=joined), received_tracks=lambda: [])
    listener = Listener()
    session = SdkSession(meeting, listener)
    session.peer_id = "recorder"

    session.poll()
    assert listener.events == [("peer_joined", "h", "Host")]

    viewer.stage_status = "ON_STAGE"  # granted and joined the stage
    session.poll()
    viewer.name = "Viewer 2"  # renamed: the tile follows
    session.poll()
    assert listener.events[1:] == [("peer_joined", "v", "Viewer"), ("peer_joined", "v", "Viewer 2")]

    viewer.stage_status = "OFF_STAGE"  # left the stage
    session.poll()
    del joined.by_id["h"]  # left the meeting
    session.poll()
    assert listener.events[3:] == [("peer_left", "v"), ("peer_left", "h")]
