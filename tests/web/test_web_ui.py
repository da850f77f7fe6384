"""The meeting page as a user without a mouse, a themed preset and a network drop: keyboard-reachable
labelled controls, colours from the preset's ui.design_tokens, and the browser SDK resuming its
peer after the signaling socket is lost."""

from __future__ import annotations

from typing import Any

from web_helpers import RESUME_WINDOW_SECONDS, decoded, open_meeting, wait_participants, wait_tile

# JS: the accessible name of the focused element (aria-label, <label for>, or its text).
FOCUSED_NAME = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const label = el.getAttribute('aria-label') || (el.labels && el.labels[0] && el.labels[0].textContent) || el.textContent;
  return {tag: el.tagName.toLowerCase(), name: (label || '').trim()};
}"""


async def _focus_settles_on(page: Any, name: str) -> None:
    """Wait until the keyboard focus is on the control named `name` (focus moves after a frame)."""
    await page.wait_for(f"() => {{ const f = ({FOCUSED_NAME})(); return !!f && f.name === {name!r}; }}")

# JS: visible interactive elements of the page that have no accessible name.
UNLABELLED = """() => [...document.querySelectorAll('button, input, select, textarea, [role=button]')]
  .filter((el) => el.offsetParent !== null)
  .filter((el) => !((el.getAttribute('aria-label') || '').trim() || (el.labels && el.labels.length && el.labels[0].textContent.trim())
                    || (el.tagName === 'BUTTON' && el.textContent.trim())))
  .map((el) => el.outerHTML.slice(0, 120))"""


async def _tab_to(page: Any, name: str, limit: int = 40) -> list[str]:
    """Press Tab until the element named `name` has the focus; the names passed on the way."""
    seen: list[str] = []
    for _ in range(limit):
        await page.keyboard("Tab")
        focused = await page.eval(FOCUSED_NAME)
        if focused:
            seen.append(focused["name"])
            if focused["name"] == name:
                return seen
    raise AssertionError(f"{name!r} is not reachable with Tab; focus went through {seen}")


async def test_keyboard_only_user_joins_mutes_chats_and_leaves(browser: Any, pages: list[Any], stack: Any, api: Any) -> None:
    meeting_id = await api.meeting("keyboard")
    bob = await open_meeting(browser, pages, stack, "bob", await api.token(meeting_id, "group_call_participant", "Bob"))
    kim = await open_meeting(browser, pages, stack, "kim", await api.token(meeting_id, "group_call_host", "Kim"),
                             join=False)
    # Setup screen: name field, microphone / camera toggles and device pickers are labelled and
    # reachable; Enter on "Join meeting" joins.
    assert await kim.eval(UNLABELLED) == []
    passed = await _tab_to(kim, "Join meeting")
    assert {"Your name", "Microphone", "Camera", "Microphone device", "Camera device"} <= set(passed), passed
    await kim.keyboard("Enter")
    await kim.wait_for("() => window.meeting.self.roomState === 'joined'", timeout=20)
    await wait_participants(kim, 1)

    # In the meeting, every control of the bar has a name and can be reached with Tab.
    await kim.wait('rtk-meeting[data-screen="meeting"] footer[role="toolbar"]')
    assert await kim.eval(UNLABELLED) == []
    await kim.eval("() => document.activeElement && document.activeElement.blur()")
    passed = await _tab_to(kim, "Leave meeting")
    assert {"Microphone", "Camera", "Share screen", "Participants", "Chat", "Polls", "Settings"} <= set(passed), passed

    # Space on the focused microphone toggle mutes; the other participant sees it.
    await kim.eval("() => document.activeElement.blur()")
    await _tab_to(kim, "Microphone")
    await kim.keyboard("Space")
    await kim.wait('rtk-meeting footer >> role=button[name="Microphone"][pressed=false]')
    await wait_tile(bob, "Kim", audioEnabled="false")
    focused = await kim.eval(FOCUSED_NAME)
    assert focused == {"tag": "button", "name": "Microphone"}, focused  # focus stays on the toggle

    # Enter on "Chat" opens the panel; type and send with the keyboard.
    await _tab_to(kim, "Chat")
    await kim.keyboard("Enter")
    await kim.wait('rtk-chat >> role=textbox[name="Message"]')
    await _tab_to(kim, "Message")
    for key in "ok":
        await kim.keyboard(key)
    await kim.keyboard("Enter")
    await bob.wait_for("() => window.meeting.chat.messages.some((m) => m.message === 'ok' && m.displayName === 'Kim')")

    # The settings popover is a labelled dialog; Escape closes it and gives the focus back.
    await _tab_to(kim, "Settings")
    await kim.keyboard("Enter")
    await kim.wait('role=dialog[name="Device settings"] >> role=combobox[name="Camera device"]')
    await _focus_settles_on(kim, "Microphone device")  # the dialog takes the focus
    await kim.keyboard("Escape")
    await kim.wait('role=dialog[name="Device settings"]', state="hidden")
    await _focus_settles_on(kim, "Settings")

    # Leave: a host gets a menu (leave, or end for all) that Escape closes; Enter leaves.
    await _tab_to(kim, "Leave meeting")
    await kim.keyboard("Enter")
    await kim.wait('role=dialog[name="Leave or end the meeting"]')
    await _focus_settles_on(kim, "Leave meeting for me")
    await kim.keyboard("Escape")
    await kim.wait('role=dialog[name="Leave or end the meeting"]', state="detached")
    await _focus_settles_on(kim, "Leave meeting")
    await kim.keyboard("Enter")
    await kim.wait('role=dialog[name="Leave or end the meeting"]')
    await _focus_settles_on(kim, "Leave meeting for me")
    await kim.keyboard("Enter")
    await kim.wait('rtk-ended-screen >> role=heading[name="You left the meeting"]')
    await wait_participants(bob, 0)

    # Rejoin from the "left" screen joins again in place (a new peer, no page reload).
    left_peer = await kim.eval("() => window.meeting.self.id")
    await kim.eval("() => { window.__samePage = true; }")
    await kim.click('rtk-ended-screen >> role=button[name="Rejoin"]')
    await kim.wait('rtk-meeting[data-screen="meeting"]')
    await wait_participants(bob, 1)
    assert await kim.eval("() => window.__samePage === true && window.meeting.self.id") not in (False, left_peer)


async def test_theme_comes_from_the_preset_design_tokens(browser: Any, pages: list[Any], stack: Any, api: Any) -> None:
    tokens = {
        "border_radius": "sharp", "border_width": "fat", "spacing_base": 4, "theme": "light",
        "colors": {
            "brand": {"300": "#002a80", "400": "#003fbf", "500": "#0055ff", "600": "#3377ff", "700": "#6699ff"},
            "background": {"600": "#d0d0d0", "700": "#e0e0e0", "800": "#eaeaea", "900": "#f4f4f4", "1000": "#fcfcfc"},
            "danger": "#cc0000", "text": "#101010", "text_on_brand": "#ffffff", "success": "#008800",
            "video_bg": "#202020", "warning": "#ffaa00",
        },
    }
    preset = await api.preset_copy("group_call_host", ui={"design_tokens": tokens})
    meeting_id = await api.meeting("themed")
    page = await open_meeting(browser, pages, stack, "themed", await api.token(meeting_id, preset, "Tia"), join=False)
    styles = await page.eval("""(sel) => {
      const root = getComputedStyle(document.querySelector('rtk-meeting'));
      const join = getComputedStyle(document.querySelector(sel));
      return {background: root.backgroundColor, text: root.color, joinBackground: join.backgroundColor,
              joinText: join.color, joinRadius: join.borderTopLeftRadius, joinBorder: join.borderTopWidth,
              theme: document.querySelector('rtk-meeting').dataset.theme};
    }""", "rtk-setup-screen button[type=submit]")
    assert styles == {
        "background": "rgb(252, 252, 252)", "text": "rgb(16, 16, 16)", "joinBackground": "rgb(0, 85, 255)",
        "joinText": "rgb(255, 255, 255)", "joinRadius": "0px", "joinBorder": "2px", "theme": "light",
    }, styles

    # The stock preset keeps the default (dark) palette.
    plain = await open_meeting(browser, pages, stack, "plain", await api.token(meeting_id, "group_call_host", "Pat"),
                               join=False)
    default = await plain.eval("() => getComputedStyle(document.querySelector('rtk-meeting')).backgroundColor")
    assert default == "rgb(20, 20, 20)"


async def test_browser_resumes_after_the_socket_drops(browser: Any, pages: list[Any], stack: Any, api: Any) -> None:
    meeting_id = await api.meeting("reconnect")
    ada = await open_meeting(browser, pages, stack, "ada", await api.token(meeting_id, "group_call_host", "Ada"))
    bob = await open_meeting(browser, pages, stack, "bob", await api.token(meeting_id, "group_call_participant", "Bob"))
    await wait_participants(bob, 1)
    before = await decoded(bob, "Ada", "video", min_frames=5)
    peer_id = await ada.eval("() => window.meeting.self.id")
    await ada.eval("""() => {
      window.__events = [];
      window.meeting.self.on('roomLeft', (e) => window.__events.push('roomLeft:' + e.state));
      window.meeting.self.on('roomJoined', (e) => window.__events.push('roomJoined:' + e.reconnected));
    }""")
    await bob.eval("() => { window.__left = []; window.meeting.participants.on('participantLeft', (p) => window.__left.push(p.name)); }")

    # The network drops the signaling socket (no leave is sent): the SDK resumes the same peer.
    first_socket = await ada.eval("() => window.meeting._socket.id")
    await ada.eval("() => window.meeting._socket._ws.close(4000, 'network drop')")
    await ada.wait_for("() => window.__events.includes('roomJoined:true')", timeout=30)
    assert await ada.eval("() => window.__events") == ["roomLeft:disconnected", "roomJoined:true"]
    assert await ada.eval("() => [window.meeting.self.id, window.meeting.self.roomState, window.meeting._socket.id]") \
        == [peer_id, "joined", first_socket + 1]
    await ada.wait('rtk-connection-state[data-state="connected"]')

    # Bob never saw Ada leave; her video keeps flowing and signaling works on the new socket.
    assert await bob.eval("() => window.__left") == []
    await decoded(bob, "Ada", "video", min_frames=before["framesDecoded"] + 15)
    await ada.eval("() => window.meeting.chat.sendTextMessage('back again')")
    await bob.wait_for("() => window.meeting.chat.messages.some((m) => m.message === 'back again')")
    await ada.click('rtk-meeting footer >> role=button[name="Camera"]')
    await wait_tile(bob, "Ada", videoEnabled="false")


async def test_demo_launcher_links_lead_into_the_meeting(browser: Any, pages: list[Any], stack: Any) -> None:
    launcher = await browser.open("launcher", f"{stack.gateway_url}/")
    pages.append(launcher)
    await launcher.fill('role=textbox[name="Title"]', "Launcher test")
    await launcher.fill('role=textbox[name="Your name"]', "Hal")
    await launcher.click('role=checkbox[name*="waiting room"]')
    assert await launcher.count('role=region[name="Meeting links"]') == 0  # hidden until created
    await launcher.click('role=button[name="Create meeting"]')
    await launcher.wait('role=region[name="Meeting links"]')
    host_url = await launcher.eval("() => document.getElementById('host').href")
    guest_url = await launcher.eval("() => document.getElementById('guest').href")

    host = await browser.open("launch-host", host_url)
    pages.append(host)
    await host.wait('rtk-setup-screen >> role=heading[name="Launcher test"]', timeout=20)
    await host.click('role=button[name="Join meeting"]')
    await host.wait('rtk-meeting[data-screen="meeting"]', timeout=20)

    # The participant link adds a guest, who picks a name and waits to be admitted; the host
    # admits from the notification.
    guest = await browser.open("launch-guest", guest_url)
    pages.append(guest)
    await guest.fill('role=textbox[name="Your name"]', "Gia", timeout=20)
    await guest.click('role=button[name="Join meeting"]')
    await guest.wait('rtk-waiting-screen >> text="Waiting to be let in"', timeout=20)
    await host.click('rtk-notifications >> role=button[name="Admit Gia"]', timeout=20)
    await guest.wait('rtk-meeting[data-screen="meeting"]', timeout=20)
    await wait_tile(guest, "Hal", videoEnabled="true")
    await wait_tile(host, "Gia", videoEnabled="true")


async def test_connection_lost_when_the_resume_window_runs_out_then_rejoin(browser: Any, pages: list[Any], stack: Any,
                                                                           api: Any) -> None:
    meeting_id = await api.meeting("connection lost")
    bob = await open_meeting(browser, pages, stack, "bob", await api.token(meeting_id, "group_call_host", "Bob"),
                             audio="false", video="false")
    ada = await open_meeting(browser, pages, stack, "ada", await api.token(meeting_id, "group_call_participant", "Ada"),
                             audio="false")
    await wait_participants(bob, 1)
    await decoded(bob, "Ada", "video", min_frames=5)
    first_peer = await ada.eval("() => window.meeting.self.id")
    resume_window_ms = await ada.eval("() => window.meeting._resumeWindowMs")
    assert resume_window_ms == RESUME_WINDOW_SECONDS * 1000, resume_window_ms
    await ada.eval("""() => {
      window.__events = [];
      const m = window.meeting;
      m.self.on('roomLeft', (e) => window.__events.push('roomLeft:' + e.state));
      m.self.on('roomJoined', (e) => window.__events.push('roomJoined:' + e.reconnected));
      m.self.on('reconnectFailed', (e) => window.__events.push('reconnectFailed:' + e.name));
      m.meta.on('socketConnectionUpdate', (e) => {
        if (window.__events[window.__events.length - 1] !== 'socket:' + e.state) window.__events.push('socket:' + e.state);
      });
    }""")
    await bob.eval("() => { window.__left = []; window.meeting.participants.on('participantLeft', (p) => window.__left.push(p.name)); }")

    # Ada's browser goes offline and its socket drops: every resume attempt fails until the
    # window is over. Meanwhile the page says it is reconnecting.
    await ada.set_offline(True)
    await ada.eval("() => window.meeting._socket.drop()")
    await ada.wait('rtk-connection-state[data-state="reconnecting"]')
    await ada.wait('rtk-ended-screen >> role=heading[name="Connection lost"]', timeout=RESUME_WINDOW_SECONDS + 15)
    events = await ada.eval("() => window.__events")
    assert events[:3] == ["socket:disconnected", "roomLeft:disconnected", "socket:reconnecting"], events
    assert events[-2:] == ["socket:failed", "reconnectFailed:ConnectionLost"], events
    assert "roomJoined:true" not in events, events
    assert await ada.eval("() => [window.meeting.self.roomState, window.meeting.meta.socketState.state]") \
        == ["disconnected", "failed"]
    # The server gave up on Ada too: Bob sees her leave.
    await wait_participants(bob, 0, timeout=RESUME_WINDOW_SECONDS + 15)
    assert await bob.eval("() => window.__left") == ["Ada"]

    # Rejoin while still offline fails and says so; back online, Rejoin brings Ada back in as a
    # new peer, with her camera.
    await ada.click('rtk-ended-screen >> role=button[name="Rejoin"]')
    await ada.wait('rtk-ended-screen >> role=alert >> text=/^Could not rejoin/')
    await ada.set_offline(False)
    await ada.click('rtk-ended-screen >> role=button[name="Rejoin"]')
    await ada.wait('rtk-meeting[data-screen="meeting"]')
    await ada.wait('rtk-connection-state[data-state="connected"]')
    assert await ada.eval("() => window.meeting.self.id") != first_peer
    await wait_participants(ada, 1)
    await wait_participants(bob, 1)
    await wait_tile(bob, "Ada", videoEnabled="true")
    await decoded(bob, "Ada", "video", min_frames=5)
