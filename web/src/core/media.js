// Media over the browser's own RTCPeerConnection to the session's SFU (docs/signaling.md §13).
//
// Two connections per peer, so that offers never cross:
//
// * publishing — this client offers (`mediaOffer`, role PUBLISHER, one sendonly m-line per
//   published kind: audio, video, screenshare, screenshareAudio; `tracks` names the kind of every
//   sending m-line), the SFU answers (`mediaAnswer`, with `refused` tracks and a typed error
//   each). A kind turned off keeps its m-line (direction inactive) and reuses it later.
// * receiving — the SFU offers (`mediaOffer` push, role SUBSCRIBER) whenever remote tracks need
//   new m-lines, this client answers (`mediaAnswer`); `mediaTracks` pushes say which peer and
//   kind every m-line carries. Tracks are set on the participants (`audioTrack`, `videoTrack`,
//   `screenShareTracks`) and announced with `audioUpdate` / `videoUpdate` / `screenShareUpdate`.
//
// Every SDP is complete (ICE candidates gathered before sending; no trickle). After join this
// client receives every track of every peer (`mediaSubscribe {action: ALL}`);
// `participants.subscribe` / `unsubscribe` change the selection. `activeSpeaker` pushes feed
// `participants.activeSpeaker`.

import { ClientError, CODE_INVALID_STATE, errorFor } from './errors.js';

export const TRACK_KIND = {
  audio: 'TRACK_KIND_AUDIO',
  video: 'TRACK_KIND_VIDEO',
  screenshare: 'TRACK_KIND_SCREENSHARE',
  screenshareAudio: 'TRACK_KIND_SCREENSHARE_AUDIO',
};
const KIND_NAME = Object.fromEntries(Object.entries(TRACK_KIND).map(([k, v]) => [v, k]));
const LABELS = { audio: ['audio'], video: ['video'], screenshare: ['screenshare', 'screenshareAudio'] };

function gatheringComplete(pc, timeoutMs = 4000) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, timeoutMs);
    function done() {
      clearTimeout(timer);
      pc.removeEventListener('icegatheringstatechange', check);
      resolve();
    }
    function check() {
      if (pc.iceGatheringState === 'complete') done();
    }
    pc.addEventListener('icegatheringstatechange', check);
  });
}

function preferCodec(transceiver, kind, mimeType) {
  if (!transceiver.setCodecPreferences || typeof RTCRtpReceiver === 'undefined' || !RTCRtpReceiver.getCapabilities) return;
  const caps = RTCRtpReceiver.getCapabilities(kind);
  if (!caps) return;
  const preferred = caps.codecs.filter((c) => c.mimeType.toLowerCase() === mimeType);
  if (!preferred.length) return;
  const rest = caps.codecs.filter((c) => c.mimeType.toLowerCase() !== mimeType);
  try {
    transceiver.setCodecPreferences([...preferred, ...rest]);
  } catch {
    /* keep the browser's order */
  }
}

export class MediaSession {
  constructor(client, { iceServers = [] } = {}) {
    this._client = client;
    this._iceServers = iceServers;
    this.peerId = client.self.id;
    // publishing
    this._pub = null;
    this._pubNew = true;
    this._published = new Map(); // label → {transceiver, track}
    this._pubChain = Promise.resolve();
    // receiving
    this._sub = null;
    this._subConnectionId = '';
    this._remote = new Map(); // mid → {peerId, kind}
    this._pushChain = Promise.resolve();
    this._closed = false;
    this.activeSpeaker = '';
  }

  /** The session has a media server (JoinResponse.media). */
  get available() {
    return !!this._client.meta.media;
  }

  /** Both RTCPeerConnections (for getStats). */
  peerConnections() {
    return [this._pub, this._sub].filter(Boolean);
  }

  _newPeerConnection(transport) {
    const pc = new RTCPeerConnection({ iceServers: this._iceServers, bundlePolicy: 'max-bundle', rtcpMuxPolicy: 'require' });
    pc.addEventListener('connectionstatechange', () => {
      if (pc === this._pub || pc === this._sub) this._client.meta._media(transport, pc.connectionState);
    });
    return pc;
  }

  // -- lifecycle ---------------------------------------------------------------------------------

  /** Admitted (or resumed): receive everybody's tracks. */
  async start() {
    this._closed = false;
    if (!this.available) return;
    await this._client._request({ mediaSubscribe: { action: 'SUBSCRIBE_ACTION_ALL' } });
  }

  close() {
    this._closed = true;
    for (const pc of [this._pub, this._sub]) {
      if (pc) {
        try {
          pc.close();
        } catch {
          /* closed */
        }
      }
    }
    this._pub = this._sub = null;
    this._published.clear();
    for (const [, { peerId, kind }] of this._remote) this._setRemote(peerId, kind, null);
    this._remote.clear();
  }

  // -- publishing --------------------------------------------------------------------------------

