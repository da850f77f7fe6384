// UI kit components (custom elements, light DOM, named after RealtimeKit's UI kit). Each takes
// the meeting object: `el.meeting = meeting` (children of <rtk-meeting> pick it up themselves).
//
//   rtk-meeting               the whole meeting: setup → waiting room → meeting → ended
//   rtk-setup-screen          preview, name, mic/camera, Join
//   rtk-waiting-screen        shown while waitlisted
//   rtk-ended-screen          left / kicked / ended / rejected
//   rtk-grid                  paginated grid of tiles (screen shares first), active-speaker highlight
//   rtk-participant-tile      one participant's camera or screen share
//   rtk-audio                 plays every remote audio track
//   rtk-mic-toggle, rtk-camera-toggle, rtk-screen-share-toggle, rtk-stage-toggle
//   rtk-settings              device picker (microphone, camera, speaker)
//   rtk-participants          participants, waiting room and stage requests (host actions)
//   rtk-chat, rtk-polls       side panels
//   rtk-leave-button          leave / end meeting for all
//   rtk-connection-state      socket and media connection state
//   rtk-notifications         toasts (with actions: accept waiting peers, allow stage requests)

import { attachTrack } from '../core/participants.js';
import { h, icon, initials, RtkElement } from './dom.js';
import { applyDesignTokens } from './theme.js';

const notify = (el, message, options = {}) => {
  const root = el.closest('rtk-meeting');
  const center = root && root.querySelector('rtk-notifications');
  if (center) center.add(message, options);
  else console.info('[realtimekit-ui]', message);
};

const failed = (el, what) => (err) => notify(el, `${what}: ${err && (err.description || err.message || err)}`, { kind: 'error' });

const isStageMode = (meeting) => !!meeting.self.permissions.stageEnabled;

/** People who may appear in the grid as "self": on stage (everyone in a group call). */
const selfOnStage = (meeting) => !isStageMode(meeting) || meeting.self.stageStatus === 'ON_STAGE';

// -- tiles -------------------------------------------------------------------------------------

export class RtkParticipantTile extends RtkElement {
  constructor() {
    super();
    this._participant = null;
    this.kind = 'video';
    this.isSelf = false;
  }

  get participant() {
    return this._participant;
  }

  set participant(p) {
    if (this._participant === p) return;
    this._unbind();
    this._participant = p;
    if (this.isConnected) this._bind();
    this.update();
  }

  _bind() {
    if (!this._participant || this._bound) return;
    this._bound = true;
    const p = this._participant;
    for (const event of ['videoUpdate', 'audioUpdate', 'screenShareUpdate', 'participantUpdated', 'pinned', 'unpinned', 'stageStatusUpdate']) {
      this.listen(p, event, () => this.update());
    }
  }

  render() {
    const p = this._participant;
    if (!p) return;
    if (!this._video) {
      this._video = h('video', { autoplay: true, playsInline: true, muted: true, class: 'rtk-tile-video' });
      this._video.muted = true; // audio plays through <rtk-audio>
      this._avatar = h('div', { class: 'rtk-avatar', 'aria-hidden': 'true' });
      this._name = h('span', { class: 'rtk-tile-name' });
      this._mic = h('span', { class: 'rtk-tile-mic', role: 'img' });
      this._pin = h('span', { class: 'rtk-tile-pin', role: 'img', 'aria-label': 'Pinned' }, icon('pin'));
      this.append(this._video, this._avatar, h('div', { class: 'rtk-tile-label' }, this._mic, this._name, this._pin));
    }
    const screen = this.kind === 'screenshare';
    const track = screen ? p.screenShareTracks && p.screenShareTracks.video : p.videoTrack;
    const enabled = screen ? p.screenShareEnabled : p.videoEnabled;
    const showVideo = !!(enabled && track && track.readyState !== 'ended');
    attachTrack(this._video, showVideo ? track : null);
    if (showVideo && this._video.paused) this._video.play().catch(() => {});
    this._video.hidden = !showVideo;
    this._avatar.hidden = showVideo;
    this._avatar.textContent = initials(p.name);
    const label = `${p.name || 'Participant'}${this.isSelf ? ' (you)' : ''}${screen ? ' (screen)' : ''}`;
    this._name.textContent = label;
    this._mic.replaceChildren(icon(p.audioEnabled ? 'mic' : 'micOff'));
    this._mic.setAttribute('aria-label', p.audioEnabled ? 'Microphone on' : 'Microphone off');
    this._mic.hidden = screen;
    this._pin.hidden = !p.isPinned;
    this.setAttribute('role', 'group');
    this.setAttribute('aria-label', label);
    this.dataset.peerId = p.id;
    this.dataset.kind = this.kind;
    this.dataset.videoEnabled = String(showVideo);
    this.dataset.audioEnabled = String(!!p.audioEnabled);
    this.classList.toggle('rtk-self', this.isSelf);
    this.classList.toggle('rtk-screen', screen);
    this._video.classList.toggle('rtk-mirror', this.isSelf && !screen);
  }
}

export class RtkGrid extends RtkElement {
  constructor() {
    super();
    this._tiles = new Map();
    this._speakingTimer = null;
  }

  bind(meeting) {
    const render = () => this.update();
    for (const event of ['activeParticipantsUpdate', 'participantJoined', 'participantLeft', 'participantUpdated', 'mediaUpdate', 'pageChanged', 'viewModeChanged']) {
      this.listen(meeting.participants, event, render);
    }
    for (const event of ['stageStatusUpdate', 'screenShareUpdate', 'roomJoined', 'videoUpdate']) this.listen(meeting.self, event, render);
    this.listen(meeting.participants, 'activeSpeaker', ({ peerId }) => this._speaking(peerId));
  }

  _speaking(peerId) {
    for (const tile of this._tiles.values()) {
      const on = tile.participant && tile.participant.id === peerId && tile.kind === 'video';
      tile.toggleAttribute('data-active-speaker', on);
      tile.classList.toggle('rtk-active-speaker', on);
    }
    clearTimeout(this._speakingTimer);
    this._speakingTimer = setTimeout(() => {
      for (const tile of this._tiles.values()) {
        tile.removeAttribute('data-active-speaker');
        tile.classList.remove('rtk-active-speaker');
      }
    }, 2500);
  }

