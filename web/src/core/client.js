// `RealtimeKitClient`: the meeting object of the Core SDK, in the browser.
//
//   const meeting = await RealtimeKitClient.init({ authToken, baseURI: 'https://gateway' });
//   await meeting.join();
//   meeting.self.roomState;           // "joined" or "waitlisted"
//   await meeting.chat.sendTextMessage('hi');
//   await meeting.leave();
//
// One signaling socket per meeting (transport.js, docs/signaling.md). A dropped socket is
// resumed within the server's resume window with the resume token of the last JoinResponse: the
// peer keeps its id and state and `self` emits `roomLeft({state: "disconnected"})`, then
// `roomJoined({reconnected: true})`. Media (media.js) runs over the browser's own
// RTCPeerConnection to the SFU, negotiated over the same socket.

import { AuthError, ClientError, CODE_INVALID_STATE, CODE_INVALID_TOKEN, CODE_NOT_CONNECTED, ConnectionLost } from './errors.js';
import { Chat, Meta, Polls, Stage } from './modules.js';
import { MediaSession } from './media.js';
import { Participant, Participants, WaitlistedParticipant } from './participants.js';
import { SelfParticipant } from './self.js';
import { FINAL_CLOSE_CODES, SignalingSocket } from './transport.js';
import { camelize, mediaKind, permissions, permissionsFromRest, roomState, stageStatus, toDate, viewType } from './wire.js';

export const SDK_NAME = 'realtimekit-web';
export const SDK_VERSION = '0.1.0';
const TERMINAL = new Set(['rejected', 'kicked', 'left', 'ended']);

/** The token's claims, read without verification (the server verifies). */
export function tokenClaims(authToken) {
  try {
    const payload = String(authToken).split('.')[1];
    const base64 = payload.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (payload.length % 4)) % 4);
    const claims = JSON.parse(decodeURIComponent(escape(atob(base64))));
    if (!claims || typeof claims !== 'object') throw new Error('not an object');
    return claims;
  } catch {
    throw new AuthError(CODE_INVALID_TOKEN, 'Invalid auth token.', 'TOKEN_INVALID');
  }
}

