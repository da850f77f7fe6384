// `meeting.self`: the local participant (reference §10.3).
//
// Events: `roomJoined({reconnected})`, `waitlisted`, `roomLeft({state})`,
// `stageStatusUpdate(status)`, `audioUpdate({audioEnabled, audioTrack})`,
// `videoUpdate({videoEnabled, videoTrack})`, `screenShareUpdate({screenShareEnabled,
// screenShareTracks})`, `deviceUpdate({device})`, `deviceListUpdate({added, removed, devices})`,
// `mediaPermissionUpdate({kind, message})`, `mediaPermissionError({kind, message})`,
// `mediaModeration({kind, allowUnmute, actorPeerId})`, `pinned`, `unpinned`, `reconnectFailed`.
//
// Media: tracks come from the browser (getUserMedia / getDisplayMedia, or passed in); the media
// module (media.js) publishes them to the SFU while this peer is joined and on stage, and the
// state is reported to the session with the `mediaUpdate` signaling message.

import { ClientError, CODE_MEDIA, PermissionDenied } from './errors.js';
import { EventEmitter } from './events.js';
import { attachTrack, participantFields } from './participants.js';
import { permissions as toPermissions, toDate } from './wire.js';

const PERMISSION_ERRORS = {
  NotAllowedError: 'DENIED',
  SecurityError: 'DENIED',
  NotFoundError: 'NO_DEVICES_AVAILABLE',
  OverconstrainedError: 'NO_DEVICES_AVAILABLE',
  NotReadableError: 'COULD_NOT_START',
  AbortError: 'CANCELED',
};

export class SelfParticipant extends EventEmitter {
  constructor(client) {
    super();
    this._client = client;
    this.id = '';
    Object.assign(this, participantFields({}));
    this.roomState = 'init';
    this.flags = { recorder: false, hiddenParticipant: false };
    this.joinedAt = null;
    this.permissions = toPermissions({});
    /** The preset's `ui` (camelCase): `designTokens`, `configDiff`. */
    this.config = { designTokens: {}, configDiff: {} };
    /** The preset's `config` (camelCase): `viewType`, `maxVideoStreams`, `media`, … */
    this.presetConfig = {};
    this.audioTrack = null;
    this.videoTrack = null;
    this.screenShareTracks = { audio: null, video: null };
    this.mediaPermissions = { audio: 'NOT_REQUESTED', video: 'NOT_REQUESTED', screenshare: 'NOT_REQUESTED' };
    this.hidden = false;
    this._devices = { audio: null, video: null, speaker: null };
    this._videoElements = new Set();
    this._deviceList = [];
    if (typeof navigator !== 'undefined' && navigator.mediaDevices && navigator.mediaDevices.addEventListener) {
      navigator.mediaDevices.addEventListener('devicechange', () => this._onDeviceChange());
    }
  }

  get peerId() {
    return this.id;
  }

  get roomJoined() {
    return this.roomState === 'joined';
  }

  /** `none` | `waiting` | `accepted` | `rejected` (web-core's self.waitlistStatus). */
  get waitlistStatus() {
    if (this.roomState === 'waitlisted') return 'waiting';
    if (this.roomState === 'rejected') return 'rejected';
    return this.roomState === 'joined' && this._client._wasWaitlisted ? 'accepted' : 'none';
  }

  /** May this peer publish `kind` now (preset allows it and it is on stage)? */
  canPublish(kind) {
    const value = { audio: this.permissions.canProduceAudio, video: this.permissions.canProduceVideo,
      screenshare: this.permissions.canProduceScreenshare }[kind];
    if (value === 'NOT_ALLOWED') return false;
    if (value === 'CAN_REQUEST' || this.permissions.stageEnabled) return this.stageStatus === 'ON_STAGE';
    return true;
  }

  _update(info) {
    this.id = info.id || this.id;
    Object.assign(this, participantFields(info), {
      // Own media state is what this client publishes, not what the server last heard.
      audioEnabled: this.audioEnabled,
      videoEnabled: this.videoEnabled,
      screenShareEnabled: this.screenShareEnabled,
    });
    this.flags = { recorder: !!info.flags?.recorder, hiddenParticipant: !!info.flags?.hiddenParticipant };
    this.joinedAt = toDate(info.joinTime) || this.joinedAt;
  }