  render() {
    const m = this.meeting;
    if (!m) return;
    if (!this._body) {
      this._body = h('div', { class: 'rtk-grid-tiles', role: 'list', 'aria-label': 'Participants on stage' });
      this._empty = h('p', { class: 'rtk-grid-empty' });
      this._pager = h('nav', { class: 'rtk-grid-pager', 'aria-label': 'Grid pages' });
      this.append(this._body, this._empty, this._pager);
      this.setAttribute('aria-label', 'Video grid');
      this.setAttribute('role', 'region');
    }
    const entries = [];
    const me = m.self;
    if (me.screenShareEnabled && me.screenShareTracks.video) entries.push({ p: me, kind: 'screenshare', self: true });
    for (const p of m.participants.joined.values()) {
      if (p.screenShareEnabled) entries.push({ p, kind: 'screenshare', self: false });
    }
    if (selfOnStage(m) && !me.hidden) entries.push({ p: me, kind: 'video', self: true });
    for (const p of m.participants.active.values()) entries.push({ p, kind: 'video', self: false });

    const wanted = new Set();
    const ordered = [];
    for (const entry of entries) {
      const key = `${entry.self ? 'self' : entry.p.id}:${entry.kind}`;
      wanted.add(key);
      let tile = this._tiles.get(key);
      if (!tile) {
        tile = document.createElement('rtk-participant-tile');
        tile.kind = entry.kind;
        tile.isSelf = entry.self;
        tile.setAttribute('role', 'listitem');
        this._tiles.set(key, tile);
      }
      tile.participant = entry.p;
      ordered.push(tile);
    }
    for (const [key, tile] of this._tiles) {
      if (!wanted.has(key)) {
        tile.remove();
        this._tiles.delete(key);
      }
    }
    ordered.forEach((tile, i) => {
      if (this._body.children[i] !== tile) this._body.insertBefore(tile, this._body.children[i] || null);
    });
    const cols = Math.max(1, Math.ceil(Math.sqrt(ordered.length)));
    this._body.style.setProperty('--rtk-grid-cols', String(cols));
    this.dataset.count = String(ordered.length);
    this._empty.hidden = ordered.length > 0;
    this._empty.textContent = isStageMode(m) ? 'Nobody is on stage yet.' : 'Waiting for others to join.';

    const pages = m.participants.pageCount;
    const page = m.participants.currentPage;
    this._pager.hidden = pages <= 1;
    this._pager.replaceChildren(
      h('button', { type: 'button', class: 'rtk-btn rtk-btn-icon', 'aria-label': 'Previous page', disabled: page <= 0,
        onclick: () => m.participants.setPage(page - 1) }, icon('prev')),
      h('span', { class: 'rtk-grid-page', 'aria-live': 'polite' }, `Page ${page + 1} of ${pages}`),
      h('button', { type: 'button', class: 'rtk-btn rtk-btn-icon', 'aria-label': 'Next page', disabled: page >= pages - 1,
        onclick: () => m.participants.setPage(page + 1) }, icon('next')),
    );
  }
}

/** Plays every remote audio track (and screen-share audio) through hidden <audio> elements. */
export class RtkAudio extends RtkElement {
  constructor() {
    super();
    this._elements = new Map();
  }

  bind(meeting) {
    for (const event of ['mediaUpdate', 'participantLeft', 'participantJoined']) this.listen(meeting.participants, event, () => this.update());
    this.listen(meeting.self, 'deviceUpdate', () => this.update());
  }

  render() {
    const m = this.meeting;
    if (!m) return;
    this.hidden = true;
    const wanted = new Map();
    for (const p of m.participants.joined.values()) {
      if (p.audioTrack) wanted.set(`${p.id}:audio`, p.audioTrack);
      if (p.screenShareTracks && p.screenShareTracks.audio) wanted.set(`${p.id}:screenshare`, p.screenShareTracks.audio);
    }
    for (const [key, el] of this._elements) {
      if (!wanted.has(key)) {
        el.srcObject = null;
        el.remove();
        this._elements.delete(key);
      }
    }
    const speaker = m.self.getCurrentDevices().speaker;
    for (const [key, track] of wanted) {
      let el = this._elements.get(key);
      if (!el) {
        el = h('audio', { autoplay: true });
        el.dataset.key = key;
        this._elements.set(key, el);
        this.append(el);
      }
      attachTrack(el, track);
      if (speaker && el.setSinkId && el.sinkId !== speaker.deviceId) el.setSinkId(speaker.deviceId).catch(() => {});
      if (el.paused) {
        el.play().catch((err) => {
          if (err && err.name === 'NotAllowedError') {
            m.self.emit('autoplayError', err);
            notify(this, 'Your browser blocked audio playback.', {
              actions: [{ label: 'Enable audio', onclick: () => this.querySelectorAll('audio').forEach((a) => a.play().catch(() => {})) }],
            });
          }
        });
      }
    }
  }
}

// -- controls ----------------------------------------------------------------------------------

class MediaToggle extends RtkElement {
  get kind() { return 'audio'; }

  bind(meeting) {
    for (const event of ['audioUpdate', 'videoUpdate', 'screenShareUpdate', 'stageStatusUpdate', 'roomJoined', 'mediaPermissionUpdate']) {
      this.listen(meeting.self, event, () => this.update());
    }
  }

  config(self) {
    return {
      audio: { on: self.audioEnabled, allowed: self.permissions.canProduceAudio, label: 'Microphone', icons: ['mic', 'micOff'],
        text: ['Mic on', 'Mic off'], enable: () => self.enableAudio(), disable: () => self.disableAudio() },
      video: { on: self.videoEnabled, allowed: self.permissions.canProduceVideo, label: 'Camera', icons: ['camera', 'cameraOff'],
        text: ['Camera on', 'Camera off'], enable: () => self.enableVideo(), disable: () => self.disableVideo() },
      screenshare: { on: self.screenShareEnabled, allowed: self.permissions.canProduceScreenshare, label: 'Share screen', icons: ['screen', 'screen'],
        text: ['Sharing', 'Share'], enable: () => self.enableScreenShare(), disable: () => self.disableScreenShare() },
    }[this.kind];
  }

