"""Switching the camera and the microphone in the meeting's device settings (the real controls)
while publishing: Chromium's fake capture offers three cameras (`device-count=3`, see
web_browser.CHROMIUM_ARGS; the second one, fake_device_1, is a Y16 depth camera that WebRTC
cannot encode, so the test switches to the third) and three microphones. The new device's track goes out on the same
sender of the same connection (no renegotiation, same peer), the old one is released, and the
other participant keeps decoding."""

from __future__ import annotations

import asyncio
from typing import Any

from web_helpers import decoded, open_meeting, wait_participants, wait_tile

SETTINGS = 'rtk-meeting footer >> role=button[name="Settings"]'
DIALOG = 'role=dialog[name="Device settings"]'

# JS: what page A publishes for `kind` (audio / video): the local track, the sender of the
# publishing connection and what its stats say is encoded from (media-source → trackIdentifier).
PUBLISHED = """async (kind) => {
  const m = window.meeting;
  const me = m.self;
  const track = kind === 'audio' ? me.audioTrack : me.videoTrack;
  const pc = m._media._pub;
  const senders = pc.getSenders().filter((s) => s.track && s.track.kind === kind);
  const sender = senders[0];
  let source = null;
  let sent = 0;
  if (sender) {
    const stats = await sender.getStats();
    const byId = new Map();
    stats.forEach((s) => byId.set(s.id, s));
    stats.forEach((s) => {
      if (s.type !== 'outbound-rtp') return;
      sent = kind === 'audio' ? (s.packetsSent || 0) : (s.framesEncoded || 0);
      const src = byId.get(s.mediaSourceId);
      if (src) source = src.trackIdentifier;
    });
  }
  return {
    peerId: me.id,
    sameConnection: !!window.__devicesTest && window.__devicesTest.pc === pc,
    localSdp: pc.localDescription.sdp,
    transceivers: pc.getTransceivers().length,
    sendingSenders: senders.length,
    trackId: track && track.id,
    trackState: track && track.readyState,
    deviceId: track && track.getSettings().deviceId,
    senderTrackId: sender && sender.track.id,
    senderDeviceId: sender && sender.track.getSettings().deviceId,
    encodedFrom: source,
    sent,
    current: (me.getCurrentDevices()[kind] || {}).deviceId || null,
  };
}"""

# JS: B's inbound stream of A's `kind`: counters that grow while it is being decoded.
RECEIVED = """async ({peerId, kind}) => {
  const m = window.meeting;
  const p = m.participants.joined.get(peerId);
  const track = p && (kind === 'audio' ? p.audioTrack : p.videoTrack);
  if (!track) return null;
  for (const pc of m._media.peerConnections()) {
    const receiver = pc.getReceivers().find((r) => r.track === track);
    if (!receiver) continue;
    let out = null;
    (await receiver.getStats()).forEach((s) => {
      if (s.type === 'inbound-rtp') out = {trackId: track.id, framesDecoded: s.framesDecoded || 0,
        samples: s.totalSamplesReceived || 0, energy: s.totalAudioEnergy || 0, width: s.frameWidth || 0};
    });
    if (out) return out;
  }
  return null;
}"""


async def _options(page: Any, label: str) -> list[dict[str, Any]]:
    """The options of the settings dialog's `label` select: text, value, selected."""
    return await page.eval(
        """(label) => {
          const dialog = document.querySelector('[role=dialog][aria-label="Device settings"]');
          const field = [...dialog.querySelectorAll('label')].find((l) => l.textContent === label);
          const select = document.getElementById(field.htmlFor);
          return [...select.options].map((o) => ({text: o.text, value: o.value, selected: o.selected}));
        }""", label)


async def _shows(page: Any, label: str, text: str) -> None:
    """Wait until the settings dialog's `label` picker shows `text` as the chosen device."""
    await page.wait_for(
        """({label, text}) => {
          const dialog = document.querySelector('[role=dialog][aria-label="Device settings"]');
          const field = [...dialog.querySelectorAll('label')].find((l) => l.textContent === label);
          const select = field && document.getElementById(field.htmlFor);
          return !!select && select.selectedOptions.length === 1 && select.selectedOptions[0].text === text;
        }""", {"label": label, "text": text})