/** `https://host[:port]` from a baseURI that may omit the scheme (RealtimeKit passes a host). */
export function normalizeBaseURI(baseURI) {
  let base = baseURI || (typeof location !== 'undefined' ? location.origin : '');
  if (!base) throw new ClientError('0001', 'baseURI is required (the gateway URL).');
  if (!/^[a-z]+:\/\//i.test(base)) {
    const local = /^(localhost|127\.|\[::1\])/.test(base);
    base = `${local ? 'http' : 'https'}://${base}`;
  }
  return base.replace(/\/+$/, '');
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export class RealtimeKitClient {
  constructor(authToken, baseURI, { meetingId = '', displayName = '', autoReconnect = true, requestTimeoutMs = 10000, defaults = {}, iceServers = [] } = {}) {
    this._token = authToken;
    this._baseURI = normalizeBaseURI(baseURI);
    this._displayName = displayName;
    this._requestTimeoutMs = requestTimeoutMs;
    this._defaults = { audio: true, video: true, ...defaults };
    this.autoReconnect = autoReconnect;
    this._iceServers = iceServers;
    this.self = new SelfParticipant(this);
    this.participants = new Participants(this);
    this.stage = new Stage(this);
    this.chat = new Chat(this);
    this.polls = new Polls(this);
    this.meta = new Meta(meetingId);
    this._socket = null;
    this._media = null;
    this._resumeToken = '';
    this._resumeWindowMs = 0;
    this._heartbeatInterval = 10;
    this._disconnectedAt = 0;
    this._reconnecting = null;
    this._wasWaitlisted = false;
    this._leaving = false;
    this._presetLoaded = false;
    this.preset = null;
  }

  get authToken() {
    return this._token;
  }

  get baseURI() {
    return this._baseURI;
  }

  // -- lifecycle ---------------------------------------------------------------------------------

  /**
   * Validate the token, open the signaling socket (a refused token rejects with AuthError),
   * load the preset (permissions, `ui.design_tokens`) and, per `defaults.audio` /
   * `defaults.video` (default true), start the microphone and camera for a preview.
   */
  static async init({ authToken, baseURI, baseUrl, defaults = {}, displayName = '', autoReconnect = true, requestTimeoutMs = 10000, iceServers = [] } = {}) {
    if (!authToken) throw new AuthError(CODE_INVALID_TOKEN, 'authToken is required.', 'TOKEN_MISSING');
    const claims = tokenClaims(authToken);
    const meetingId = String(claims.meetingId || '');
    if (!meetingId) throw new ClientError('0404', 'The auth token names no meeting.', 'TOKEN_INVALID');
    const meeting = new RealtimeKitClient(authToken, baseURI || baseUrl, {
      meetingId, displayName, autoReconnect, requestTimeoutMs, defaults, iceServers,
    });
    try {
      await meeting._connect();
    } catch (err) {
      meeting.close();
      throw err;
    }
    await meeting._loadPreset();
    const media = meeting._defaults;
    if (media.audio || media.video) {
      await meeting.self.setupTracks({
        audio: !!media.audio && meeting.self.permissions.canProduceAudio !== 'NOT_ALLOWED',
        video: !!media.video && meeting.self.permissions.canProduceVideo !== 'NOT_ALLOWED',
      });
    }
    return meeting;
  }

  /** Join the session: `self.roomState` becomes `joined` (roomJoined) or `waitlisted`. */
  async join() {
    if (['joined', 'waitlisted'].includes(this.self.roomState)) return;
    if (!this._socket || !this._socket.connected) await this._connect();
    this._leaving = false;
    const reply = await this._request({ join: { displayName: this._displayName, client: this._clientInfo() } });
    this._applyJoin(reply.joinResponse, false);
  }

  joinRoom() {
    return this.join();
  }

  /** Leave for good: room state `left`, `roomLeft({state: "left"})`, socket closed. */
  async leave(state = 'left') {
    this._leaving = true;
    const socket = this._socket;
    if (socket && socket.connected && ['joined', 'waitlisted'].includes(this.self.roomState)) {
      try {
        await socket.request({ leave: {} });
      } catch {
        /* leaving anyway */
      }
    }
    if (!TERMINAL.has(this.self.roomState)) this._setRoomState(state === 'left' ? 'left' : state);
    this.close();
  }

  leaveRoom(state) {
    return this.leave(state);
  }

  /** Close the socket and media without leaving (the server treats it as a transport loss). */
  close() {
    this._leaving = true;
    if (this._media) this._media.close();
    this._media = null;
    if (this._socket) this._socket.close();
    for (const track of [this.self.audioTrack, this.self.videoTrack, this.self.screenShareTracks.video, this.self.screenShareTracks.audio]) {
      if (track) track.stop();
    }
  }

  /** Resume the peer on a new socket (automatic after a drop unless autoReconnect is false). */
  async reconnect() {
    if (!this._resumeToken || !this.self.id) throw new ClientError(CODE_INVALID_STATE, 'Nothing to resume: join first.');
    if (this._socket) this._socket.close();
    await this._connect();
    this._leaving = false;
    let reply;
    try {
      reply = await this._request({
        join: { displayName: this._displayName, resumeToken: this._resumeToken, peerId: this.self.id, client: this._clientInfo() },
      });
    } catch (err) {
      this.meta._socket('failed');
      throw err;
    }
    this._applyJoin(reply.joinResponse, true);
  }

  // -- requests ----------------------------------------------------------------------------------

  async _connect() {
    const socket = new SignalingSocket(this._baseURI, this._token, {
      meetingId: this.meta.meetingId,
      onMessage: (message) => this._onMessage(message),
      onClosed: (closed) => this._onSocketClosed(socket, closed),
      requestTimeoutMs: this._requestTimeoutMs,
    });
    this._socket = socket;
    try {
      await socket.connect();
    } catch (err) {
      socket.close();
      throw err;
    }
    socket.startHeartbeats(this._heartbeatInterval);
    this.meta._socket('connected');
  }

  _request(fields, timeoutMs) {
    if (!this._socket || !this._socket.connected) {
      return Promise.reject(new ClientError(CODE_NOT_CONNECTED, 'Not connected to the meeting.'));
    }
    return this._socket.request(fields, timeoutMs);
  }

  _clientInfo() {
    return {
      sdkName: SDK_NAME,
      sdkVersion: SDK_VERSION,
      userAgent: typeof navigator !== 'undefined' ? navigator.userAgent : '',
      isMobile: typeof navigator !== 'undefined' && /Mobi|Android/i.test(navigator.userAgent),
    };
  }

  /**
   * The preset (REST form: permissions, `config`, `ui.design_tokens`), the participant's name
   * and the meeting title, served by the gateway for this token (`GET /v1/web/context`).
   */
  async _loadPreset() {
    try {
      const response = await fetch(`${this._baseURI}/v1/web/context`, { headers: { Authorization: `Bearer ${this._token}` } });
      if (!response.ok) return;
      const body = await response.json();
      const { preset = {}, participant = {}, meeting = {} } = body.data || {};
      this.preset = preset;
      this.self.config = { designTokens: {}, configDiff: {}, ...camelize(preset.ui || {}) };
      if (preset.ui && preset.ui.config_diff) this.self.config.configDiff = preset.ui.config_diff;
      this.self.presetConfig = camelize(preset.config || {});
      if (preset.permissions) this.self.permissions = permissionsFromRest(preset.permissions);
      this.self.presetName = preset.name || this.self.presetName;
      this.self.presetId = preset.id || this.self.presetId;
      if (participant.name && !this.self.name) this.self.name = participant.name;
      this.self.userId = participant.id || this.self.userId;
      this.self.customParticipantId = participant.custom_participant_id || this.self.customParticipantId;
      this.self.picture = participant.picture || this.self.picture;
      this.meta.meetingTitle = meeting.title || this.meta.meetingTitle;
      this.meta.viewType = this.self.presetConfig.viewType || this.meta.viewType;
      const desktop = this.self.presetConfig.maxVideoStreams?.desktop;
      if (desktop > 1) this.participants.setMaxActiveParticipantsCount(desktop - 1);
      this._presetLoaded = true;
    } catch (err) {
      console.warn('[realtimekit] could not load the preset', err);
    }
  }

  // -- incoming ----------------------------------------------------------------------------------

  _onMessage(message) {
    for (const [key, value] of Object.entries(message)) {
      if (key === 'requestId' || key === 'time') continue;
      const handler = this[`_on_${key}`];
      if (handler) handler.call(this, value, message);
      else if (this._media) this._media.onSignal(key, value, message);
    }
  }

  _on_joinResponse(join, message) {
    if (!message.requestId) this._applyJoin(join, false); // pushed: admitted from the waiting room
  }

  _on_roomState(change) {
    const state = roomState(change.state);
    if (state) this._setRoomState(state, { message: change.message || '' });
  }

  _on_participantJoined(joined) {
    this._upsert(joined.participant || {});
  }

  _on_participantLeft(left) {
    const participant = this.participants.joined._remove(left.peerId);
    this.participants.pinned._remove(left.peerId);
    if (!participant) return;
    if (this._media) this._media.peerLeft(participant.id);
    this.participants._refreshActive();
    this.participants.emit('participantLeft', participant);
    if (roomState(left.state) === 'kicked') {
      participant.emit('kicked', { id: participant.id });
      this.participants.emit('kicked', { id: participant.id });
    }
  }

  _on_participantUpdated(updated) {
    const info = updated.participant || {};
    if (info.id === this.self.id) {
      const before = [this.self.stageStatus, this.self.isPinned];
      this.self._update(info);
      this._emitSelfChanges(before);
      return;
    }
    this._upsert(info, updated.changedFields || []);
  }

  _on_waitingRoomRequests(requests) {
    this._onWaitingRoom(requests.requests || []);
  }

  _on_stageStatus(change) {
    const status = stageStatus(change.status);
    if (change.peerId && change.peerId !== this.self.id) {
      const participant = this.participants.joined.get(change.peerId);
      if (participant && participant.stageStatus !== status) {
        participant.stageStatus = status;
        participant.emit('stageStatusUpdate', status);
        this.stage.emit('peerStageStatusUpdate', { peerId: participant.id, status });
        this.participants._refreshActive();
      }
      return;
    }
    const previous = this.self.stageStatus;
    this.self.stageStatus = status;
    if (status !== previous) {
      this.self.emit('stageStatusUpdate', status);
      this.stage.emit('stageStatusUpdate', status);
      this._syncAllMedia();
    }
    if (change.reason === 'grantAccess' && status === 'ACCEPTED_TO_JOIN_STAGE') {
      this.stage.emit('stageRequestApproved');
      this.stage.emit('acceptPresentRequests');
    } else if (change.reason === 'denyAccess') {
      this.stage.emit('stageRequestRejected');
    }
  }

  _on_stageRequests(requests) {
    this.stage._setRequests(requests.requests || []);
  }

  _on_mediaModeration(moderation) {
    const kind = mediaKind(moderation.kind);
    const payload = { kind, allowUnmute: !!moderation.allowUnmute, actorPeerId: moderation.actorPeerId || '' };
    const off = { audio: () => this.self.disableAudio(), video: () => this.self.disableVideo(), screenshare: () => this.self.disableScreenShare() };
    const enabled = { audio: this.self.audioEnabled, video: this.self.videoEnabled, screenshare: this.self.screenShareEnabled };
    if (enabled[kind]) off[kind]().catch((err) => console.warn('[realtimekit] moderation', err));
    this.self.emit('mediaModeration', payload);
  }

  _on_pinned(pinned) {
    const event = pinned.pinned ? 'pinned' : 'unpinned';
    if (pinned.peerId === this.self.id) {
      if (this.self.isPinned !== !!pinned.pinned) {
        this.self.isPinned = !!pinned.pinned;
        this.self.emit(event);
      }
      return;
    }
    const participant = this.participants.joined.get(pinned.peerId);
    if (!participant) return;
    participant.isPinned = !!pinned.pinned;
    if (pinned.pinned) this.participants.pinned._add(participant);
    else this.participants.pinned._remove(participant.id);
    participant.emit(event);
    this.participants.emit(event, participant);
    this.participants._refreshActive();
  }

  _on_chatMessage(message) {
    this.chat._add(message);
  }

  _on_pollUpdated(update) {
    this.polls._update(update.poll || {}, !!update.newPoll);
  }

  _on_broadcast(broadcast) {
    this.participants.emit('broadcastedMessage', {
      type: broadcast.type,
      payload: broadcast.payload || {},
      timestamp: toDate(broadcast.timestamp),
      fromPeerId: broadcast.fromPeerId || '',
      fromUserId: broadcast.fromUserId || '',
    });
  }

  _on_error(error, message) {
    if (!message.requestId) this.meta.emit('error', { code: error.code, reason: error.reason, message: error.message });
  }

  _on_ack() {}

  // -- state -------------------------------------------------------------------------------------

  _applyJoin(join = {}, reconnected) {
    const state = roomState(join.roomState) || 'joined';
    if (join.resumeToken) this._resumeToken = join.resumeToken;
    if (join.resumeWindowSeconds) this._resumeWindowMs = join.resumeWindowSeconds * 1000;
    if (join.heartbeatIntervalSeconds) {
      this._heartbeatInterval = join.heartbeatIntervalSeconds;
      if (this._socket) this._socket.startHeartbeats(this._heartbeatInterval);
    }
    this.self.id = join.peerId || this.self.id;
    if (join.self) this.self._update(join.self);
    if (join.permissions) this.self.permissions = permissions(join.permissions);
    this.meta.sessionId = join.sessionId || this.meta.sessionId;
    if (state === 'joined') this.meta.media = join.media || null;
    if (join.meeting) {
      this.meta.meetingId = join.meeting.id || this.meta.meetingId;
      this.meta.meetingTitle = join.meeting.title || '';
      this.meta.viewType = viewType(join.meeting.viewType) || this.meta.viewType;
      this.meta.meetingStartedTimestamp = toDate(join.meeting.sessionStartTime);
    }
    // Remote peers: replace the map with the snapshot, emitting the differences.
    const present = new Set((join.participants || []).map((p) => p.id).filter((id) => id !== this.self.id));
    for (const id of [...this.participants.joined.keys()]) {
      if (present.has(id)) continue;
      const participant = this.participants.joined._remove(id);
      this.participants.pinned._remove(id);
      if (participant) {
        if (this._media) this._media.peerLeft(id);
        this.participants.emit('participantLeft', participant);
      }
    }
    for (const info of join.participants || []) if (info.id !== this.self.id) this._upsert(info);
    const pinned = new Set(join.pinnedPeerIds || []);
    for (const p of this.participants.joined.values()) p.isPinned = p.isPinned || pinned.has(p.id);
    this._onWaitingRoom(join.waitingRoomRequests || []);
    if (join.stage) this.stage._setState(join.stage);
    if ((join.stageRequests && join.stageRequests.length) || this.stage.accessRequests.length) {
      this.stage._setRequests(join.stageRequests || []);
    }
    this.chat._reset(join.chat || []);
    this.polls._reset(join.polls || []);
    if (state === 'waitlisted') this._wasWaitlisted = true;
    this.participants._refreshActive();
    this._setRoomState(state, { reconnected: reconnected || !!join.reconnected });
  }

  _upsert(info, changedFields = null) {
    if (!info.id || info.id === this.self.id) return;
    const joined = this.participants.joined;
    let participant = joined.get(info.id);
    if (!participant) {
      participant = new Participant(this, info.id);
      participant._update(info);
      joined._add(participant);
      if (participant.isPinned) this.participants.pinned._add(participant);
      this.participants._refreshActive();
      this.participants.emit('participantJoined', participant);
      if (this._media) this._media.peerJoined(participant);
      return;
    }
    const before = [participant.audioEnabled, participant.videoEnabled, participant.screenShareEnabled, participant.stageStatus, participant.isPinned];
    const changed = participant._update(info);
    if (!changed.length) return;
    if (participant.audioEnabled !== before[0]) participant.emit('audioUpdate', { audioEnabled: participant.audioEnabled, audioTrack: participant.audioTrack });
    if (participant.videoEnabled !== before[1]) participant.emit('videoUpdate', { videoEnabled: participant.videoEnabled, videoTrack: participant.videoTrack });
    if (participant.screenShareEnabled !== before[2]) {
      participant.emit('screenShareUpdate', { screenShareEnabled: participant.screenShareEnabled, screenShareTracks: participant.screenShareTracks });
    }
    if (participant.stageStatus !== before[3]) {
      participant.emit('stageStatusUpdate', participant.stageStatus);
      this.stage.emit('peerStageStatusUpdate', { peerId: participant.id, status: participant.stageStatus });
    }
    if (participant.isPinned !== before[4]) {
      if (participant.isPinned) this.participants.pinned._add(participant);
      else this.participants.pinned._remove(participant.id);
      participant.emit(participant.isPinned ? 'pinned' : 'unpinned');
    }
    if (participant.stageStatus !== before[3] || participant.isPinned !== before[4]) this.participants._refreshActive();
    participant.emit('participantUpdated', { changed });
    this.participants.emit('participantUpdated', participant, changedFields && changedFields.length ? changedFields : changed);
    if (this._media) this._media.peerUpdated(participant);
  }

  _emitSelfChanges([stage, pinned]) {
    const me = this.self;
    if (me.stageStatus !== stage) {
      me.emit('stageStatusUpdate', me.stageStatus);
      this.stage.emit('stageStatusUpdate', me.stageStatus);
      this._syncAllMedia();
    }
    if (me.isPinned !== pinned) me.emit(me.isPinned ? 'pinned' : 'unpinned');
  }

  _onWaitingRoom(requests) {
    const waitlisted = this.participants.waitlisted;
    const wanted = new Map(requests.map((r) => [r.peerId, r]));
    for (const id of [...waitlisted.keys()]) {
      if (wanted.has(id)) continue;
      const item = waitlisted._remove(id);
      if (item) this.participants.emit('waitlistedParticipantLeft', item);
    }
    for (const request of requests) {
      if (waitlisted.has(request.peerId)) continue;
      const item = new WaitlistedParticipant(request);
      waitlisted._add(item);
      this.participants.emit('waitlistedParticipantJoined', item);
    }
    this.participants.emit('waitingRoomRequestsUpdate', waitlisted.toArray());
  }

  _setRoomState(state, { reconnected = false, message = '' } = {}) {
    const previous = this.self.roomState;
    if (state === previous && state !== 'joined') return;
    if (state === 'joined' && previous === 'joined' && !reconnected) return;
    this.self.roomState = state;
    if (state === 'joined') {
      this._startMedia(reconnected);
      this.self.emit('roomJoined', { reconnected });
    } else if (state === 'waitlisted') {
      this.self.emit('waitlisted');
    } else if (TERMINAL.has(state) || state === 'disconnected') {
      if (TERMINAL.has(state)) {
        this._leaving = true;
        if (this._media) this._media.close();
        this._media = null;
      }
      this.self.emit('roomLeft', { state, message });
    }
  }

  // -- media -------------------------------------------------------------------------------------

  _startMedia(reconnected) {
    if (this._media && this._media.peerId !== this.self.id) {
      this._media.close(); // a new peer (the old one could not be resumed)
      this._media = null;
    }
    if (!this._media) this._media = new MediaSession(this, { iceServers: this._iceServers });
    this._media.start(reconnected).catch((err) => console.warn('[realtimekit] media start failed', err));
    this._syncAllMedia();
  }

  _dropMedia() {
    if (this._media) this._media.close();
    this._media = null;
    this._reported = {};
  }

  _syncAllMedia() {
    for (const kind of ['audio', 'video', 'screenshare']) {
      this._syncMedia(kind).catch((err) => console.warn(`[realtimekit] ${kind} sync failed`, err));
    }
  }

  /**
   * Publish or stop publishing `kind` to match the local state (enabled, allowed, on stage)
   * and tell the session (`mediaUpdate`).
   */
  async _syncMedia(kind) {
    if (this.self.roomState !== 'joined') return;
    const me = this.self;
    const enabled = { audio: me.audioEnabled, video: me.videoEnabled, screenshare: me.screenShareEnabled }[kind];
    const publishing = !!enabled && me.canPublish(kind);
    try {
      if (this._media) await this._media.sync(kind, publishing);
    } catch (err) {
      // Refused by the SFU (preset, stage, moderator): the media is off again.
      if (publishing && err instanceof ClientError && err.reason) me._turnOff(kind);
      throw err;
    }
    const key = { audio: 'audioEnabled', video: 'videoEnabled', screenshare: 'screenShareEnabled' }[kind];
    if (this._reported?.[key] === publishing) return;
    this._reported = { ...(this._reported || {}), [key]: publishing };
    try {
      await this._request({ mediaUpdate: { [key]: publishing } });
    } catch (err) {
      this._reported[key] = undefined;
      throw err;
    }
  }

  // -- socket loss and resume --------------------------------------------------------------------

  _onSocketClosed(socket, closed) {
    if (socket !== this._socket) return;
    // Only a connected socket becomes "disconnected": a failed attempt while reconnecting (or
    // after giving up) leaves the state at "reconnecting" (or "failed").
    if (this.meta.socketState.state === 'connected') this.meta._socket('disconnected');
    if (closed.initiatedLocally || this._leaving) return;
    if (FINAL_CLOSE_CODES.has(closed.code)) {
      // Closed for good without a room-state push (e.g. the peer was gone at a heartbeat).
      if (['joined', 'waitlisted'].includes(this.self.roomState)) {
        this._setRoomState('disconnected');
        this.meta._socket('failed');
        const error = closed.lastError;
        this.self.emit('reconnectFailed', new ConnectionLost('0012', error ? error.message : `The server closed the connection (${closed.code}).`));
      }
      return;
    }
    if (!['joined', 'waitlisted'].includes(this.self.roomState)) return;
    this._disconnectedAt = Date.now();
    this._reported = {};
    this._setRoomState('disconnected');
    if (this.autoReconnect && this._resumeToken && !this._reconnecting) {
      this._reconnecting = this._reconnectLoop().finally(() => {
        this._reconnecting = null;
      });
    }
  }

  async _reconnectLoop() {
    const deadline = this._disconnectedAt + Math.max(this._resumeWindowMs, 5000);
    let attempt = 0;
    let delay = 100;
    while (Date.now() < deadline && !this._leaving) {
      attempt += 1;
      this.meta._socket('reconnecting', attempt);
      try {
        await this.reconnect();
        this.meta._socket('connected', attempt, true);
        return;
      } catch (err) {
        if (err instanceof AuthError || ['PEER_NOT_FOUND', 'WAITING_ROOM_REJECTED', 'MEETING_INACTIVE'].includes(err.reason)) {
          this._dropMedia();
          this.meta._socket('failed', attempt);
          this.self.emit('reconnectFailed', err);
          return;
        }
        await sleep(delay);
        delay = Math.min(delay * 2, 2000);
      }
    }
    if (!this._leaving) {
      this._dropMedia();
      this.meta._socket('failed', attempt);
      this.self.emit('reconnectFailed', new ConnectionLost('0012', 'Could not resume within the resume window.'));
    }
  }
}