  render() {
    const m = this.meeting;
    if (!m) return;
    const c = this.config(m.self);
    this.hidden = c.allowed === 'NOT_ALLOWED' || (this.kind === 'screenshare' && !(navigator.mediaDevices && navigator.mediaDevices.getDisplayMedia));
    const offStage = this.kind === 'screenshare' && (m.self.roomState !== 'joined' || !m.self.canPublish('screenshare'));
    const button = h('button', {
      type: 'button',
      class: `rtk-btn rtk-toggle${c.on ? ' rtk-on' : ' rtk-off'}`,
      'aria-label': c.label,
      'aria-pressed': !!c.on,
      title: offStage ? 'Available on stage' : c.label,
      disabled: offStage && !c.on,
      'data-focus-key': this.kind,
      onclick: async () => {
        // Busy, not disabled: disabling would drop the keyboard focus (render() puts it back
        // on the new button with the same data-focus-key).
        if (button.getAttribute('aria-busy') === 'true') return;
        button.setAttribute('aria-busy', 'true');
        try {
          await (c.on ? c.disable() : c.enable());
        } catch (err) {
          failed(this, c.label)(err);
        } finally {
          this.update();
        }
      },
    }, icon(c.on ? c.icons[0] : c.icons[1]), h('span', { class: 'rtk-btn-text' }, c.on ? c.text[0] : c.text[1]));
    this.replace(button);
  }
}

export class RtkMicToggle extends MediaToggle { get kind() { return 'audio'; } }
export class RtkCameraToggle extends MediaToggle { get kind() { return 'video'; } }
export class RtkScreenShareToggle extends MediaToggle { get kind() { return 'screenshare'; } }

/** Webinar stage control: request / cancel / join / leave. */
export class RtkStageToggle extends RtkElement {
  bind(meeting) {
    for (const event of ['stageStatusUpdate', 'roomJoined']) this.listen(meeting.self, event, () => this.update());
  }

  render() {
    const m = this.meeting;
    if (!m) return;
    const s = m.self;
    const access = s.permissions.stageAccess;
    this.hidden = !isStageMode(m) || access === 'NOT_ALLOWED' || s.roomState !== 'joined';
    if (this.hidden) return this.replace();
    const stage = m.stage;
    const actions = {
      OFF_STAGE: access === 'ALLOWED'
        ? ['Join stage', () => stage.join()] // allowed: straight onto the stage
        : ['Request to join stage', () => stage.requestAccess()],
      REQUESTED_TO_JOIN_STAGE: ['Cancel stage request', () => stage.cancelRequestAccess()],
      ACCEPTED_TO_JOIN_STAGE: ['Join stage', () => stage.join()],
      ON_STAGE: ['Leave stage', () => stage.leave()],
    };
    const [label, action] = actions[s.stageStatus] || actions.OFF_STAGE;
    const button = h('button', {
      type: 'button', class: `rtk-btn${s.stageStatus === 'ON_STAGE' ? ' rtk-on' : ''}`, 'aria-label': label, 'data-focus-key': 'stage',
      onclick: async () => {
        if (button.getAttribute('aria-busy') === 'true') return;
        button.setAttribute('aria-busy', 'true');
        try {
          await action();
        } catch (err) {
          failed(this, label)(err);
        } finally {
          this.update();
        }
      },
    }, icon('stage'), h('span', { class: 'rtk-btn-text' }, label));
    this.dataset.status = s.stageStatus;
    this.replace(button);
  }
}

/** Device picker: microphone, camera and speaker. */
export class RtkSettings extends RtkElement {
  bind(meeting) {
    this.listen(meeting.self, 'deviceListUpdate', () => this.update());
    this.listen(meeting.self, 'deviceUpdate', () => this.update());
    this.listen(meeting.self, 'mediaPermissionUpdate', () => this.update());
  }

  render() {
    this._render().catch((err) => console.warn('[realtimekit-ui] settings', err));
  }

  async _render() {
    const m = this.meeting;
    if (!m) return;
    const devices = await m.self.getAllDevices();
    const current = m.self.getCurrentDevices();
    const select = (kind, label, id) => {
      const list = devices.filter((d) => d.kind === kind);
      const chosen = current[{ audioinput: 'audio', videoinput: 'video', audiooutput: 'speaker' }[kind]];
      return h('div', { class: 'rtk-field' },
        h('label', { for: id }, label),
        h('select', {
          id, 'data-focus-key': id, disabled: !list.length,
          onchange: (e) => {
            const device = list.find((d) => d.deviceId === e.target.value);
            // A device that cannot start leaves the old one in use: show that one again.
            if (device) m.self.setDevice(device).catch((err) => { failed(this, label)(err); this.update(); });
          },
        }, list.length ? list.map((d, i) => h('option', { value: d.deviceId, selected: chosen ? chosen.deviceId === d.deviceId : i === 0 },
          d.label || `${label} ${i + 1}`)) : h('option', {}, 'None available')));
    };
    const uid = this._uid || (this._uid = `rtk-settings-${Math.random().toString(36).slice(2, 8)}`);
    this.setAttribute('role', 'group');
    this.setAttribute('aria-label', 'Device settings');
    this.replace(
      select('audioinput', 'Microphone device', `${uid}-mic`),
      select('videoinput', 'Camera device', `${uid}-cam`),
      'setSinkId' in HTMLMediaElement.prototype ? select('audiooutput', 'Speaker device', `${uid}-spk`) : null,
    );
  }
}

export class RtkLeaveButton extends RtkElement {
  constructor() {
    super();
    this._open = false;
  }

  bind(meeting) {
    this.listen(meeting.self, 'roomJoined', () => this.update());
  }

  render() {
    const m = this.meeting;
    if (!m) return;
    const canEnd = m.self.permissions.kickParticipant && m.self.roomState === 'joined';
    const leave = () => m.leave().catch(failed(this, 'Leave'));
    const main = h('button', {
      type: 'button', class: 'rtk-btn rtk-danger', 'aria-label': 'Leave meeting', 'aria-haspopup': canEnd ? 'dialog' : false,
      'aria-expanded': canEnd ? this._open : false, 'data-focus-key': 'leave',
      onclick: () => {
        if (!canEnd) return leave();
        this._open = !this._open;
        this._focusMenu = this._open;
        this.update();
      },
    }, icon('leave'), h('span', { class: 'rtk-btn-text' }, 'Leave'));
    const menu = this._open && canEnd
      ? h('div', { class: 'rtk-popover', role: 'dialog', 'aria-label': 'Leave or end the meeting',
        onkeydown: (e) => { if (e.key === 'Escape') { this._open = false; this._refocus = true; this.update(); } } },
      h('button', { type: 'button', class: 'rtk-btn', onclick: leave }, 'Leave meeting for me'),
      h('button', { type: 'button', class: 'rtk-btn rtk-danger', 'aria-label': 'End meeting for all',
        onclick: () => m.participants.kickAll().catch(failed(this, 'End meeting')) }, 'End meeting for all'),
      h('button', { type: 'button', class: 'rtk-btn', onclick: () => { this._open = false; this._refocus = true; this.update(); } }, 'Cancel'))
      : null;
    this.replace(main, menu);
    if (this._refocus) {
      this._refocus = false;
      main.focus(); // the menu closed: the focus goes back to its button
    } else if (this._focusMenu && menu) {
      this._focusMenu = false;
      menu.querySelector('button').focus(); // the menu opened: focus its first choice
    }
  }
}

