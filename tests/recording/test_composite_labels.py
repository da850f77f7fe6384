"""What a viewer of a composite recording sees on each tile, checked on the encoded file: the
participant's name at the bottom left (dark band, white text), an avatar tile (initials on a
disc) for a participant with a microphone but no camera or a camera without a picture yet, and
"<name> (screen)" on a screenshare. The Compositor is fed synthetic VP8 frames directly (no
stack), so these run in about a second."""

from __future__ import annotations

import fractions

import av
import numpy as np
import pytest
from recording_helpers import close_to, corner_stats, dominant_rgb, luma
from rtk_recording.media import labels
from rtk_recording.media.composite import CompositeConfig, Compositor, _Avatar, _VideoTrack

RED, BLUE, WHITE = (230, 30, 30), (30, 30, 230), (235, 235, 235)


def _vp8(rgb: tuple[int, int, int], width: int = 320, height: int = 240, n: int = 30) -> list[bytes]:
    """`n` VP8 frames of a solid colour (the first a key frame)."""
    enc = av.CodecContext.create("libvpx", "w")
    enc.width, enc.height, enc.pix_fmt = width, height, "yuv420p"
    enc.time_base = fractions.Fraction(1, 15)
    enc.options = {"deadline": "realtime", "cpu-used": "8"}
    enc.open()
    img = np.empty((height, width, 3), np.uint8)
    img[:] = rgb
    packets = []
    for i in range(n):
        frame = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format="yuv420p")
        frame.pts = i
        packets += [bytes(p) for p in enc.encode(frame)]
    return packets + [bytes(p) for p in enc.encode(None)]


def _feed(comp: Compositor, key: str, packets: list[bytes], fps: int = 15) -> None:
    for i, data in enumerate(packets):
        comp.frame(key, "vp8", i / fps, data, i == 0)