async def _switch(ada: Any, bob: Any, kind: str, label: str, device: str) -> None:
    """Pick `device` (by its name) in the `label` picker ("Camera device" / "Microphone device")
    of Ada's settings and check what Ada publishes and what Bob receives afterwards."""
    input_kind = "videoinput" if kind == "video" else "audioinput"
    before = await ada.eval("(kind) => window.__devicesTest.published(kind)", kind)
    assert before["sameConnection"] and before["sendingSenders"] == 1, before
    assert before["senderTrackId"] == before["trackId"] and before["trackState"] == "live", before

    options = await _options(ada, label)
    devices = await ada.eval("(kind) => navigator.mediaDevices.enumerateDevices().then((l) => l"
                             ".filter((d) => d.kind === kind).map((d) => ({id: d.deviceId, label: d.label})))", input_kind)
    # The picker lists every device by its name and shows the one in use as selected.
    assert [o["text"] for o in options] == [d["label"] for d in devices], (options, devices)
    selected = [o for o in options if o["selected"]]
    assert len(selected) == 1, options
    target = next(o for o in options if o["text"] == device)
    assert not target["selected"] and target["value"] != before["deviceId"], (options, before)

    await ada.eval("() => { window.__devicesTest.updates = []; }")
    chosen = await ada.select_option(f'{DIALOG} >> role=combobox[name="{label}"]', target["text"])
    assert chosen == [target["value"]], chosen

    # Ada now publishes the chosen device's track, on the same sender of the same connection.
    after = await ada.wait_for(
        """async ({kind, deviceId}) => {
          const state = await window.__devicesTest.published(kind);
          const done = state.senderDeviceId === deviceId && state.encodedFrom === state.trackId
            && window.__devicesTest.updates.length > 0;
          return done ? state : false;
        }""", {"kind": kind, "deviceId": target["value"]}, timeout=15)
    assert after["deviceId"] == after["senderDeviceId"] == after["current"] == target["value"], after
    assert after["trackId"] != before["trackId"] and after["trackState"] == "live", after
    assert after["peerId"] == before["peerId"] and after["sameConnection"], after
    # No renegotiation: the connection's offer and transceivers are the ones from before.
    assert after["localSdp"] == before["localSdp"] and after["transceivers"] == before["transceivers"], after
    assert after["sendingSenders"] == 1, after
    # The old device is released, `deviceUpdate` told the app, and the picker shows the choice.
    assert await ada.eval("(id) => window.__devicesTest.tracks[id].readyState", before["trackId"]) == "ended"
    updates = await ada.eval("() => window.__devicesTest.updates")
    assert updates == [{"kind": input_kind, "deviceId": target["value"]}], updates
    await _shows(ada, label, target["text"])

    # Ada's encoder runs on the new track…
    sent = after["sent"]
    await ada.wait_for("async ({kind, sent}) => (await window.__devicesTest.published(kind)).sent > sent + 10",
                       {"kind": kind, "sent": sent}, timeout=15)
    # …and Bob keeps decoding Ada (same peer, frames / samples still growing).
    start = await bob.eval("(arg) => window.__received(arg)", {"peerId": before["peerId"], "kind": kind})
    assert start is not None, "Bob lost Ada's track"
    grown = await bob.wait_for(
        """async ({peerId, kind, start}) => {
          const now = await window.__received({peerId, kind});
          if (!now) return false;
          if (kind === 'video') return now.framesDecoded >= start.framesDecoded + 15 && now.width > 0 ? now : false;
          return now.samples > start.samples + 48000 && now.energy > start.energy ? now : false;
        }""", {"peerId": before["peerId"], "kind": kind, "start": start}, timeout=20, polling=250)
    assert grown, grown