export class RtkConnectionState extends RtkElement {
  bind(meeting) {
    this.listen(meeting.meta, 'socketConnectionUpdate', () => this.update());
    this.listen(meeting.meta, 'mediaConnectionUpdate', () => this.update());
    this.listen(meeting.self, 'roomLeft', () => this.update());
    this.listen(meeting.self, 'roomJoined', () => this.update());
  }

  render() {
    const m = this.meeting;
    if (!m) return;
    const socket = m.meta.socketState;
    const media = Object.values(m.meta.mediaState || {});
    let state = socket.state;
    let text = { connected: 'Connected', disconnected: 'Disconnected', reconnecting: `Reconnecting… (attempt ${socket.reconnectionAttempt})`, failed: 'Connection lost' }[state] || state;
    if (state === 'connected' && media.includes('failed')) {
      state = 'media-failed';
      text = 'Media connection failed';
    } else if (state === 'connected' && media.some((s) => s === 'connecting' || s === 'reconnecting' || s === 'disconnected')) {
      state = 'media-connecting';
      text = 'Connecting media…';
    }
    this.setAttribute('role', 'status');
    this.setAttribute('aria-live', 'polite');
    this.dataset.state = state;
    this.replace(h('span', { class: 'rtk-dot', 'aria-hidden': 'true' }), h('span', {}, text));
  }
}

// -- panels ------------------------------------------------------------------------------------

export class RtkParticipants extends RtkElement {
  bind(meeting) {
    for (const event of ['participantJoined', 'participantLeft', 'participantUpdated', 'waitingRoomRequestsUpdate']) {
      this.listen(meeting.participants, event, () => this.update());
    }
    this.listen(meeting.stage, 'stageAccessRequestUpdate', () => this.update());
    for (const event of ['roomJoined', 'audioUpdate', 'videoUpdate', 'stageStatusUpdate']) this.listen(meeting.self, event, () => this.update());
  }

  render() {
    const m = this.meeting;
    if (!m) return;
    const perms = m.self.permissions;
    const act = (label, fn, cls = '') => h('button', {
      type: 'button', class: `rtk-btn rtk-btn-small ${cls}`, 'aria-label': label, 'data-focus-key': label,
      onclick: () => fn().catch(failed(this, label)),
    }, label.split(' ')[0]);
    const sections = [];
    const waiting = m.participants.waitlisted.toArray();
    if (perms.acceptWaitingRequests && waiting.length) {
      sections.push(h('section', { 'aria-label': 'Waiting room' },
        h('h3', {}, `Waiting (${waiting.length})`),
        h('ul', { class: 'rtk-list' }, waiting.map((w) => h('li', { class: 'rtk-row', 'data-peer-id': w.id },
          h('span', { class: 'rtk-row-name' }, w.name || 'Guest'),
          act(`Accept ${w.name}`, () => m.participants.acceptWaitingRoomRequest(w.id), 'rtk-primary'),
          act(`Reject ${w.name}`, () => m.participants.rejectWaitingRoomRequest(w.id))))),
        waiting.length > 1 ? h('button', { type: 'button', class: 'rtk-btn rtk-btn-small', onclick: () => m.participants.acceptAllWaitingRoomRequest().catch(failed(this, 'Accept all')) }, 'Accept all') : null));
    }
    const requests = m.stage.accessRequests;
    if (perms.acceptStageRequests && requests.length) {
      sections.push(h('section', { 'aria-label': 'Stage requests' },
        h('h3', {}, `Stage requests (${requests.length})`),
        h('ul', { class: 'rtk-list' }, requests.map((r) => h('li', { class: 'rtk-row', 'data-peer-id': r.peerId },
          h('span', { class: 'rtk-row-name' }, r.displayName || 'Guest'),
          act(`Allow ${r.displayName} on stage`, () => m.stage.grantAccess([r.userId || r.peerId]), 'rtk-primary'),
          act(`Deny ${r.displayName} stage request`, () => m.stage.denyAccess([r.userId || r.peerId])))))));
    }
    const people = [m.self, ...m.participants.joined.values()].filter((p) => !(p.flags && p.flags.hiddenParticipant));
    const row = (p) => {
      const self = p === m.self;
      const controls = [];
      if (!self) {
        if (perms.canDisableParticipantAudio && p.audioEnabled) controls.push(act(`Mute ${p.name}`, () => p.disableAudio()));
        if (perms.canDisableParticipantVideo && p.videoEnabled) controls.push(act(`Stop ${p.name} camera`, () => p.disableVideo()));
        if (isStageMode(m) && perms.acceptStageRequests) {
          if (p.stageStatus === 'ON_STAGE') controls.push(act(`Remove ${p.name} from stage`, () => m.stage.kick([p.userId || p.id])));
          else if (p.stageStatus === 'OFF_STAGE') controls.push(act(`Invite ${p.name} to stage`, () => m.stage.grantAccess([p.userId || p.id])));
        }
        if (perms.pinParticipant) controls.push(p.isPinned ? act(`Unpin ${p.name}`, () => p.unpin()) : act(`Pin ${p.name}`, () => p.pin()));
        if (perms.kickParticipant) controls.push(act(`Kick ${p.name}`, () => p.kick(), 'rtk-danger'));
      }
      return h('li', { class: 'rtk-row', 'data-peer-id': p.id },
        h('span', { class: 'rtk-avatar rtk-avatar-small', 'aria-hidden': 'true' }, initials(p.name)),
        h('span', { class: 'rtk-row-name' }, `${p.name || 'Participant'}${self ? ' (you)' : ''}`,
          isStageMode(m) && p.stageStatus === 'ON_STAGE' ? h('span', { class: 'rtk-badge' }, 'on stage') : null,
          p.isHost ? h('span', { class: 'rtk-badge' }, 'host') : null),
        h('span', { class: 'rtk-row-media', role: 'img', 'aria-label': p.audioEnabled ? 'Microphone on' : 'Microphone off' }, icon(p.audioEnabled ? 'mic' : 'micOff')),
        controls);
    };
    sections.push(h('section', { 'aria-label': 'In the meeting' },
      h('h3', {}, `In the meeting (${people.length})`),
      perms.showParticipantList || people.length < 2 ? h('ul', { class: 'rtk-list' }, people.map(row)) : h('p', {}, 'The participant list is hidden.')));
    this.replace(...sections);
  }
}

