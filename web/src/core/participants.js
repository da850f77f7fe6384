// `meeting.participants`: remote participants, the grid (pagination, active speaker), the
// waiting room, moderation and broadcasts (reference §10.4, §10.5).
//
// Maps (`joined`, `waitlisted`, `pinned`, `active`) are `Map`s keyed by peer id that also emit
// `participantJoined` / `participantLeft`. The module emits `participantJoined`,
// `participantLeft`, `participantUpdated`, `waitlistedParticipantJoined`,
// `waitlistedParticipantLeft`, `waitingRoomRequestsUpdate`, `broadcastedMessage`, `pinned`,
// `unpinned`, `kicked`, `activeSpeaker({peerId, volume})`, `viewModeChanged`, `pageChanged`.

import { EventEmitter } from './events.js';
import { MEDIA_KIND, stageStatus, toDate, viewType } from './wire.js';

/** A Map that is also an event emitter (RealtimeKit's participant maps). */
export class ParticipantMap extends Map {
  constructor() {
    super();
    this._events = new EventEmitter();
  }

  on(event, fn) { this._events.on(event, fn); return this; }
  once(event, fn) { this._events.once(event, fn); return this; }
  off(event, fn) { this._events.off(event, fn); return this; }
  addListener(event, fn) { return this.on(event, fn); }
  removeListener(event, fn) { return this.off(event, fn); }
  emit(event, ...args) { return this._events.emit(event, ...args); }
  waitFor(event, predicate, timeoutMs) { return this._events.waitFor(event, predicate, timeoutMs); }

  toArray() {
    return [...this.values()];
  }

  byUserId(userId) {
    return this.toArray().filter((p) => p.userId === userId);
  }

  _add(item) {
    const isNew = !this.has(item.id);
    this.set(item.id, item);
    if (isNew) this.emit('participantJoined', item);
    return isNew;
  }

  _remove(id) {
    const item = this.get(id);
    if (item === undefined) return null;
    this.delete(id);
    this.emit('participantLeft', item);
    return item;
  }

  _clear() {
    if (this.size) {
      this.clear();
      this.emit('participantsCleared');
    }
  }
}

/** Fields of a ParticipantInfo (protobuf JSON: absent = default). */
export function participantFields(info = {}) {
  return {
    userId: info.userId || '',
    name: info.name || '',
    picture: info.picture || '',
    customParticipantId: info.customParticipantId || '',
    presetName: info.presetName || '',
    presetId: info.presetId || '',
    stageStatus: stageStatus(info.stageStatus),
    audioEnabled: !!info.audioEnabled,
    videoEnabled: !!info.videoEnabled,
    screenShareEnabled: !!info.screenShareEnabled,
    isPinned: !!info.isPinned,
    isHost: !!info.isHost,
    viewType: viewType(info.viewType),
  };
}

/** A remote peer. Events: `audioUpdate`, `videoUpdate`, `screenShareUpdate`, `stageStatusUpdate`,
 * `pinned`, `unpinned`, `kicked`, `participantUpdated`. */
export class Participant extends EventEmitter {
  constructor(client, peerId) {
    super();
    this._client = client;
    this.id = peerId;
    Object.assign(this, participantFields({}));
    this.flags = { recorder: false, hiddenParticipant: false };
    this.joinedAt = null;
    this.audioTrack = null;
    this.videoTrack = null;
    this.screenShareTracks = { audio: null, video: null };
    this.volume = 0;
    this._videoElements = new Set();
  }

  get peerId() {
    return this.id;
  }

  /** Apply a ParticipantInfo; returns the names of the attributes that changed. */
  _update(info) {
    const values = participantFields(info);
    const changed = Object.keys(values).filter((k) => this[k] !== values[k]);
    Object.assign(this, values);
    this.flags = { recorder: !!info.flags?.recorder, hiddenParticipant: !!info.flags?.hiddenParticipant };
    this.joinedAt = toDate(info.joinTime) || this.joinedAt;
    return changed;
  }

  /** Set a received track (media module) and emit the matching update event. */
  _setTrack(kind, track) {
    if (kind === 'audio') {
      if (this.audioTrack === track) return;
      this.audioTrack = track;
      this.emit('audioUpdate', { audioEnabled: this.audioEnabled, audioTrack: track });
    } else if (kind === 'video') {
      if (this.videoTrack === track) return;
      this.videoTrack = track;
      for (const el of this._videoElements) attachTrack(el, track);
      this.emit('videoUpdate', { videoEnabled: this.videoEnabled, videoTrack: track });
    } else {
      const key = kind === 'screenshareAudio' ? 'audio' : 'video';
      if (this.screenShareTracks[key] === track) return;
      this.screenShareTracks = { ...this.screenShareTracks, [key]: track };
      this.emit('screenShareUpdate', { screenShareEnabled: this.screenShareEnabled, screenShareTracks: this.screenShareTracks });
    }
    this._client.participants.emit('mediaUpdate', this, kind);
  }