  // -- identity ---------------------------------------------------------------------------------

  /** Display name used when joining (others see it only when set before join). */
  setName(name) {
    this.name = String(name || '');
    this._client._displayName = this.name;
  }

  pin() { return this._client._request({ pin: { peerId: this.id } }); }
  unpin() { return this._client._request({ pin: { peerId: this.id, unpin: true } }); }

  hide() { this.hidden = true; this.emit('toggleTile', { hidden: true }); }
  show() { this.hidden = false; this.emit('toggleTile', { hidden: false }); }

  registerVideoElement(el) {
    this._videoElements.add(el);
    attachTrack(el, this.videoTrack);
  }

  deregisterVideoElement(el) {
    this._videoElements.delete(el);
  }

  // -- media ------------------------------------------------------------------------------------

  _checkProduce(kind) {
    const value = { audio: this.permissions.canProduceAudio, video: this.permissions.canProduceVideo,
      screenshare: this.permissions.canProduceScreenshare }[kind];
    if (value === 'NOT_ALLOWED' && this._client._presetLoaded) {
      throw new PermissionDenied('0101', `Your preset may not publish ${kind}.`, 'PERMISSION_DENIED_BY_PRESET');
    }
  }

  async _getUserMedia(kind) {
    const media = this._client._defaults.mediaConfiguration || {};
    const constraints = {};
    if (kind === 'audio') {
      constraints.audio = { ...(media.audio || {}) };
      if (this._devices.audio) constraints.audio.deviceId = { exact: this._devices.audio.deviceId };
      if (!Object.keys(constraints.audio).length) constraints.audio = true;
    } else {
      const video = media.video || {};
      constraints.video = {
        width: { ideal: video.width?.ideal || video.width || 640 },
        height: { ideal: video.height?.ideal || video.height || 480 },
        frameRate: { ideal: video.frameRate?.ideal || video.frameRate || 24 },
      };
      if (this._devices.video) constraints.video.deviceId = { exact: this._devices.video.deviceId };
    }
    try {
      const stream = await navigator.mediaDevices.getUserMedia(constraints);
      this._setMediaPermission(kind, 'ACCEPTED');
      return stream.getTracks()[0];
    } catch (err) {
      const state = PERMISSION_ERRORS[err && err.name] || 'COULD_NOT_START';
      this._setMediaPermission(kind, state);
      this.emit('mediaPermissionError', { kind, message: state });
      throw new ClientError(CODE_MEDIA, `Cannot start the ${kind === 'audio' ? 'microphone' : 'camera'}: ${err}`, state);
    }
  }

  _setMediaPermission(kind, state) {
    if (this.mediaPermissions[kind] === state) return;
    this.mediaPermissions = { ...this.mediaPermissions, [kind]: state };
    this.emit('mediaPermissionUpdate', { kind, message: state });
  }

  /** Turn the microphone on (optionally with a given track). */
  async enableAudio(track = null) {
    this._checkProduce('audio');
    const next = track || (this.audioTrack && this.audioTrack.readyState === 'live' ? this.audioTrack : await this._getUserMedia('audio'));
    next.enabled = true;
    this._setLocalTrack('audio', next);
    this.audioEnabled = true;
    await this._client._syncMedia('audio');
    this.emit('audioUpdate', { audioEnabled: true, audioTrack: this.audioTrack });
  }

  /** Turn the microphone off (the track is stopped: the device is released). */
  async disableAudio() {
    this._stopLocal('audio');
    this.audioEnabled = false;
    await this._client._syncMedia('audio');
    this.emit('audioUpdate', { audioEnabled: false, audioTrack: null });
  }

