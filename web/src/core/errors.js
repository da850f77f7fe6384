// Typed errors of the SDK: `ClientError(code, message)` as in RealtimeKit's Core SDK.
//
// `code` is RealtimeKit's four-digit client error code (`00xx` client, `01xx` permission, `05xx`
// chat, `12xx` host actions, …); `reason` is the server's catalogue reason (`TOKEN_EXPIRED`,
// `PERMISSION_DENIED_BY_PRESET`, …) when the error came from the server. Same table as the
// Python SDK (libs/realtimekit/src/realtimekit/errors.py).

export const REASON_CODES = {
  TOKEN_MISSING: '0004',
  TOKEN_INVALID: '0004',
  TOKEN_EXPIRED: '0004',
  TOKEN_REVOKED: '0004',
  MEETING_NOT_FOUND: '0404',
  MEETING_INACTIVE: '0404',
  RATE_LIMITED: '0013',
  PERMISSION_DENIED_BY_PRESET: '0101',
  FORBIDDEN: '0101',
  NOT_ADMITTED: '0102',
  WAITING_ROOM_REJECTED: '0103',
  STAGE_ACCESS_NOT_ALLOWED: '0104',
  INVALID_FIELD: '0010',
  PEER_NOT_FOUND: '0405',
  POLL_NOT_FOUND: '0406',
  SESSION_NOT_FOUND: '0407',
  NO_ACTIVE_SESSION: '0407',
  DEPENDENCY_UNAVAILABLE: '0503',
  INTERNAL: '0500',
};

export const CODE_INVALID_TOKEN = '0004';
export const CODE_SOCKET_ERROR = '0012';
export const CODE_RATE_LIMITED = '0013';
export const CODE_NOT_CONNECTED = '0014';
export const CODE_TIMEOUT = '0015';
export const CODE_INVALID_STATE = '0016';
export const CODE_PERMISSION_DENIED = '0101';
export const CODE_MEDIA = '1701';

export class ClientError extends Error {
  constructor(code, message, reason = null, details = {}) {
    super(`[${code}] ${message}${reason ? ` (${reason})` : ''}`);
    this.name = 'ClientError';
    this.code = code;
    this.reason = reason;
    this.details = details;
    this.description = message;
  }
}

/** The auth token was refused (invalid, expired, revoked, other meeting). */
export class AuthError extends ClientError {
  constructor(...args) {
    super(...args);
    this.name = 'AuthError';
  }
}

/** The local participant's preset does not allow the action. */
export class PermissionDenied extends ClientError {
  constructor(...args) {
    super(...args);
    this.name = 'PermissionDenied';
  }
}

/** The signaling connection dropped and could not be resumed. */
export class ConnectionLost extends ClientError {
  constructor(...args) {
    super(...args);
    this.name = 'ConnectionLost';
  }
}

/** The most specific ClientError for a server `Error` message ({code, reason, message, metadata}). */
export function errorFor(error) {
  const reason = error.reason || '';
  let code = REASON_CODES[reason] || '0000';
  if (error.code && /^\d/.test(error.code)) code = error.code;
  const message = error.message || reason || 'Request failed.';
  const details = error.metadata || {};
  if (REASON_CODES[reason] === CODE_INVALID_TOKEN) return new AuthError(code, message, reason, details);
  if (['PERMISSION_DENIED_BY_PRESET', 'FORBIDDEN', 'NOT_ADMITTED', 'STAGE_ACCESS_NOT_ALLOWED'].includes(reason)) {
    return new PermissionDenied(code, message, reason, details);
  }
  return new ClientError(code, message, reason || null, details);
}