def _last_frame(path) -> np.ndarray:
    with av.open(str(path)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert frames
    return frames[-1]


@pytest.fixture
def make(tmp_path):
    def make(width: int = 1280, height: int = 720) -> Compositor:
        return Compositor(CompositeConfig(directory=str(tmp_path), base_name="labels", video_codec="h264",
                                          width=width, height=height, fps=15, audio_export=False))
    return make


def test_names_on_camera_tiles_and_avatars_for_audio_only_and_pictureless_peers(make):
    comp = make()
    comp.add_track("alice:audio", "audio", "Alice Liddell")
    comp.add_track("alice:video", "video", "Alice Liddell")
    comp.add_track("bob:video", "video", "Bob Marley")
    comp.add_track("carol:audio", "audio", "Carol Danvers")  # microphone only
    comp.add_track("dana:video", "video", "Dana Scully")  # camera that never sends a picture
    comp.add_track("dana:audio", "audio", "Dana Scully")
    _feed(comp, "alice:video", _vp8(RED))
    _feed(comp, "bob:video", _vp8(BLUE))
    comp.render(2.0)
    assert comp._labels.rendered == 6  # 4 labels + 2 avatars, once each for 30 frames
    comp.finish(2.0)
    frame = _last_frame(comp.path)

    # A 2×2 grid of 640×360 cells: the 320×240 cameras scaled to 480×360 (x + 80), the avatars
    # filling their cells.
    for (x, y, w, h), colour in (((80, 0, 480, 360), RED), ((720, 0, 480, 360), BLUE)):
        assert close_to(dominant_rgb(frame, x + w // 2, y + h // 2), colour)
        stats = corner_stats(frame, x, y, w, h)
        assert stats["dark_left"] >= 300 and stats["bright_left"] >= 30, stats  # the name tag
        assert stats["dark_right"] < 20 and stats["bright_right"] < 5, stats  # only at the left
    for x, y in ((0, 360), (640, 360)):  # carol (audio only), dana (no picture yet)
        centre = luma(frame[y + 130: y + 230, x + 270: x + 370].astype(np.float32))
        background = luma(frame[y + 20: y + 60, x + 20: x + 60].astype(np.float32))
        assert 25 < float(np.median(background)) < 80  # a dark grey tile, not black
        assert np.count_nonzero(centre > 200) >= 200  # the initials, large and white
        assert 50 < float(np.median(centre)) < 200  # on a coloured disc
        stats = corner_stats(frame, x, y, 640, 360)
        assert stats["bright_left"] >= 30 and stats["bright_right"] < 5, stats


def test_a_screenshare_is_labelled_and_an_avatar_follows_the_camera(make):
    comp = make(640, 360)
    comp.add_track("frank:video", "video", "Frank")
    comp.add_track("frank:audio", "audio", "Frank")
    comp.add_track("frank:screenshare", "video", "Frank", True)
    comp.add_track("frank:screenshare_audio", "audio", "Frank", True)  # no tile of its own
    _feed(comp, "frank:video", _vp8(RED))
    _feed(comp, "frank:screenshare", _vp8(WHITE, 640, 360))
    comp.render(1.0)
    texts = {key[0] for key in comp._labels._labels}
    assert texts == {"Frank", "Frank (screen)"}
    layout = comp._layout()
    assert [(type(t).__name__, t.screen) for _, t in layout] == [("_VideoTrack", True), ("_VideoTrack", False)]
    comp.finish(1.0)
    frame = _last_frame(comp.path)
    # The screenshare (640×360 in the 480-wide main area: 480×270 at y 44) has its label.
    assert close_to(dominant_rgb(frame, 240, 180), WHITE)
    stats = corner_stats(frame, 0, 44, 480, 270)
    assert stats["dark_left"] >= 300 and stats["bright_right"] < 5, stats

    # Camera off (its track removed), microphone still on: an avatar; microphone off too: no tile.
    comp2 = make()
    comp2.add_track("g:video", "video", "Grace Hopper")
    comp2.add_track("g:audio", "audio", "Grace Hopper")
    comp2.add_track("h:audio", "audio", "Hedy")
    assert [type(t) for _, t in comp2._layout()] == [_Avatar, _Avatar]  # no picture yet
    _feed(comp2, "g:video", _vp8(BLUE, n=3))
    comp2.render(0.5)
    assert [type(t) for _, t in comp2._layout()] == [_VideoTrack, _Avatar]
    comp2.remove_track("g:video")
    assert [t.name for _, t in comp2._layout()] == ["Grace Hopper", "Hedy"]
    assert all(isinstance(t, _Avatar) for _, t in comp2._layout())
    comp2.remove_track("g:audio")
    assert [t.name for _, t in comp2._layout()] == ["Hedy"]
    comp2.finish(0.6)


def test_labels_fit_their_tile():
    assert labels.initials("Ada Lovelace") == "AL"
    assert labels.initials("ada") == "A"
    assert labels.initials("bob 7") == "B"
    assert labels.initials("  ") == "?"
    assert labels.font_size(720) == 24 and labels.font_size(180) == 11 and labels.font_size(90) == 11
    long = labels.render_label("A very long display name that cannot fit in a small tile", 11, 200, 120)
    assert long is not None and long.width <= 200 - 2 * long.margin
    assert labels.render_label("Ann", 11, 30, 120) is None  # too narrow to be legible: no label
    assert labels.render_label("", 11, 300, 200) is None
    y, u, v = labels.render_avatar("Ann", 64, 36)
    assert y.shape == (36, 64) and u.shape == v.shape == (18, 32)


def test_a_participant_without_tracks_has_an_avatar_tile_that_their_camera_joins(make):
    comp = make(640, 360)
    comp.add_participant("ivy", "Ivy Ng")  # joined with camera and microphone off
    assert [(type(t), t.name) for _, t in comp._layout()] == [(_Avatar, "Ivy Ng")]
    comp.add_participant("jo", "Jo March")
    comp.add_track("jo:audio", "audio", "Jo March")
    comp.add_track("jo:video", "video", "Jo March")  # presence + camera + microphone: one tile
    _feed(comp, "jo:video", _vp8(RED, n=3))
    comp.render(0.5)
    assert [(type(t), t.name) for _, t in comp._layout()] == [(_Avatar, "Ivy Ng"), (_VideoTrack, "Jo March")]

    # Jo turns the camera and microphone off: still in the session, so an avatar in the same place.
    comp.remove_track("jo:video")
    comp.remove_track("jo:audio")
    assert [(type(t), t.name) for _, t in comp._layout()] == [(_Avatar, "Ivy Ng"), (_Avatar, "Jo March")]
    comp.render(1.0)
    comp.remove_participant("ivy")  # left: no tile
    assert [(type(t), t.name) for _, t in comp._layout()] == [(_Avatar, "Jo March")]
    comp.remove_participant("jo")
    assert comp._layout() == [] and comp.order == {}
    comp.render(1.5)
    comp.finish(1.5)
    with av.open(str(comp.path)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    # Between 0.5 s and 1 s: two avatars side by side (320×360 cells), Ivy's initials on the left.
    two = frames[12]
    for x in (0, 320):
        centre = luma(two[130:230, x + 110: x + 210].astype(np.float32))
        assert np.count_nonzero(centre > 200) >= 100, x  # the initials
    assert np.max(luma(frames[-1].astype(np.float32))) < 40  # nobody left: an empty (black) picture