export class RtkChat extends RtkElement {
  constructor() {
    super();
    this._to = '';
  }

  bind(meeting) {
    this.listen(meeting.chat, 'chatUpdate', ({ message }) => this._append(message));
    this.listen(meeting.participants, 'participantJoined', () => this._renderTargets());
    this.listen(meeting.participants, 'participantLeft', () => this._renderTargets());
    this.listen(meeting.self, 'roomJoined', () => this.update());
  }

  _item(message) {
    const m = this.meeting;
    const mine = message.userId === m.self.userId;
    const time = message.time ? message.time.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }) : '';
    return h('li', { class: `rtk-chat-message${mine ? ' rtk-mine' : ''}${message.isPrivate ? ' rtk-private' : ''}`, 'data-message-id': message.id },
      h('div', { class: 'rtk-chat-meta' }, h('strong', {}, mine ? 'You' : message.displayName || 'Participant'),
        message.isPrivate ? h('span', { class: 'rtk-badge' }, 'private') : null, h('time', {}, time)),
      h('p', { class: 'rtk-chat-text' }, message.message));
  }

  _append(message) {
    if (!this._log) return this.update();
    if (this._log.querySelector(`[data-message-id="${CSS.escape(message.id)}"]`)) return;
    const items = [...this._log.children];
    const index = this.meeting.chat.messages.findIndex((x) => x.id === message.id);
    const before = items[index] || null;
    this._log.insertBefore(this._item(message), before);
    this._log.scrollTop = this._log.scrollHeight;
    this.dispatchEvent(new CustomEvent('rtk-chat-message', { bubbles: true, detail: message }));
  }

  _renderTargets() {
    if (!this._target) return;
    const m = this.meeting;
    const options = [h('option', { value: '' }, 'Everyone')];
    if (m.self.permissions.chatPrivate.canSend) {
      for (const p of m.participants.joined.values()) options.push(h('option', { value: p.userId || p.id, selected: this._to === (p.userId || p.id) }, p.name));
    }
    this._target.replaceChildren(...options);
    this._targetField.hidden = options.length < 2;
  }

  render() {
    const m = this.meeting;
    if (!m) return;
    const uid = this._uid || (this._uid = `rtk-chat-${Math.random().toString(36).slice(2, 8)}`);
    this._log = h('ol', { class: 'rtk-chat-log', role: 'log', 'aria-live': 'polite', 'aria-label': 'Chat messages' },
      m.chat.messages.map((message) => this._item(message)));
    const canSend = m.self.permissions.chatPublic.canSend || m.self.permissions.chatPrivate.canSend;
    const input = h('textarea', { id: `${uid}-input`, rows: 2, maxlength: m.chat.maxTextLimit, placeholder: 'Write a message…', 'data-focus-key': 'chat-input',
      onkeydown: (e) => {
        if (e.key === 'Enter' && !e.shiftKey) {
          e.preventDefault();
          form.requestSubmit();
        }
      } });
    this._target = h('select', { id: `${uid}-to`, onchange: (e) => { this._to = e.target.value; } });
    this._targetField = h('div', { class: 'rtk-field rtk-inline' }, h('label', { for: `${uid}-to` }, 'To'), this._target);
    const form = h('form', { class: 'rtk-chat-form', 'aria-label': 'Send a chat message',
      onsubmit: async (e) => {
        e.preventDefault();
        const text = input.value.trim();
        if (!text) return;
        input.value = '';
        try {
          await m.chat.sendTextMessage(text, this._to ? [this._to] : []);
        } catch (err) {
          input.value = text;
          failed(this, 'Message not sent')(err);
        }
      } },
    this._targetField,
    h('label', { for: `${uid}-input`, class: 'rtk-visually-hidden' }, 'Message'),
    input,
    h('button', { type: 'submit', class: 'rtk-btn rtk-primary', 'aria-label': 'Send message' }, 'Send'));
    this.replace(this._log, canSend && m.self.roomState === 'joined' ? form : null);
    this._renderTargets();
    this._log.scrollTop = this._log.scrollHeight;
  }
}

export class RtkPolls extends RtkElement {
  bind(meeting) {
    this.listen(meeting.polls, 'pollsUpdate', () => this.update());
    this.listen(meeting.self, 'roomJoined', () => this.update());
  }

  _option(poll, option, index, canVote, showCount, total) {
    const m = this.meeting;
    const text = h('span', { class: 'rtk-poll-option-text' }, option.text);
    const percent = total ? ` (${Math.round((100 * option.count) / total)}%)` : '';
    return h('li', {},
      canVote
        ? h('button', { type: 'button', class: 'rtk-btn rtk-btn-small', 'aria-label': `Vote ${option.text}`, 'data-focus-key': `vote:${poll.id}:${index}`,
          onclick: (e) => {
            e.currentTarget.disabled = true; // one click, one vote
            m.polls.vote(poll.id, index).catch((err) => {
              failed(this, 'Vote')(err);
              this.update();
            });
          } }, text)
        : text,
      showCount ? h('span', { class: 'rtk-poll-count', 'aria-label': `${option.count} ${option.count === 1 ? 'vote' : 'votes'}${percent}` },
        `${option.count}${percent}`) : null);
  }

  /** The form keeps what the user typed across re-renders (a vote elsewhere re-renders the list). */
  _form() {
    const m = this.meeting;
    if (this._pollForm) return this._pollForm;
    const uid = `rtk-polls-${Math.random().toString(36).slice(2, 8)}`;
    const question = h('input', { id: `${uid}-q`, maxlength: 1000, required: true, 'data-focus-key': 'poll-question' });
    const options = h('textarea', { id: `${uid}-o`, rows: 3, required: true, placeholder: 'One option per line', 'data-focus-key': 'poll-options' });
    const submit = h('button', { type: 'submit', class: 'rtk-btn rtk-primary' }, 'Create poll');
    this._pollForm = h('form', { class: 'rtk-poll-form', 'aria-label': 'Create a poll',
      onsubmit: (e) => {
        e.preventDefault();
        const opts = options.value.split('\n').map((s) => s.trim()).filter(Boolean);
        if (opts.length < 2) {
          notify(this, 'A poll needs at least two options (one per line).', { kind: 'error' });
          return;
        }
        submit.disabled = true;
        m.polls.create(question.value.trim(), opts)
          .then(() => { question.value = ''; options.value = ''; }, failed(this, 'Poll'))
          .finally(() => { submit.disabled = false; });
      } },
    h('div', { class: 'rtk-field' }, h('label', { for: `${uid}-q` }, 'Question'), question),
    h('div', { class: 'rtk-field' }, h('label', { for: `${uid}-o` }, 'Options'), options),
    submit);
    return this._pollForm;
  }