  /** Turn the camera on (optionally with a given track). */
  async enableVideo(track = null) {
    this._checkProduce('video');
    const next = track || (this.videoTrack && this.videoTrack.readyState === 'live' ? this.videoTrack : await this._getUserMedia('video'));
    this._setLocalTrack('video', next);
    this.videoEnabled = true;
    await this._client._syncMedia('video');
    this.emit('videoUpdate', { videoEnabled: true, videoTrack: this.videoTrack });
  }

  /** Turn the camera off (the track is stopped: the camera light goes off). */
  async disableVideo() {
    this._stopLocal('video');
    this.videoEnabled = false;
    await this._client._syncMedia('video');
    this.emit('videoUpdate', { videoEnabled: false, videoTrack: null });
  }

  /** Share the screen (getDisplayMedia, or a given video track). */
  async enableScreenShare(track = null) {
    this._checkProduce('screenshare');
    let video = track;
    let audio = null;
    if (!video) {
      const screen = this._client._defaults.mediaConfiguration?.screenshare || {};
      try {
        const stream = await navigator.mediaDevices.getDisplayMedia({
          video: { frameRate: { ideal: screen.frameRate || 5 } },
          audio: false,
        });
        video = stream.getVideoTracks()[0];
        audio = stream.getAudioTracks()[0] || null;
        this._setMediaPermission('screenshare', 'ACCEPTED');
      } catch (err) {
        const state = PERMISSION_ERRORS[err && err.name] || 'COULD_NOT_START';
        this._setMediaPermission('screenshare', state);
        this.emit('mediaPermissionError', { kind: 'screenshare', message: state });
        throw new ClientError(CODE_MEDIA, `Cannot share the screen: ${err}`, state);
      }
    }
    // The browser's own "Stop sharing" button ends the track.
    video.addEventListener('ended', () => {
      if (this.screenShareTracks.video === video) this.disableScreenShare().catch(() => {});
    }, { once: true });
    this.screenShareTracks = { audio, video };
    this.screenShareEnabled = true;
    await this._client._syncMedia('screenshare');
    this.emit('screenShareUpdate', { screenShareEnabled: true, screenShareTracks: this.screenShareTracks });
  }

  async disableScreenShare() {
    for (const t of Object.values(this.screenShareTracks)) if (t) t.stop();
    this.screenShareTracks = { audio: null, video: null };
    this.screenShareEnabled = false;
    await this._client._syncMedia('screenshare');
    this.emit('screenShareUpdate', { screenShareEnabled: false, screenShareTracks: this.screenShareTracks });
  }

  /** Acquire (or release) the microphone and camera, e.g. for a preview before join. */
  async setupTracks({ audio = false, video = false, forceReset = false } = {}) {
    const tasks = [];
    if (audio && (forceReset || !this.audioTrack)) tasks.push(this.enableAudio().catch((err) => err));
    if (video && (forceReset || !this.videoTrack)) tasks.push(this.enableVideo().catch((err) => err));
    const results = await Promise.all(tasks);
    return results.filter((r) => r instanceof Error);
  }

  /** The media was refused or turned off by the server: stop it locally and tell listeners. */
  _turnOff(kind) {
    if (kind === 'audio') {
      this._stopLocal('audio');
      this.audioEnabled = false;
      this.emit('audioUpdate', { audioEnabled: false, audioTrack: null });
    } else if (kind === 'video') {
      this._stopLocal('video');
      this.videoEnabled = false;
      this.emit('videoUpdate', { videoEnabled: false, videoTrack: null });
    } else {
      for (const t of Object.values(this.screenShareTracks)) if (t) t.stop();
      this.screenShareTracks = { audio: null, video: null };
      this.screenShareEnabled = false;
      this.emit('screenShareUpdate', { screenShareEnabled: false, screenShareTracks: this.screenShareTracks });
    }
  }

  _setLocalTrack(kind, track) {
    const key = kind === 'audio' ? 'audioTrack' : 'videoTrack';
    if (this[key] && this[key] !== track) this[key].stop();
    this[key] = track;
    if (kind === 'video') for (const el of this._videoElements) attachTrack(el, track);
  }