  /** Publish or stop publishing kind (`audio`, `video`, `screenshare`) to match the state. */
  sync(kind, publishing) {
    return this._serial(async () => {
      if (!this.available || this._closed) return;
      const me = this._client.self;
      const tracks = { audio: me.audioTrack, video: me.videoTrack, screenshare: me.screenShareTracks.video, screenshareAudio: me.screenShareTracks.audio };
      let offer = false;
      for (const label of LABELS[kind]) {
        const track = publishing ? tracks[label] : null;
        if (await this._set(label, track && track.readyState === 'live' ? track : null)) offer = true;
      }
      if (!offer) return;
      const refused = await this._negotiate();
      const errors = LABELS[kind].map((label) => refused[label]).filter(Boolean);
      if (errors.length) {
        for (const label of LABELS[kind]) await this._set(label, null);
        await this._negotiate().catch(() => {});
        throw errors[0];
      }
    });
  }

  _serial(fn) {
    const run = this._pubChain.then(fn, fn);
    this._pubChain = run.catch(() => {});
    return run;
  }

  /** Point the m-line of `label` at `track` (null: inactive). True when it needs an offer. */
  async _set(label, track) {
    let entry = this._published.get(label);
    if (!track) {
      if (!entry || entry.transceiver.direction === 'inactive') return false;
      await entry.transceiver.sender.replaceTrack(null).catch(() => {});
      entry.transceiver.direction = 'inactive';
      entry.track = null;
      return true;
    }
    if (!this._pub) {
      this._pub = this._newPeerConnection('producing');
      this._pubNew = true;
      this._published.clear();
      entry = undefined;
    }
    if (!entry) {
      const transceiver = this._pub.addTransceiver(track, { direction: 'sendonly' });
      if (track.kind === 'video') {
        preferCodec(transceiver, 'video', 'video/vp8');
        if (label === 'screenshare' && 'contentHint' in track) track.contentHint = 'detail';
      }
      this._published.set(label, { transceiver, track });
      return true;
    }
    const wasSending = entry.transceiver.direction === 'sendonly';
    if (entry.track !== track) await entry.transceiver.sender.replaceTrack(track).catch(() => {});
    entry.track = track;
    entry.transceiver.direction = 'sendonly';
    return !wasSending;
  }

  /** One offer/answer of the publishing connection; the refusals by label. */
  async _negotiate(retried = false) {
    const pc = this._pub;
    if (!pc) return {};
    await pc.setLocalDescription(await pc.createOffer());
    await gatheringComplete(pc);
    const tracks = [];
    for (const [label, entry] of this._published) {
      if (entry.transceiver.direction === 'sendonly' && entry.transceiver.mid) tracks.push({ mid: entry.transceiver.mid, kind: TRACK_KIND[label] });
    }
    let reply;
    try {
      reply = await this._client._request({
        mediaOffer: { sdp: pc.localDescription.sdp, tracks, role: 'MEDIA_CONNECTION_ROLE_PUBLISHER', newConnection: this._pubNew },
      }, 20000);
    } catch (err) {
      if (!retried && err.details && err.details.problem === 'mediaConnectionLost') return this._republish();
      try {
        await pc.setLocalDescription({ type: 'rollback' });
      } catch {
        this._resetPublisher();
      }
      throw err;
    }
    const answer = reply.mediaAnswer || {};
    await pc.setRemoteDescription({ type: 'answer', sdp: answer.sdp });
    this._pubNew = false;
    this._tuneSenders();
    const byMid = new Map([...this._published].map(([label, e]) => [e.transceiver.mid, label]));
    const refused = {};
    for (const refusal of answer.refused || []) {
      const label = byMid.get(refusal.mid) || KIND_NAME[refusal.kind] || '';
      refused[label] = errorFor(refusal.error || {});
    }
    return refused;
  }

  _resetPublisher() {
    if (this._pub) {
      try {
        this._pub.close();
      } catch {
        /* closed */
      }
    }
    this._pub = null;
    this._pubNew = true;
    this._published.clear();
  }

  /** The SFU lost the publishing connection: publish the same tracks on a new one. */
  async _republish() {
    const tracks = [...this._published].filter(([, e]) => e.track).map(([label, e]) => [label, e.track]);
    this._resetPublisher();
    for (const [label, track] of tracks) await this._set(label, track);
    return this._negotiate(true);
  }

  /** Modest bitrates: the camera is a grid tile, the screen share favours resolution. */
  _tuneSenders() {
    const caps = { video: 800_000, screenshare: 1_500_000 };
    for (const [label, entry] of this._published) {
      const max = caps[label];
      const sender = entry.transceiver.sender;
      if (!max || !sender.track) continue;
      const params = sender.getParameters();
      if (!params.encodings || !params.encodings.length) continue;
      if (params.encodings[0].maxBitrate === max) continue;
      params.encodings[0].maxBitrate = max;
      if (label === 'screenshare') params.degradationPreference = 'maintain-resolution';
      sender.setParameters(params).catch(() => {});
    }
  }

  // -- receiving ---------------------------------------------------------------------------------

