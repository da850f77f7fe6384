"""The meeting page in real headless Chromium (fake camera, microphone and screen) against the real
stack: browsers and Python SDK peers meet through the SFU, and what each participant sees and
decodes is checked (getStats of the page's own RTCPeerConnections, the DOM, screenshots)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from web_helpers import (
    decoded,
    image_stats,
    open_meeting,
    open_panel,
    read_png,
    tile_selector,
    wait_participants,
    wait_tile,
)

MIC = 'rtk-meeting footer >> role=button[name="Microphone"]'
CAMERA = 'rtk-meeting footer >> role=button[name="Camera"]'
SCREEN = 'rtk-meeting footer >> role=button[name="Share screen"]'


async def pressed(page: Any, control: str, value: bool) -> None:
    """Wait until a toggle of the control bar shows state `value` (aria-pressed)."""
    await page.wait(f'{control}[pressed={str(value).lower()}]')


async def _pair(browser: Any, pages: list[Any], stack: Any, api: Any, title: str) -> tuple[Any, Any]:
    meeting_id = await api.meeting(title)
    host_token, guest_token = await asyncio.gather(api.token(meeting_id, "group_call_host", "Ada"),
                                                   api.token(meeting_id, "group_call_participant", "Bob"))
    ada = await open_meeting(browser, pages, stack, "ada", host_token)
    bob = await open_meeting(browser, pages, stack, "bob", guest_token)
    await wait_participants(ada, 1)
    await wait_participants(bob, 1)
    return ada, bob


async def test_two_browsers_see_and_hear_each_other(browser: Any, pages: list[Any], stack: Any, api: Any,
                                                    tmp_path: Path) -> None:
    ada, bob = await _pair(browser, pages, stack, api, "two browsers")

    # Each decodes the other's camera (Chromium's fake device: 640×480) and microphone.
    for page, other in ((ada, "Bob"), (bob, "Ada")):
        video = await decoded(page, other, "video", min_frames=10)
        assert video["framesDecoded"] >= 10 and (video["width"], video["height"]) == (640, 480), video
        audio = await decoded(page, other, "audio")
        assert audio["samples"] > 0 and audio["packets"] > 10 and audio["energy"] > 0, audio
        # The grid shows the other's camera tile with live video and a playing <video>.
        await wait_tile(page, other, videoEnabled="true", audioEnabled="true")
        await page.wait_for(
            "(sel) => { const v = document.querySelector(sel + ' video'); return v && !v.paused && v.videoWidth > 0; }",
            tile_selector(other), timeout=20)
        # Remote audio is played by <rtk-audio>.
        assert await page.eval("() => [...document.querySelectorAll('rtk-audio audio')].filter((a) => !a.paused && a.srcObject).length") == 1

    # A screenshot of Ada's grid is not blank, and neither is the part showing Bob's camera.
    shot = await ada.screenshot(tmp_path / "ada-grid.png", selector="rtk-grid")
    width, height, rows = read_png(shot.read_bytes())
    grid = image_stats(rows)
    box = await ada.eval(
        """(sel) => { const g = document.querySelector('rtk-grid').getBoundingClientRect();
                      const v = document.querySelector(sel + ' video').getBoundingClientRect();
                      return [Math.round(v.x - g.x), Math.round(v.y - g.y), Math.round(v.width), Math.round(v.height)]; }""",
        tile_selector("Bob"))
    remote = image_stats(rows, tuple(box))
    assert width > 200 and height > 150, (width, height)
    assert rows[1][:3] == bytes((20, 20, 20))  # the grid's corner shows the theme's background #141414
    assert grid["colors"] > 50 and grid["stddev"] > 10, grid
    assert remote["pixels"] > 1000 and remote["colors"] > 50 and remote["stddev"] > 10, (box, remote)

    # Whoever speaks (Chromium's fake microphone beeps) gets the active-speaker highlight.
    await ada.wait("rtk-grid rtk-participant-tile[data-active-speaker]", timeout=30)

    # Neither page logged an error (uncaught exception, failed request, failed render).
    for page in (ada, bob):
        errors = [line for line in page.logs() if line.startswith(("[pageerror]", "[error]"))]
        assert errors == [], errors


async def test_browser_and_python_sdk_see_each_other(browser: Any, pages: list[Any], stack: Any, api: Any,
                                                     sdk_peer: Any) -> None:
    meeting_id = await api.meeting("browser and sdk")
    sam = await sdk_peer(await api.token(meeting_id, "group_call_participant", "Sam"))
    await sam.join()
    await asyncio.gather(sam.self.enable_video(), sam.self.enable_audio())
    ada = await open_meeting(browser, pages, stack, "ada", await api.token(meeting_id, "group_call_host", "Ada"))
    await wait_participants(ada, 1)

    # The browser decodes the SDK peer's synthetic 320×240 camera and its audio, and shows it.
    video = await decoded(ada, "Sam", "video", min_frames=5)
    assert (video["width"], video["height"]) == (320, 240), video
    assert (await decoded(ada, "Sam", "audio"))["energy"] > 0  # the SDK's tone, not silence
    await wait_tile(ada, "Sam", videoEnabled="true")

    # The SDK peer decodes the browser's camera (640×480) and microphone.
    ada_id = await ada.eval("() => window.meeting.self.id")
    deadline = asyncio.get_running_loop().time() + 20
    while sam._media.track_of(ada_id, "video") is None or sam._media.track_of(ada_id, "audio") is None:
        assert asyncio.get_running_loop().time() < deadline, "the SDK peer got no track of the browser"
        await asyncio.sleep(0.1)
    camera, microphone = sam._media.track_of(ada_id, "video"), sam._media.track_of(ada_id, "audio")
    await camera.wait_for_frames(5, timeout=20)
    await microphone.wait_for_frames(10, timeout=20)
    assert (camera.width, camera.height) == (640, 480)
    assert sam.participants.joined[ada_id].name == "Ada"
    # What the SDK decoded is a picture (Chromium's fake camera: a moving pattern) and sound
    # (its fake microphone beeps): not a flat frame, not only silence.
    picture = (await camera.recv()).to_ndarray(format="gray")
    assert picture.shape == (480, 640) and picture.std() > 10, picture.std()
    loudest = 0
    for _ in range(250):  # 5 s of 20 ms frames: the beep comes once a second
        loudest = max(loudest, int(abs((await microphone.recv()).to_ndarray().astype("int32")).max()))
        if loudest > 1000:
            break
    assert loudest > 1000, loudest


async def test_mute_camera_screenshare_and_chat_reach_the_other_side(browser: Any, pages: list[Any], stack: Any,
                                                                     api: Any) -> None:
    ada, bob = await _pair(browser, pages, stack, api, "controls")
    await wait_tile(bob, "Ada", audioEnabled="true", videoEnabled="true")

    # Mute: Bob's tile of Ada says the microphone is off; unmute: on again.
    await ada.click(MIC)
    await pressed(ada, MIC, False)
    await wait_tile(bob, "Ada", audioEnabled="false")
    assert await bob.attribute(tile_selector("Ada") + " .rtk-tile-mic", "aria-label") == "Microphone off"
    await ada.click(MIC)
    await wait_tile(bob, "Ada", audioEnabled="true")
    await pressed(ada, MIC, True)

    # Camera off: Bob sees Ada's avatar instead of video; on: frames flow again.
    frames = (await decoded(bob, "Ada", "video", min_frames=1))["framesDecoded"]
    await ada.click(CAMERA)
    await wait_tile(bob, "Ada", videoEnabled="false")
    await bob.wait(tile_selector("Ada") + " .rtk-avatar")
    await ada.click(CAMERA)
    await wait_tile(bob, "Ada", videoEnabled="true")
    again = await decoded(bob, "Ada", "video", min_frames=frames + 10)
    assert again["framesDecoded"] >= frames + 10

    # Screen share: a second tile appears on Bob's page with the (fake) screen decoded; stopping
    # the share removes it.
    await ada.click(SCREEN)
    await pressed(ada, SCREEN, True)
    await wait_tile(bob, "Ada", "screenshare", videoEnabled="true")
    screen = await decoded(bob, "Ada", "screenshare", min_frames=2)
    assert screen["width"] > 0 and screen["height"] > 0, screen
    await ada.click(SCREEN)
    await bob.wait(tile_selector("Ada", "screenshare"), state="detached", timeout=20)
    await pressed(ada, SCREEN, False)

    # Chat: a message typed on one page appears on both, with its author.
    await open_panel(ada, "Chat")
    await ada.fill('rtk-chat >> role=textbox[name="Message"]', "Hello from Ada")
    await ada.press('rtk-chat >> role=textbox[name="Message"]', "Enter")
    await open_panel(bob, "Chat")
    for page, author in ((ada, "You"), (bob, "Ada")):
        await page.wait('rtk-chat li.rtk-chat-message:has-text("Hello from Ada")')
        assert await page.text('rtk-chat li.rtk-chat-message:has-text("Hello from Ada") strong') == author
    await bob.fill('rtk-chat >> role=textbox[name="Message"]', "Hi Ada")
    await bob.click('rtk-chat >> role=button[name="Send message"]')
    await ada.wait('rtk-chat li.rtk-chat-message:has-text("Hi Ada")')
    assert await ada.eval("() => window.meeting.chat.messages.map((m) => m.message)") == ["Hello from Ada", "Hi Ada"]


async def test_waiting_room_host_accepts_in_the_ui(browser: Any, pages: list[Any], stack: Any, api: Any) -> None:
    waiting_preset = await api.preset_copy("group_call_participant", permissions={"waiting_room_type": "SKIP_ON_ACCEPT"})
    meeting_id = await api.meeting("waiting room")
    host = await open_meeting(browser, pages, stack, "host", await api.token(meeting_id, "group_call_host", "Hana"))
    guest = await open_meeting(browser, pages, stack, "guest", await api.token(meeting_id, waiting_preset, "Gus"),
                               expect="waitlisted")
    await guest.wait('rtk-waiting-screen >> text="Waiting to be let in"')
    assert await guest.count("rtk-grid") == 0

    # The host sees the request in the participants panel and clicks Accept.
    await host.wait('rtk-notifications >> role=button[name="Admit Gus"]')
    await open_panel(host, "Participants")
    await host.click('rtk-participants >> role=button[name="Accept Gus"]')

    # The guest's page now shows the meeting, with the host's video.
    await guest.wait_for("() => window.meeting.self.roomState === 'joined'", timeout=20)
    await guest.wait('rtk-meeting[data-screen="meeting"] rtk-grid')
    await wait_tile(guest, "Hana", videoEnabled="true")
    await decoded(guest, "Hana", "video", min_frames=5)
    await host.wait('rtk-participants >> role=button[name="Accept Gus"]', state="detached")
    await wait_participants(host, 1)


async def test_webinar_viewer_requests_stage_and_host_grants_it(browser: Any, pages: list[Any], stack: Any,
                                                               api: Any) -> None:
    meeting_id = await api.meeting("webinar")
    # Wes's preset shows one video at a time (max_video_streams.desktop 2 = one remote tile + self).
    one_tile = await api.preset_copy("webinar_viewer", config={"max_video_streams": {"mobile": 2, "desktop": 2}})
    tokens = await asyncio.gather(api.token(meeting_id, "webinar_presenter", "Pia"),
                                  api.token(meeting_id, "webinar_viewer", "Vic"),
                                  api.token(meeting_id, one_tile, "Wes"))
    host = await open_meeting(browser, pages, stack, "presenter", tokens[0])
    viewer = await open_meeting(browser, pages, stack, "viewer", tokens[1])
    other = await open_meeting(browser, pages, stack, "other-viewer", tokens[2])
    await wait_participants(host, 2)

    # The presenter goes on stage; everybody sees and receives the presenter's camera.
    await host.click('role=button[name="Join stage"]')
    await host.wait('role=button[name="Leave stage"]', timeout=20)
    for page in (viewer, other):
        await wait_tile(page, "Pia", videoEnabled="true")
        await decoded(page, "Pia", "video", min_frames=5)

    # Off stage, a viewer neither publishes nor appears in the grid.
    assert await viewer.eval("() => window.meeting.self.stageStatus") == "OFF_STAGE"
    assert await host.count(tile_selector("Vic")) == 0

    await viewer.click('role=button[name="Request to join stage"]')
    await viewer.wait('role=button[name="Cancel stage request"]')

    # The host allows it from the participants panel.
    await open_panel(host, "Participants")
    await host.click('rtk-participants >> role=button[name="Allow Vic on stage"]')

    # The viewer is invited and joins the stage; the others receive its camera.
    await viewer.click('role=button[name="Join stage"]', timeout=20)
    await viewer.wait_for("() => window.meeting.self.stageStatus === 'ON_STAGE'", timeout=20)
    await viewer.wait('role=button[name="Leave stage"]')
    await wait_tile(host, "Vic", videoEnabled="true")
    for page in (host, other):
        video = await decoded(page, "Vic", "video", min_frames=5)
        assert (video["width"], video["height"]) == (640, 480), video
    await host.wait('rtk-participants >> role=button[name="Allow Vic on stage"]', state="detached")

    # Wes's grid has room for one of the two people on stage: it pages between them. (Until Wes
    # pages, page 1 follows the active speaker, so who is on it may change under our feet: read
    # the tiles once paging has fixed the order.)
    await other.wait('rtk-grid >> role=navigation[name="Grid pages"] >> text="Page 1 of 2"')
    assert await other.count("rtk-grid rtk-participant-tile") == 1
    await other.click('rtk-grid >> role=button[name="Next page"]')
    await other.wait('rtk-grid >> text="Page 2 of 2"')
    assert await other.count("rtk-grid rtk-participant-tile") == 1
    second = await other.attribute("rtk-grid rtk-participant-tile", "aria-label")
    await wait_tile(other, second, videoEnabled="true")
    await other.click('rtk-grid >> role=button[name="Previous page"]')
    await other.wait('rtk-grid >> text="Page 1 of 2"')
    await other.wait(f'rtk-grid rtk-participant-tile:not([aria-label="{second}"])')
    assert await other.count("rtk-grid rtk-participant-tile") == 1
    first = await other.attribute("rtk-grid rtk-participant-tile", "aria-label")
    assert {first, second} == {"Pia", "Vic"}
    await wait_tile(other, first, videoEnabled="true")