async def test_switching_camera_and_microphone_in_settings(browser: Any, pages: list[Any], stack: Any,
                                                           api: Any) -> None:
    meeting_id = await api.meeting("devices")
    host_token, guest_token = await asyncio.gather(api.token(meeting_id, "group_call_host", "Ada"),
                                                   api.token(meeting_id, "group_call_participant", "Bob"))
    ada, bob = await asyncio.gather(open_meeting(browser, pages, stack, "ada", host_token),
                                    open_meeting(browser, pages, stack, "bob", guest_token))
    await asyncio.gather(wait_participants(ada, 1), wait_participants(bob, 1))
    # Ada joined with camera and microphone on; Bob decodes both.
    await wait_tile(bob, "Ada", videoEnabled="true", audioEnabled="true")
    await decoded(bob, "Ada", "video", min_frames=5)
    await decoded(bob, "Ada", "audio")
    ada_id = await ada.eval("() => window.meeting.self.id")

    # What the test watches on Ada's page: the publishing connection, every local track (to see
    # the old ones stopped) and the `deviceUpdate` events.
    await ada.eval("""() => {
      const m = window.meeting;
      const state = window.__devicesTest = {pc: m._media._pub, tracks: {}, updates: [], published: """ + PUBLISHED + """};
      const keep = () => { for (const t of [m.self.audioTrack, m.self.videoTrack]) if (t) state.tracks[t.id] = t; };
      keep();
      for (const e of ['audioUpdate', 'videoUpdate']) m.self.on(e, keep);
      m.self.on('deviceUpdate', ({device}) => state.updates.push({kind: device.kind, deviceId: device.deviceId}));
    }""")
    await bob.eval("""() => { window.__received = """ + RECEIVED + """; window.__left = []; window.meeting.participants.joined.on('participantLeft', (p) => window.__left.push(p.id)); }""")

    # Ada opens Settings from the control bar: the device dialog with its pickers.
    await ada.click(SETTINGS)
    await ada.wait(f'{DIALOG} >> role=combobox[name="Camera device"]')
    assert await ada.attribute(SETTINGS, "aria-expanded") == "true"

    await _switch(ada, bob, "video", "Camera device", "fake_device_2")
    await wait_tile(bob, "Ada", videoEnabled="true")
    # Ada's own tile shows the new camera.
    assert await ada.eval("""() => { const v = document.querySelector('rtk-grid rtk-participant-tile.rtk-self video');
      return !!v && !!v.srcObject && v.srcObject.getVideoTracks()[0] === window.meeting.self.videoTrack; }""")

    await _switch(ada, bob, "audio", "Microphone device", "Fake Audio Input 2")
    await wait_tile(bob, "Ada", audioEnabled="true", videoEnabled="true")

    # The speaker: Bob's voice now plays through the chosen output.
    speaker = next(o for o in await _options(ada, "Speaker device") if o["text"] == "Fake Audio Output 1")
    await ada.select_option(f'{DIALOG} >> role=combobox[name="Speaker device"]', speaker["text"])
    await ada.wait_for(
        """(id) => { const els = [...document.querySelectorAll('rtk-audio audio')];
          return els.length > 0 && els.every((a) => a.sinkId === id)
            && window.meeting.self.getCurrentDevices().speaker.deviceId === id; }""", speaker["value"])

    # A camera that cannot start (in use by another application: the browser says
    # NotReadableError): Ada is told, and keeps sending the camera she had, which the picker
    # shows again.
    camera = await ada.eval("() => ({id: window.meeting.self.videoTrack.id, device: window.meeting.self.videoTrack.label})")
    await ada.eval("""() => {
      const devices = navigator.mediaDevices;
      const real = devices.getUserMedia;
      devices.getUserMedia = async () => {
        devices.getUserMedia = real;
        throw new DOMException('Could not start video source', 'NotReadableError');
      };
    }""")
    await ada.select_option(f'{DIALOG} >> role=combobox[name="Camera device"]', "fake_device_0")
    await ada.wait('rtk-notifications >> text=/Camera device: Cannot start the camera/')
    await _shows(ada, "Camera device", camera["device"])
    state = await ada.eval("(kind) => window.__devicesTest.published(kind)", "video")
    assert state["trackId"] == state["senderTrackId"] == camera["id"] and state["trackState"] == "live", state
    assert (await ada.eval("() => window.meeting.self.getCurrentDevices().video.label")) == camera["device"]
    assert await ada.eval("() => window.meeting.self.mediaPermissions.video") == "ACCEPTED"
    frames = (await decoded(bob, "Ada", "video", min_frames=1))["framesDecoded"]
    await decoded(bob, "Ada", "video", min_frames=frames + 10)

    # Still the same two participants: nobody left, Ada kept her peer id.
    assert await bob.eval("() => window.__left") == []
    assert await bob.eval("() => window.meeting.participants.joined.toArray().map((p) => p.id)") == [ada_id]
    assert await ada.eval("() => window.meeting.self.id") == ada_id

    for page in (ada, bob):
        errors = [line for line in page.logs() if line.startswith(("[pageerror]", "[error]"))]
        assert errors == [], errors
