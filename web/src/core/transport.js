// The signaling socket: one browser WebSocket to `{baseURI}/v1/signal` (docs/signaling.md).
//
// Sends ClientMessages (protobuf JSON), matches replies to requests by `requestId`, hands every
// incoming ServerMessage to a callback, sends heartbeats, and reports how the socket ended. It
// knows nothing about meetings: reconnecting and state live in client.js.

import { ClientError, CODE_NOT_CONNECTED, CODE_SOCKET_ERROR, CODE_TIMEOUT, errorFor } from './errors.js';

export const SIGNAL_PATH = '/v1/signal';
export const CLOSE_AUTH_FAILED = 4001;
export const CLOSE_REJECTED = 4003;
export const FINAL_CLOSE_CODES = new Set([CLOSE_AUTH_FAILED, CLOSE_REJECTED]);

export function websocketURL(baseURI) {
  const url = new URL(SIGNAL_PATH, baseURI.endsWith('/') ? baseURI : `${baseURI}/`);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return url;
}

let socketIds = 0;

export class SignalingSocket {
  /**
   * @param {string} baseURI gateway URL (http[s]://host[:port])
   * @param {string} authToken participant token
   * @param {{meetingId?: string, onMessage: Function, onClosed: Function, requestTimeoutMs?: number}} options
   */
  constructor(baseURI, authToken, { meetingId = '', onMessage, onClosed, requestTimeoutMs = 10000 }) {
    this.id = ++socketIds;
    this._url = websocketURL(baseURI);
    this._url.searchParams.set('authToken', authToken);
    if (meetingId) this._url.searchParams.set('meetingId', meetingId);
    this._onMessage = onMessage;
    this._onClosed = onClosed;
    this._timeoutMs = requestTimeoutMs;
    this._ws = null;
    this._pending = new Map();
    this._nextId = 1;
    this._closing = false;
    this._closedReported = false;
    this._lastError = null;
    this._heartbeat = null;
    this.heartbeatIntervalMs = 10000;
  }

  get connected() {
    return !!this._ws && this._ws.readyState === WebSocket.OPEN && !this._closing;
  }

  /** Open the socket and confirm that the server accepted the token (a heartbeat's Ack). */
  async connect() {
    const ws = new WebSocket(this._url.toString());
    this._ws = ws;
    await new Promise((resolve, reject) => {
      const fail = () => reject(new ClientError(CODE_SOCKET_ERROR, 'Cannot open the signaling socket.'));
      ws.addEventListener('open', () => resolve(), { once: true });
      ws.addEventListener('error', fail, { once: true });
      ws.addEventListener('close', fail, { once: true });
    });
    ws.addEventListener('message', (event) => this._receive(event));
    ws.addEventListener('close', (event) => this._closed(event.code));
    await this.request({ heartbeat: {} });
  }

  startHeartbeats(intervalSeconds) {
    this.heartbeatIntervalMs = Math.max(200, intervalSeconds * 1000);
    if (this._heartbeat) clearTimeout(this._heartbeat);
    const beat = async () => {
      if (!this.connected) return;
      try {
        await this.request({ heartbeat: {} }, Math.max(this.heartbeatIntervalMs, 5000));
      } catch (err) {
        if (err.code === CODE_TIMEOUT) {
          // The server stopped answering: treat it as a network drop.
          this.drop();
          return;
        }
      }
      if (this.connected) this._heartbeat = setTimeout(beat, this.heartbeatIntervalMs);
    };
    this._heartbeat = setTimeout(beat, this.heartbeatIntervalMs);
  }

  /**
   * Send one ClientMessage (an object with one action key, e.g. `{chatSend: {message: 'hi'}}`)
   * and resolve with its reply. An Error reply rejects with a ClientError.
   */
  request(fields, timeoutMs = null) {
    if (!this.connected) {
      return Promise.reject(new ClientError(CODE_NOT_CONNECTED, 'The signaling socket is not connected.'));
    }
    const requestId = `r${this._nextId++}`;
    const action = Object.keys(fields)[0];
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this._pending.delete(requestId);
        reject(new ClientError(CODE_TIMEOUT, `No reply to ${action} in time.`));
      }, timeoutMs || this._timeoutMs);
      this._pending.set(requestId, {
        resolve: (message) => {
          clearTimeout(timer);
          if (message.error) reject(errorFor(message.error));
          else resolve(message);
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      });
      try {
        this._ws.send(JSON.stringify({ requestId, ...fields }));
      } catch (err) {
        this._pending.delete(requestId);
        clearTimeout(timer);
        reject(new ClientError(CODE_SOCKET_ERROR, `Send failed: ${err}`));
      }
    });
  }

  /** Close on purpose (leave, or giving up). */
  close(code = 1000) {
    this._closing = true;
    if (this._heartbeat) clearTimeout(this._heartbeat);
    if (this._ws && this._ws.readyState <= WebSocket.OPEN) {
      try {
        this._ws.close(code);
      } catch {
        /* already closing */
      }
    }
    this._report(code, true);
  }

  /** Lose the connection as a network failure would (reported as not initiated locally). */
  drop() {
    if (this._heartbeat) clearTimeout(this._heartbeat);
    if (this._ws && this._ws.readyState <= WebSocket.OPEN) {
      try {
        this._ws.close(4000, 'dropped');
      } catch {
        /* ignore */
      }
    }
    this._closed(1006);
  }

  _receive(event) {
    if (typeof event.data !== 'string') return;
    let message;
    try {
      message = JSON.parse(event.data);
    } catch {
      console.warn('[realtimekit] ignoring an undecodable server message');
      return;
    }
    if (message.error && !message.requestId) this._lastError = message.error;
    const pending = message.requestId ? this._pending.get(message.requestId) : null;
    if (pending) {
      this._pending.delete(message.requestId);
      pending.resolve(message);
    }
    try {
      this._onMessage(message);
    } catch (err) {
      console.error('[realtimekit] message handler failed', err);
    }
  }

  _closed(code) {
    if (this._heartbeat) clearTimeout(this._heartbeat);
    const error = this._lastError
      ? errorFor(this._lastError)
      : new ClientError(CODE_SOCKET_ERROR, `The signaling socket closed (${code}).`);
    for (const pending of this._pending.values()) pending.reject(error);
    this._pending.clear();
    this._report(code, this._closing);
  }

  _report(code, local) {
    if (this._closedReported) return;
    this._closedReported = true;
    this._onClosed({ code, initiatedLocally: local, lastError: this._lastError });
  }
}