  render() {
    const m = this.meeting;
    if (!m) return;
    const perms = m.self.permissions.polls;
    const me = m.self.userId;
    const list = h('ul', { class: 'rtk-list', 'aria-label': 'Polls' }, m.polls.items.map((poll) => {
      const voted = poll.voted.includes(me);
      const total = poll.options.reduce((n, o) => n + o.count, 0);
      const canVote = perms.canVote && !voted && m.self.roomState === 'joined';
      return h('li', { class: 'rtk-poll', 'data-poll-id': poll.id, 'data-voted': String(voted) },
        h('h4', {}, poll.question),
        h('p', { class: 'rtk-muted' }, `by ${poll.createdBy || 'someone'}${poll.anonymous ? ' · anonymous' : ''}${voted ? ' · you voted' : ''}`),
        h('ul', { class: 'rtk-poll-options' }, poll.options.map((o, i) => this._option(poll, o, i, canVote, !poll.hideVotes || voted, total))));
    }));
    const form = perms.canCreate && m.self.roomState === 'joined' ? this._form() : null;
    this.replace(m.polls.items.length ? list : h('p', { class: 'rtk-muted' }, 'No polls yet.'), form);
  }
}

// -- notifications -------------------------------------------------------------------------------

export class RtkNotifications extends RtkElement {
  bind(meeting) {
    const p = meeting.participants;
    const perms = () => meeting.self.permissions;
    this.listen(p, 'participantJoined', (x) => this.add(`${x.name} joined`));
    this.listen(p, 'participantLeft', (x) => this.add(`${x.name} left`));
    this.listen(p, 'waitlistedParticipantJoined', (w) => {
      if (!perms().acceptWaitingRequests) return;
      this.add(`${w.name} is waiting to join`, {
        key: `wait:${w.id}`,
        sticky: true,
        actions: [
          { label: 'Admit', aria: `Admit ${w.name}`, onclick: () => p.acceptWaitingRoomRequest(w.id) },
          { label: 'Deny', aria: `Deny ${w.name}`, onclick: () => p.rejectWaitingRoomRequest(w.id) },
        ],
      });
    });
    this.listen(p, 'waitlistedParticipantLeft', (w) => this.dismiss(`wait:${w.id}`));
    this.listen(meeting.stage, 'newStageRequest', (r) => {
      if (!perms().acceptStageRequests) return;
      this.add(`${r.displayName} asks to join the stage`, { key: `stage:${r.peerId}`, sticky: true });
    });
    this.listen(meeting.stage, 'stageAccessRequestUpdate', (requests) => {
      const open = new Set(requests.map((r) => `stage:${r.peerId}`));
      for (const key of [...this._toasts.keys()]) if (key.startsWith('stage:') && !open.has(key)) this.dismiss(key);
    });
    this.listen(meeting.stage, 'stageRequestApproved', () => this.add('You may join the stage now.', { key: 'stage-approved' }));
    this.listen(meeting.stage, 'stageRequestRejected', () => this.add('Your request to join the stage was declined.'));
    this.listen(meeting.self, 'mediaModeration', ({ kind }) => this.add(`A host turned off your ${kind === 'audio' ? 'microphone' : kind === 'video' ? 'camera' : 'screen share'}.`));
    this.listen(meeting.polls, 'pollsUpdate', ({ newPoll, poll }) => {
      if (!newPoll || !poll || poll.createdByUserId === meeting.self.userId) return;
      this.add(`${poll.createdBy || 'Someone'} started a poll: ${poll.question}`, { key: `poll:${poll.id}` });
    });
    this.listen(meeting.self, 'reconnectFailed', () => this.add('The connection was lost and could not be resumed.', { kind: 'error', sticky: true }));
    this.listen(meeting.meta, 'error', (e) => this.add(e.message || e.reason, { kind: 'error' }));
  }

  get _toasts() {
    if (!this.__toasts) this.__toasts = new Map();
    return this.__toasts;
  }

  render() {
    this.setAttribute('role', 'status');
    this.setAttribute('aria-live', 'polite');
    this.setAttribute('aria-label', 'Notifications');
  }

  /** Show a toast; `actions` = [{label, aria, onclick}]; `sticky` keeps it until dismissed. */
  add(message, { key = null, kind = 'info', sticky = false, actions = [] } = {}) {
    const id = key || `n${Math.random().toString(36).slice(2)}`;
    this.dismiss(id);
    const toast = h('div', { class: `rtk-toast rtk-toast-${kind}`, 'data-key': id },
      h('span', {}, message),
      actions.map((a) => h('button', { type: 'button', class: 'rtk-btn rtk-btn-small', 'aria-label': a.aria || a.label,
        onclick: async () => {
          try {
            await a.onclick();
            this.dismiss(id);
          } catch (err) {
            this.add(`${a.label}: ${err.description || err.message}`, { kind: 'error' });
          }
        } }, a.label)),
      h('button', { type: 'button', class: 'rtk-btn rtk-btn-icon rtk-close', 'aria-label': 'Dismiss notification', onclick: () => this.dismiss(id) }, '×'));
    this._toasts.set(id, toast);
    this.append(toast);
    while (this.children.length > 5) {
      const first = this.firstElementChild;
      this._toasts.delete(first.dataset.key);
      first.remove();
    }
    if (!sticky && !actions.length) setTimeout(() => this.dismiss(id, toast), kind === 'error' ? 10000 : 5000);
    return id;
  }

  dismiss(key, only = null) {
    const toast = this._toasts.get(key);
    if (!toast || (only && toast !== only)) return;
    toast.remove();
    this._toasts.delete(key);
  }
}

// -- screens -----------------------------------------------------------------------------------

export class RtkSetupScreen extends RtkElement {
  bind(meeting) {
    this.listen(meeting.self, 'videoUpdate', () => this._tile && this._tile.update());
  }