  _stopLocal(kind) {
    const key = kind === 'audio' ? 'audioTrack' : 'videoTrack';
    if (this[key]) this[key].stop();
    this[key] = null;
    if (kind === 'video') for (const el of this._videoElements) attachTrack(el, null);
  }

  // -- devices ----------------------------------------------------------------------------------

  async getAllDevices() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.enumerateDevices) return [];
    this._deviceList = await navigator.mediaDevices.enumerateDevices();
    return this._deviceList;
  }

  async getAudioDevices() { return (await this.getAllDevices()).filter((d) => d.kind === 'audioinput'); }
  async getVideoDevices() { return (await this.getAllDevices()).filter((d) => d.kind === 'videoinput'); }
  async getSpeakerDevices() { return (await this.getAllDevices()).filter((d) => d.kind === 'audiooutput'); }

  /** The devices in use: `{audio, video, speaker}` (MediaDeviceInfo or null). */
  getCurrentDevices() {
    const byTrack = (track, kind) => {
      if (!track) return this._devices[kind === 'audioinput' ? 'audio' : 'video'];
      const id = track.getSettings ? track.getSettings().deviceId : undefined;
      return this._deviceList.find((d) => d.kind === kind && d.deviceId === id) || this._devices[kind === 'audioinput' ? 'audio' : 'video'];
    };
    return { audio: byTrack(this.audioTrack, 'audioinput'), video: byTrack(this.videoTrack, 'videoinput'), speaker: this._devices.speaker };
  }

  /**
   * Switch microphone, camera or speaker (a MediaDeviceInfo or `{kind, deviceId}`). While the
   * microphone / camera is on, the new device's track replaces the old one on the same sender
   * (no renegotiation, same peer) and the old track is stopped. Switches run one at a time, in
   * call order; when the new device cannot start, the old one stays in use and the call throws.
   */
  setDevice(device) {
    const run = () => this._setDevice(device);
    const next = (this._deviceChain || Promise.resolve()).then(run, run);
    this._deviceChain = next.catch(() => {});
    return next;
  }

  async _setDevice(device) {
    if (device.kind === 'audiooutput') {
      this._devices.speaker = device;
    } else if (device.kind === 'audioinput' || device.kind === 'videoinput') {
      const kind = device.kind === 'audioinput' ? 'audio' : 'video';
      const previous = this._devices[kind];
      this._devices[kind] = device;
      if (kind === 'audio' ? this.audioEnabled : this.videoEnabled) {
        const old = kind === 'audio' ? this.audioTrack : this.videoTrack;
        let track;
        try {
          track = await this._getUserMedia(kind);
        } catch (err) {
          this._devices[kind] = previous;
          if (old && old.readyState === 'live') this._setMediaPermission(kind, 'ACCEPTED'); // still on, with the old device
          throw err;
        }
        if (!(kind === 'audio' ? this.audioEnabled : this.videoEnabled)) {
          track.stop(); // turned off meanwhile: only remember the device
        } else {
          this._setLocalTrack(kind, track);
          await this._client._syncMedia(kind);
          if (kind === 'audio') this.emit('audioUpdate', { audioEnabled: true, audioTrack: track });
          else this.emit('videoUpdate', { videoEnabled: true, videoTrack: track });
        }
      }
    }
    this.emit('deviceUpdate', { device });
  }

  async _onDeviceChange() {
    const before = new Set(this._deviceList.map((d) => `${d.kind}:${d.deviceId}`));
    const devices = await this.getAllDevices();
    const after = new Set(devices.map((d) => `${d.kind}:${d.deviceId}`));
    const added = devices.filter((d) => !before.has(`${d.kind}:${d.deviceId}`));
    const removed = [...before].filter((k) => !after.has(k));
    this.emit('deviceListUpdate', { added, removed, devices });
  }

  toJSON() {
    return {
      id: this.id, userId: this.userId, name: this.name, presetName: this.presetName, roomState: this.roomState,
      stageStatus: this.stageStatus, audioEnabled: this.audioEnabled, videoEnabled: this.videoEnabled,
      screenShareEnabled: this.screenShareEnabled, isHost: this.isHost,
    };
  }
}
