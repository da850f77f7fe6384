"""MediaRouter with one active speaker per session instead of one per process.

`rtk_sfu.media.MediaRouter` evaluates a single, process-wide active speaker (the loudest audio
producer of the whole node), which is wrong as soon as a node hosts two sessions. Until the
media plane offers grouping (docs/notes/media-requests.md §1) this subclass re-implements the
evaluation per session, reading the same per-track level accumulators. If the media plane's
internals change (renamed attributes), it falls back to the stock evaluation rather than
breaking the router's housekeeping.
"""

from __future__ import annotations

from collections.abc import Callable

from rtkit.logging import get_logger

from rtk_sfu.media import COUNTERS, MediaRouter

log = get_logger("rtk_sfu.rooms")


class SessionRouter(MediaRouter):
    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        #: transport (publisher) id → session id; set by RoomManager
        self.group_of: Callable[[str], str | None] = lambda _peer_id: None
        self._group_speakers: dict[str, str] = {}
        self._fallback = False

    def forget_group(self, group: str) -> None:
        self._group_speakers.pop(group, None)

    def _evaluate_speaker(self) -> None:
        if not self._fallback:
            try:
                self._evaluate_per_group()
                return
            except AttributeError as exc:  # media plane internals changed: stock behaviour
                self._fallback = True
                log.warning("sfu_speaker_fallback", error=str(exc))
        super()._evaluate_speaker()

    def _evaluate_per_group(self) -> None:
        threshold = 127 - self.config.speaker_silence_dbov
        best: dict[str, tuple[str, float]] = {}
        for (peer_id, kind), ing in list(self._producers.items()):
            if kind != "audio":
                continue
            n, total = ing.level_n, ing.level_sum
            ing.level_n = ing.level_sum = 0
            if not n or not ing.allowed:
                continue
            level = total / n
            if level < threshold:
                continue
            group = self.group_of(peer_id)
            if group is None:
                continue
            if level > best.get(group, ("", -1.0))[1]:
                best[group] = (peer_id, level)
        for group, (peer_id, level) in best.items():
            if self._group_speakers.get(group) == peer_id:
                continue
            self._group_speakers[group] = peer_id
            self._active_speaker = peer_id
            COUNTERS.speaker_changes += 1
            if self.on_active_speaker is not None:
                self._call(self.on_active_speaker, peer_id, level)