  render() {
    const m = this.meeting;
    if (!m) return;
    if (this._built) return;
    this._built = true;
    const uid = `rtk-setup-${Math.random().toString(36).slice(2, 8)}`;
    this._tile = document.createElement('rtk-participant-tile');
    this._tile.isSelf = true;
    this._tile.participant = m.self;
    const name = h('input', { id: `${uid}-name`, value: m.self.name || '', maxlength: 100, autocomplete: 'name', readonly: !m.self.permissions.canEditDisplayName && m._presetLoaded });
    const error = h('p', { class: 'rtk-error', role: 'alert' });
    const join = h('button', { type: 'submit', class: 'rtk-btn rtk-primary rtk-btn-large' }, 'Join meeting');
    const mic = document.createElement('rtk-mic-toggle');
    const cam = document.createElement('rtk-camera-toggle');
    const settings = document.createElement('rtk-settings');
    for (const el of [mic, cam, settings]) el.meeting = m;
    const form = h('form', { class: 'rtk-setup-form', 'aria-label': 'Join the meeting',
      onsubmit: async (e) => {
        e.preventDefault();
        join.disabled = true;
        error.textContent = '';
        try {
          if (name.value.trim() && name.value.trim() !== m.self.name) m.self.setName(name.value.trim());
          await m.join();
        } catch (err) {
          error.textContent = `Could not join: ${err.description || err.message}`;
          join.disabled = false;
        }
      } },
    h('h1', {}, m.meta.meetingTitle || 'Join meeting'),
    h('div', { class: 'rtk-field' }, h('label', { for: `${uid}-name` }, 'Your name'), name),
    h('div', { class: 'rtk-controls-row' }, mic, cam),
    settings, join, error);
    this.replace(h('div', { class: 'rtk-setup' }, h('div', { class: 'rtk-setup-preview' }, this._tile), form));
  }
}

export class RtkWaitingScreen extends RtkElement {
  render() {
    const m = this.meeting;
    if (!m) return;
    this.replace(h('div', { class: 'rtk-center', role: 'status', 'aria-live': 'polite' },
      h('h1', {}, 'Waiting to be let in'),
      h('p', {}, 'A host will let you into the meeting soon.'),
      h('button', { type: 'button', class: 'rtk-btn rtk-danger', onclick: () => m.leave().catch(() => {}) }, 'Leave')));
  }
}

const ENDED_TEXT = {
  left: ['You left the meeting', ''],
  kicked: ['You were removed from the meeting', 'A host removed you.'],
  ended: ['The meeting has ended', 'A host ended the meeting for everyone.'],
  rejected: ['You were not let in', 'A host declined your request to join.'],
  disconnected: ['Connection lost', 'The connection could not be resumed.'],
};

export class RtkEndedScreen extends RtkElement {
  render() {
    const m = this.meeting;
    if (!m) return;
    const state = this.getAttribute('state') || m.self.roomState;
    const [title, text] = ENDED_TEXT[state] || ENDED_TEXT.left;
    this.dataset.state = state;
    const error = h('p', { class: 'rtk-error', role: 'alert' });
    let rejoin = null;
    if (state !== 'kicked' && state !== 'ended') {
      // Join again in place (a new peer; the page, its settings and devices stay). A kicked
      // participant's token is revoked and an ended meeting has nothing to rejoin.
      rejoin = h('button', { type: 'button', class: 'rtk-btn rtk-primary', 'data-focus-key': 'rejoin',
        onclick: async () => {
          rejoin.disabled = true;
          error.textContent = '';
          try {
            await m.join();
          } catch (err) {
            error.textContent = `Could not rejoin: ${err.description || err.message || err}`;
            rejoin.disabled = false;
            rejoin.focus();
          }
        } }, 'Rejoin');
    }
    this.replace(h('div', { class: 'rtk-center', role: 'status' }, h('h1', {}, title), text ? h('p', {}, text) : null, rejoin, error));
  }
}

// -- the meeting -------------------------------------------------------------------------------

export class RtkMeeting extends RtkElement {
  constructor() {
    super();
    this._screen = '';
    this._panel = '';
    this._unread = 0;
    this._unreadPolls = 0;
    this._connectionLost = false;
  }

  bind(meeting) {
    applyDesignTokens(this, (meeting.self.config && meeting.self.config.designTokens) || {});
    for (const event of ['roomJoined', 'waitlisted', 'roomLeft']) this.listen(meeting.self, event, () => this.update());
    // The resume window ran out (or the server refused the resume): the "Connection lost"
    // screen, with Rejoin, replaces the meeting until a new join succeeds.
    this.listen(meeting.self, 'reconnectFailed', () => {
      this._connectionLost = true;
      this.update();
    });
    this.listen(meeting.self, 'roomJoined', () => { this._connectionLost = false; });
    this.listen(meeting.self, 'waitlisted', () => { this._connectionLost = false; });
    this.listen(meeting.polls, 'pollsUpdate', ({ newPoll, poll }) => {
      if (this._panel === 'polls' || !newPoll || !poll || poll.createdByUserId === meeting.self.userId) return;
      this._unreadPolls += 1;
      this._updateBadges();
    });
    this.listen(meeting.chat, 'chatUpdate', () => {
      if (this._panel !== 'chat') {
        this._unread += 1;
        this._updateBadges();
      }
    });
    this.listen(meeting.participants, 'waitingRoomRequestsUpdate', () => this._updateBadges());
    this.listen(meeting.stage, 'stageAccessRequestUpdate', () => this._updateBadges());
  }

  /** Show an error instead of the meeting (e.g. an invalid token). */
  showError(message) {
    this._screen = 'error';
    this.replaceChildren(h('div', { class: 'rtk-center', role: 'alert' }, h('h1', {}, 'Cannot open the meeting'), h('p', {}, String(message))));
  }

  _screenFor(state) {
    if (state === 'init') return 'setup';
    if (state === 'waitlisted') return 'waiting';
    if (state === 'joined') return 'meeting';
    // Reconnecting: stay on the meeting (or waiting) screen until the SDK gives up.
    if (state === 'disconnected' && !this._connectionLost && (this._screen === 'meeting' || this._screen === 'waiting')) return this._screen;
    return 'ended';
  }