  /** Pushes of the media protocol, handled one at a time in arrival order. */
  onSignal(key, value) {
    if (!['mediaOffer', 'mediaTracks', 'activeSpeaker'].includes(key) || this._closed) return;
    this._pushChain = this._pushChain.then(async () => {
      if (this._closed) return;
      try {
        if (key === 'mediaOffer') await this._onOffer(value);
        else if (key === 'mediaTracks') this._applyTracks(value.tracks || [], value.connectionId || '');
        else this._onSpeaker(value);
      } catch (err) {
        console.warn(`[realtimekit] media ${key} failed`, err);
      }
    });
  }

  async _onOffer(offer) {
    const connectionId = offer.connectionId || '';
    if (offer.newConnection || !this._sub || connectionId !== this._subConnectionId) {
      this._resetSubscriber();
      this._sub = this._newPeerConnection('consuming');
      this._subConnectionId = connectionId;
    }
    const pc = this._sub;
    await pc.setRemoteDescription({ type: 'offer', sdp: offer.sdp });
    this._applyTracks(offer.tracks || [], connectionId);
    await pc.setLocalDescription(await pc.createAnswer());
    await gatheringComplete(pc);
    await this._client._request({ mediaAnswer: { sdp: pc.localDescription.sdp, connectionId } });
  }

  _resetSubscriber() {
    this._applyTracks([], this._subConnectionId);
    if (this._sub) {
      try {
        this._sub.close();
      } catch {
        /* closed */
      }
    }
    this._sub = null;
  }

  _receiverTrack(mid) {
    if (!this._sub) return null;
    const transceiver = this._sub.getTransceivers().find((t) => t.mid === mid);
    return transceiver ? transceiver.receiver.track : null;
  }

  _applyTracks(tracks, connectionId) {
    if (connectionId && connectionId !== this._subConnectionId) return; // an older connection
    const wanted = new Map();
    for (const t of tracks) {
      const kind = KIND_NAME[t.kind];
      if (t.mid && kind) wanted.set(t.mid, { peerId: t.peerId || '', kind });
    }
    for (const [mid, old] of [...this._remote]) {
      const next = wanted.get(mid);
      if (next && next.peerId === old.peerId && next.kind === old.kind) continue;
      this._remote.delete(mid);
      this._setRemote(old.peerId, old.kind, null);
    }
    for (const [mid, entry] of wanted) {
      if (this._remote.has(mid)) continue;
      this._remote.set(mid, entry);
      this._setRemote(entry.peerId, entry.kind, this._receiverTrack(mid));
    }
  }

  _setRemote(peerId, kind, track) {
    const participant = this._client.participants.joined.get(peerId);
    if (!participant) return;
    // Another m-line may still carry this peer's kind (replaced mid): keep that one.
    if (!track) {
      for (const [mid, entry] of this._remote) {
        if (entry.peerId === peerId && entry.kind === kind) {
          track = this._receiverTrack(mid);
          break;
        }
      }
    }
    participant._setTrack(kind, track);
  }

  _onSpeaker(speaker) {
    this.activeSpeaker = speaker.peerId || '';
    this._client.participants._setActiveSpeaker(this.activeSpeaker, Number(speaker.volume || 0));
  }

  /** A participant appeared: attach the tracks that arrived before it did. */
  peerJoined(participant) {
    for (const [mid, entry] of this._remote) {
      if (entry.peerId === participant.id) participant._setTrack(entry.kind, this._receiverTrack(mid));
    }
  }

  peerLeft() {}

  peerUpdated() {}

  // -- selection ---------------------------------------------------------------------------------

  _kinds(kinds) {
    if (!kinds) return [];
    return (Array.isArray(kinds) ? kinds : [kinds]).map((k) => {
      const value = TRACK_KIND[k === 'screenshareVideo' ? 'screenshare' : k];
      if (!value) throw new ClientError('0010', `Unknown media kind ${k}; use audio, video, screenshare or screenshareAudio.`);
      return value;
    });
  }

  _require() {
    if (this._client.self.roomState !== 'joined') throw new ClientError(CODE_INVALID_STATE, 'Join the meeting before using media.');
    if (!this.available) throw new ClientError('0503', 'No media server is available for this session.', 'NO_SFU_CAPACITY');
  }

  async subscribe(peerIds, kinds) {
    this._require();
    await this._client._request({ mediaSubscribe: { action: 'SUBSCRIBE_ACTION_ADD', peerIds: [...peerIds], kinds: this._kinds(kinds) } });
  }

  async unsubscribe(peerIds, kinds) {
    this._require();
    await this._client._request({ mediaSubscribe: { action: 'SUBSCRIBE_ACTION_REMOVE', peerIds: [...peerIds], kinds: this._kinds(kinds) } });
  }

  async setSubscriptions(peerIds, kinds) {
    this._require();
    await this._client._request({ mediaSubscribe: { action: 'SUBSCRIBE_ACTION_SET', peerIds: [...peerIds], kinds: this._kinds(kinds) } });
  }

  async subscribeAll(kinds) {
    this._require();
    await this._client._request({ mediaSubscribe: { action: 'SUBSCRIBE_ACTION_ALL', kinds: this._kinds(kinds) } });
  }
}