  /** Show this participant's camera in a <video> element (kept up to date). */
  registerVideoElement(el) {
    this._videoElements.add(el);
    attachTrack(el, this.videoTrack);
  }

  deregisterVideoElement(el) {
    this._videoElements.delete(el);
  }

  pin() { return this._client._request({ pin: { peerId: this.id } }); }
  unpin() { return this._client._request({ pin: { peerId: this.id, unpin: true } }); }
  disableAudio() { return this._client.participants.disableAudio(this.id); }
  disableVideo() { return this._client.participants.disableVideo(this.id); }
  kick() { return this._client.participants.kick(this.id); }

  toJSON() {
    return {
      id: this.id, userId: this.userId, name: this.name, picture: this.picture,
      customParticipantId: this.customParticipantId, presetName: this.presetName,
      stageStatus: this.stageStatus, audioEnabled: this.audioEnabled, videoEnabled: this.videoEnabled,
      screenShareEnabled: this.screenShareEnabled, isPinned: this.isPinned, isHost: this.isHost,
      flags: { ...this.flags },
    };
  }
}

export function attachTrack(el, track) {
  const current = el.srcObject && el.srcObject.getTracks ? el.srcObject.getTracks()[0] : null;
  if (current === (track || null)) return;
  el.srcObject = track ? new MediaStream([track]) : null;
}

/** A peer in the waiting room, as shown to hosts. */
export class WaitlistedParticipant {
  constructor(request) {
    this.id = request.peerId;
    this.userId = request.userId || '';
    this.name = request.displayName || '';
    this.picture = request.picture || '';
    this.customParticipantId = request.customParticipantId || '';
    this.presetName = request.presetName || '';
    this.requestedAt = toDate(request.requestTime);
  }

  get peerId() {
    return this.id;
  }
}

export class Participants extends EventEmitter {
  constructor(client) {
    super();
    this._client = client;
    this.joined = new ParticipantMap();
    this.waitlisted = new ParticipantMap();
    this.pinned = new ParticipantMap();
    /** The participants of the current grid page (or the most recent speakers in ACTIVE_GRID). */
    this.active = new ParticipantMap();
    this.viewMode = 'ACTIVE_GRID';
    this.currentPage = 0;
    this.maxActiveParticipantsCount = 8;
    this.lastActiveSpeaker = '';
    this._speakOrder = [];
    this._pageOrder = [];
  }

  get count() {
    return this.joined.size;
  }

  /** Participants that may appear in the grid: on stage (everyone in a group call). */
  get stageParticipants() {
    return this.joined.toArray().filter((p) => p.stageStatus === 'ON_STAGE' && !p.flags.hiddenParticipant);
  }

  get pageCount() {
    return Math.max(1, Math.ceil(this.stageParticipants.length / Math.max(1, this.maxActiveParticipantsCount)));
  }

  // -- grid --------------------------------------------------------------------------------

  setMaxActiveParticipantsCount(n) {
    this.maxActiveParticipantsCount = Math.max(1, n | 0);
    this._refreshActive();
  }

  setViewMode(mode) {
    if (!['ACTIVE_GRID', 'PAGINATED', 'MANUAL'].includes(mode)) throw new Error(`unknown view mode ${mode}`);
    this.viewMode = mode;
    if (mode === 'ACTIVE_GRID') this.currentPage = 0;
    else this._pageOrder = [];
    this._refreshActive();
    this.emit('viewModeChanged', { viewMode: mode, currentPage: this.currentPage, pageCount: this.pageCount });
  }

  setPage(page) {
    if (this.viewMode === 'ACTIVE_GRID') {
      // Paging away from the active grid: its tiles stay page 1, the others follow in join order.
      this._pageOrder = [...this.active.keys()];
      this.viewMode = 'PAGINATED';
    }
    this.currentPage = Math.min(Math.max(0, page | 0), this.pageCount - 1);
    this._refreshActive();
    this.emit('pageChanged', { viewMode: this.viewMode, currentPage: this.currentPage, pageCount: this.pageCount });
  }