  render() {
    const m = this.meeting;
    if (this._screen === 'error') return;
    if (!m) {
      if (!this.children.length) this.replaceChildren(h('div', { class: 'rtk-center', role: 'status' }, h('p', {}, 'Connecting…')));
      return;
    }
    const screen = this._screenFor(m.self.roomState);
    this.dataset.roomState = m.self.roomState;
    const key = screen === 'ended' ? `ended:${m.self.roomState}` : screen;
    if (key === this._screenKey) return;
    this._screen = screen;
    this._screenKey = key;
    this.dataset.screen = screen;
    const make = (tag) => {
      const el = document.createElement(tag);
      el.meeting = m;
      return el;
    };
    const notifications = make('rtk-notifications');
    if (screen === 'setup') return this.replaceChildren(make('rtk-setup-screen'), notifications);
    if (screen === 'waiting') return this.replaceChildren(make('rtk-waiting-screen'), notifications);
    if (screen === 'ended') {
      const ended = make('rtk-ended-screen');
      ended.setAttribute('state', m.self.roomState);
      return this.replaceChildren(ended);
    }
    // The meeting.
    const panels = {
      participants: ['Participants', 'people', make('rtk-participants')],
      chat: ['Chat', 'chat', make('rtk-chat')],
      polls: ['Polls', 'poll', make('rtk-polls')],
    };
    const sidebar = h('aside', { class: 'rtk-sidebar', id: 'rtk-sidebar', hidden: true });
    for (const [key, [label, , el]] of Object.entries(panels)) {
      sidebar.append(h('section', { class: 'rtk-panel', 'data-panel': key, 'aria-label': label, hidden: true }, h('h2', {}, label), el));
    }
    this._panelButtons = {};
    const panelButtons = Object.entries(panels).map(([key, [label, iconName]]) => {
      const button = h('button', {
        type: 'button', class: 'rtk-btn', 'aria-label': label, 'aria-expanded': false, 'aria-controls': 'rtk-sidebar',
        onclick: () => this.openPanel(this._panel === key ? '' : key),
      }, icon(iconName), h('span', { class: 'rtk-btn-text' }, label), h('span', { class: 'rtk-count', hidden: true, 'aria-hidden': 'true' }));
      this._panelButtons[key] = button;
      return button;
    });
    this._sidebar = sidebar;
    const header = h('header', { class: 'rtk-header' },
      h('h1', { class: 'rtk-title' }, m.meta.meetingTitle || 'Meeting'),
      make('rtk-connection-state'));
    const controls = h('footer', { class: 'rtk-controlbar', role: 'toolbar', 'aria-label': 'Meeting controls' },
      h('div', { class: 'rtk-controls-group' }, make('rtk-mic-toggle'), make('rtk-camera-toggle'), make('rtk-screen-share-toggle'), make('rtk-stage-toggle')),
      h('div', { class: 'rtk-controls-group' }, panelButtons, this._settingsButton(m)),
      h('div', { class: 'rtk-controls-group' }, make('rtk-leave-button')));
    this.replaceChildren(header, h('main', { class: 'rtk-main' }, make('rtk-grid'), sidebar), controls, make('rtk-audio'), notifications);
    if (this._panel) this.openPanel(this._panel);
    this._updateBadges();
  }

  _settingsButton(m) {
    const settings = make2('rtk-settings', m);
    const popover = h('div', { class: 'rtk-popover rtk-settings-popover', role: 'dialog', 'aria-label': 'Device settings', hidden: true }, settings);
    const button = h('button', { type: 'button', class: 'rtk-btn', 'aria-label': 'Settings', 'aria-haspopup': 'dialog', 'aria-expanded': false,
      onclick: () => toggle(popover.hidden) }, icon('settings'), h('span', { class: 'rtk-btn-text' }, 'Settings'));
    const focusFirst = () => {
      const first = popover.querySelector('select');
      if (first) first.focus();
      return !!first;
    };
    const toggle = (open) => {
      popover.hidden = !open;
      button.setAttribute('aria-expanded', String(open));
      if (open) {
        settings.update(); // refreshes the device lists; the focus follows the re-render (data-focus-key)
        if (!focusFirst()) setTimeout(focusFirst, 0); // not rendered yet: once it is
      } else button.focus();
    };
    // Escape closes the popover whether the focus is in it or still on its button.
    return h('div', { class: 'rtk-popover-anchor', onkeydown: (e) => { if (e.key === 'Escape' && !popover.hidden) toggle(false); } },
      button, popover);
  }

  /** Open a side panel: 'participants', 'chat', 'polls' or '' to close. */
  openPanel(key) {
    this._panel = key;
    if (!this._sidebar) return;
    this._sidebar.hidden = !key;
    for (const section of this._sidebar.querySelectorAll('.rtk-panel')) section.hidden = section.dataset.panel !== key;
    for (const [k, button] of Object.entries(this._panelButtons)) button.setAttribute('aria-expanded', String(k === key));
    if (key === 'chat') this._unread = 0;
    if (key === 'polls') this._unreadPolls = 0;
    this._updateBadges();
  }

  _updateBadges() {
    if (!this._panelButtons || !this.meeting) return;
    const m = this.meeting;
    const counts = {
      participants: (m.self.permissions.acceptWaitingRequests ? m.participants.waitlisted.size : 0)
        + (m.self.permissions.acceptStageRequests ? m.stage.accessRequests.length : 0),
      chat: this._unread,
      polls: this._unreadPolls,
    };
    for (const [key, button] of Object.entries(this._panelButtons)) {
      const badge = button.querySelector('.rtk-count');
      badge.hidden = !counts[key];
      badge.textContent = String(counts[key]);
      const label = { participants: 'Participants', chat: 'Chat', polls: 'Polls' }[key];
      button.setAttribute('aria-description', counts[key] ? `${counts[key]} new` : '');
      button.setAttribute('aria-label', label);
    }
  }
}

function make2(tag, meeting) {
  const el = document.createElement(tag);
  el.meeting = meeting;
  return el;
}

export const COMPONENTS = {
  'rtk-meeting': RtkMeeting,
  'rtk-setup-screen': RtkSetupScreen,
  'rtk-waiting-screen': RtkWaitingScreen,
  'rtk-ended-screen': RtkEndedScreen,
  'rtk-grid': RtkGrid,
  'rtk-participant-tile': RtkParticipantTile,
  'rtk-audio': RtkAudio,
  'rtk-mic-toggle': RtkMicToggle,
  'rtk-camera-toggle': RtkCameraToggle,
  'rtk-screen-share-toggle': RtkScreenShareToggle,
  'rtk-stage-toggle': RtkStageToggle,
  'rtk-settings': RtkSettings,
  'rtk-leave-button': RtkLeaveButton,
  'rtk-connection-state': RtkConnectionState,
  'rtk-participants': RtkParticipants,
  'rtk-chat': RtkChat,
  'rtk-polls': RtkPolls,
  'rtk-notifications': RtkNotifications,
};
