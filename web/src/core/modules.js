// `meeting.stage`, `meeting.chat`, `meeting.polls`, `meeting.meta` (reference §8, §10.6–§10.9).

import { ClientError } from './errors.js';
import { EventEmitter } from './events.js';
import { chatType, toDate } from './wire.js';

// -- stage ------------------------------------------------------------------------------------

/** Events: `stageStatusUpdate(status)`, `stageAccessRequestUpdate(requests)` (moderators),
 * `newStageRequest(request)`, `stageRequestApproved`, `stageRequestRejected`,
 * `acceptPresentRequests`, `peerStageStatusUpdate({peerId, status})`. Targets of
 * grant/deny/kick are participant (user) ids or peer ids. */
export class Stage extends EventEmitter {
  constructor(client) {
    super();
    this._client = client;
    this.accessRequests = [];
    this.onStagePeerIds = [];
    this.acceptedPeerIds = [];
    this.requestedPeerIds = [];
  }

  get status() {
    return this._client.self.stageStatus;
  }

  requestAccess() { return this._act('STAGE_ACTION_TYPE_REQUEST_ACCESS'); }
  cancelRequestAccess() { return this._act('STAGE_ACTION_TYPE_CANCEL_REQUEST_ACCESS'); }
  grantAccess(userIds) { return this._act('STAGE_ACTION_TYPE_GRANT_ACCESS', userIds); }
  denyAccess(userIds) { return this._act('STAGE_ACTION_TYPE_DENY_ACCESS', userIds); }
  join() { return this._act('STAGE_ACTION_TYPE_JOIN'); }
  leave() { return this._act('STAGE_ACTION_TYPE_LEAVE'); }
  kick(userIds) { return this._act('STAGE_ACTION_TYPE_KICK', userIds); }

  async getAccessRequests() {
    const reply = await this._client._request({ stageRequestList: {} });
    if (reply.stageRequests) this._setRequests(reply.stageRequests.requests || []);
    return { stageRequests: [...this.accessRequests] };
  }

  async _act(action, userIds = []) {
    await this._client._request({ stageAction: { action, userIds: [...(userIds || [])] } });
  }

  _setRequests(requests) {
    const before = new Set(this.accessRequests.map((r) => r.peerId));
    this.accessRequests = requests.map((r) => ({ peerId: r.peerId, userId: r.userId || '', displayName: r.displayName || '' }));
    for (const request of this.accessRequests) if (!before.has(request.peerId)) this.emit('newStageRequest', request);
    this.emit('stageAccessRequestUpdate', [...this.accessRequests]);
  }

  _setState(state = {}) {
    this.onStagePeerIds = [...(state.onStagePeerIds || [])];
    this.acceptedPeerIds = [...(state.acceptedPeerIds || [])];
    this.requestedPeerIds = [...(state.requestedPeerIds || [])];
  }
}

// -- chat -------------------------------------------------------------------------------------

function chatMessage(m) {
  return {
    id: m.id,
    type: chatType(m.type),
    userId: m.userId || '',
    peerId: m.peerId || '',
    displayName: m.displayName || '',
    message: m.message || '',
    time: toDate(m.time),
    timeMs: Number(m.timeMs || 0),
    targetUserIds: [...(m.targetUserIds || [])],
    isPrivate: !!(m.targetUserIds && m.targetUserIds.length),
    pinned: !!m.pinned,
    isEdited: false,
    read: false,
    sequence: Number(m.sequence || 0),
  };
}

/** `messages` in the server's order (by `sequence`), each once. Event:
 * `chatUpdate({action: "add", message, messages})`. */
export class Chat extends EventEmitter {
  constructor(client) {
    super();
    this._client = client;
    this.messages = [];
    this._ids = new Set();
    this.maxTextLimit = 4000;
  }

  /** Send a text message; with `peerIds` (peer or user ids) it is private to them. */
  async sendTextMessage(text, peerIds = []) {
    const reply = await this._client._request({
      chatSend: { type: 'CHAT_MESSAGE_TYPE_TEXT', message: text, targetIds: [...(peerIds || [])] },
    });
    if (!reply.chatMessage) throw new ClientError('0500', 'chatSend reply without chatMessage');
    return this._add(reply.chatMessage) || this.messages.find((m) => m.id === reply.chatMessage.id);
  }

  /** `{type: "text", message}` (only text is supported today). */
  sendMessage(message, participantIds = []) {
    if ((message.type || 'text') !== 'text') {
      return Promise.reject(new ClientError('0501', `Chat messages of type ${message.type} are not supported.`));
    }
    return this.sendTextMessage(String(message.message || ''), participantIds);
  }