  /** Recompute `active` (the grid page) and emit participantJoined/Left on it for changes. */
  _refreshActive() {
    const all = this.stageParticipants;
    const size = Math.max(1, this.maxActiveParticipantsCount);
    let chosen;
    if (this.viewMode === 'ACTIVE_GRID') {
      // Pinned first, then by most recent speech, then by join order.
      const rank = (p) => (p.isPinned ? -1e9 : 0) + (this._speakOrder.includes(p.id) ? this._speakOrder.indexOf(p.id) : 1e6);
      chosen = [...all].sort((a, b) => rank(a) - rank(b)).slice(0, size);
      const ids = new Set(chosen.map((p) => p.id));
      chosen = all.filter((p) => ids.has(p.id)); // stable tile order
    } else {
      if (this.currentPage > this.pageCount - 1) this.currentPage = this.pageCount - 1;
      const order = this._pageOrder || [];
      const rank = (p) => (order.includes(p.id) ? order.indexOf(p.id) : order.length);
      const ordered = all.map((p, i) => [rank(p), i, p]).sort((a, b) => a[0] - b[0] || a[1] - b[1]).map((x) => x[2]);
      chosen = ordered.slice(this.currentPage * size, (this.currentPage + 1) * size);
    }
    const wanted = new Set(chosen.map((p) => p.id));
    for (const id of [...this.active.keys()]) if (!wanted.has(id)) this.active._remove(id);
    for (const p of chosen) this.active._add(p);
    this.emit('activeParticipantsUpdate', this.active.toArray());
  }

  /** Active speaker reported by the media layer. */
  _setActiveSpeaker(peerId, volume = 0) {
    if (!peerId) return;
    this.lastActiveSpeaker = peerId;
    this._speakOrder = [peerId, ...this._speakOrder.filter((id) => id !== peerId)].slice(0, 50);
    const participant = this.joined.get(peerId);
    if (participant) participant.volume = volume;
    if (this.viewMode === 'ACTIVE_GRID' && participant && !this.active.has(peerId)) this._refreshActive();
    this.emit('activeSpeaker', { peerId, volume });
  }

  // -- subscriptions (visible tiles) ----------------------------------------------------------

  subscribe(peerIds, kinds) {
    return this._client._media?.subscribe(peerIds, kinds);
  }

  unsubscribe(peerIds, kinds) {
    return this._client._media?.unsubscribe(peerIds, kinds);
  }

  // -- waiting room (accept_waiting_requests) -------------------------------------------------

  acceptWaitingRoomRequest(id) {
    return this._decide('WAITING_ROOM_ACTION_ACCEPT', [id]);
  }

  acceptAllWaitingRoomRequest(userIds) {
    if (userIds && userIds.length) return this._decide('WAITING_ROOM_ACTION_ACCEPT', [...userIds]);
    return this._client._request({ waitingRoomDecision: { action: 'WAITING_ROOM_ACTION_ACCEPT', all: true } });
  }

  rejectWaitingRoomRequest(id) {
    return this._decide('WAITING_ROOM_ACTION_REJECT', [id]);
  }

  async _decide(action, peerIds) {
    await this._client._request({ waitingRoomDecision: { action, peerIds } });
  }

  async getWaitingRoomRequests() {
    const reply = await this._client._request({ waitingRoomList: {} });
    if (reply.waitingRoomRequests) this._client._onWaitingRoom(reply.waitingRoomRequests.requests || []);
    return this.waitlisted.toArray();
  }

  // -- moderation -------------------------------------------------------------------------------

  kick(id) { return this._client._request({ kick: { peerIds: [id] } }); }
  /** Remove everybody and end the session for all (kick_participant). */
  kickAll() { return this._client._request({ kick: { all: true } }); }
  disableAudio(id) { return this._client._request({ mute: { peerIds: [id], kind: MEDIA_KIND.audio } }); }
  disableVideo(id) { return this._client._request({ mute: { peerIds: [id], kind: MEDIA_KIND.video } }); }
  disableScreenShare(id) { return this._client._request({ mute: { peerIds: [id], kind: MEDIA_KIND.screenshare } }); }
  disableAllAudio(allowUnmute = false) {
    return this._client._request({ mute: { all: true, kind: MEDIA_KIND.audio, allowUnmute } });
  }
  disableAllVideo() { return this._client._request({ mute: { all: true, kind: MEDIA_KIND.video } }); }

  // -- messaging ------------------------------------------------------------------------------

  /** Custom message (at most 5 per second); `target` = `{participantIds}` or `{presetNames}`. */
  broadcastMessage(type, payload = {}, target = null) {
    const message = { type, payload };
    if (target) {
      message.target = {
        participantIds: target.participantIds || [],
        presetNames: target.presetNames || [],
      };
    }
    return this._client._request({ broadcast: message });
  }
}