  setMaxTextLimit(n) {
    this.maxTextLimit = Math.min(4000, Math.max(1, n | 0));
  }

  fetchPublicMessages({ timestamp = 0, limit = 50, reversed = true } = {}) {
    return this._fetch(timestamp, limit, reversed, { publicOnly: true });
  }

  fetchPrivateMessages({ timestamp = 0, limit = 50, reversed = true } = {}) {
    return this._fetch(timestamp, limit, reversed, { privateOnly: true });
  }

  async _fetch(timestamp, limit, older, only) {
    const reply = await this._client._request({
      chatFetch: {
        timestampMs: String(timestamp || 0), limit,
        direction: older ? 'CHAT_FETCH_DIRECTION_OLDER' : 'CHAT_FETCH_DIRECTION_NEWER', ...only,
      },
    });
    return ((reply.chatMessages && reply.chatMessages.messages) || []).map(chatMessage);
  }

  _add(proto, emit = true) {
    if (this._ids.has(proto.id)) return null;
    const message = chatMessage(proto);
    this._ids.add(message.id);
    let i = this.messages.length;
    while (i > 0 && this.messages[i - 1].sequence > message.sequence) i -= 1;
    this.messages.splice(i, 0, message);
    if (emit) this.emit('chatUpdate', { action: 'add', message, messages: [...this.messages] });
    return message;
  }

  _reset(history = []) {
    for (const m of history) this._add(m, false);
  }
}

// -- polls ------------------------------------------------------------------------------------

function poll(p) {
  return {
    id: p.id,
    question: p.question || '',
    options: (p.options || []).map((o) => ({
      text: o.text || '',
      count: Number(o.count || 0),
      votes: (o.votes || []).map((v) => ({ id: v.id || '', name: v.name || '' })),
    })),
    anonymous: !!p.anonymous,
    hideVotes: !!p.hideVotes,
    createdBy: p.createdBy || '',
    createdByUserId: p.createdByUserId || '',
    voted: [...(p.voted || [])],
    createdAt: toDate(p.createTime),
  };
}

/** `items`; event `pollsUpdate({polls, newPoll, poll})`. */
export class Polls extends EventEmitter {
  constructor(client) {
    super();
    this._client = client;
    this._items = new Map();
  }

  get items() {
    return [...this._items.values()];
  }

  async create(question, options, anonymous = false, hideVotes = false) {
    const reply = await this._client._request({ pollCreate: { question, options: [...options], anonymous, hideVotes } });
    return this._update(reply.pollUpdated.poll, true);
  }

  async vote(pollId, optionIndex) {
    const reply = await this._client._request({ pollVote: { pollId, optionIndex } });
    if (reply.pollUpdated) return this._update(reply.pollUpdated.poll, false);
    return this._items.get(pollId) || null;
  }

  _update(proto, isNewPoll, emit = true) {
    const item = poll(proto);
    const isNew = !this._items.has(item.id);
    const changed = isNew || JSON.stringify(this._items.get(item.id)) !== JSON.stringify(item);
    this._items.set(item.id, item);
    if (emit && changed) this.emit('pollsUpdate', { polls: this.items, newPoll: isNewPoll || isNew, poll: item });
    return item;
  }

  _reset(polls = []) {
    for (const p of polls) this._update(p, false, false);
  }
}

// -- meta -------------------------------------------------------------------------------------

/** Events: `socketConnectionUpdate({state, reconnectionAttempt, reconnected})` with state
 * `connected` | `disconnected` | `reconnecting` | `failed`; `mediaConnectionUpdate({transport,
 * state})`; `error` (pushed server errors). */
export class Meta extends EventEmitter {
  constructor(meetingId) {
    super();
    this.meetingId = meetingId;
    this.meetingTitle = '';
    this.sessionId = '';
    this.meetingStartedTimestamp = null;
    this.viewType = '';
    this.socketState = { state: 'disconnected', reconnectionAttempt: 0, reconnected: false };
    this.mediaState = {};
    /** The session's media server (JoinResponse.media: nodeId, region, reason, …); null without one. */
    this.media = null;
  }

  _socket(state, attempt = 0, reconnected = false) {
    this.socketState = { state, reconnectionAttempt: attempt, reconnected };
    this.emit('socketConnectionUpdate', { ...this.socketState });
  }

  _media(transport, state) {
    if (this.mediaState[transport] === state) return;
    this.mediaState = { ...this.mediaState, [transport]: state };
    this.emit('mediaConnectionUpdate', { transport, state });
  }
}
