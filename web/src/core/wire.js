// The signaling wire: protobuf JSON mapping of realtime.signaling.v1 messages (lowerCamelCase
// keys, enum values by name, int64 as strings, default values omitted) and the conversion of
// protocol enums to RealtimeKit's strings ("joined", "ON_STAGE", "text", …).

function strip(value, prefix) {
  if (typeof value !== 'string' || !value) return '';
  if (value.endsWith('_UNSPECIFIED')) return '';
  return value.startsWith(prefix) ? value.slice(prefix.length) : value;
}

/** ROOM_STATE_JOINED → "joined". */
export const roomState = (v) => strip(v, 'ROOM_STATE_').toLowerCase();
/** STAGE_STATUS_ON_STAGE → "ON_STAGE" (OFF_STAGE when unset). */
export const stageStatus = (v) => strip(v, 'STAGE_STATUS_') || 'OFF_STAGE';
/** VIEW_TYPE_WEBINAR → "WEBINAR". */
export const viewType = (v) => strip(v, 'VIEW_TYPE_');
/** MEDIA_KIND_VIDEO → "video" (audio when unset). */
export const mediaKind = (v) => strip(v, 'MEDIA_KIND_').toLowerCase() || 'audio';
/** CHAT_MESSAGE_TYPE_TEXT → "text". */
export const chatType = (v) => strip(v, 'CHAT_MESSAGE_TYPE_').toLowerCase() || 'text';

export const MEDIA_KIND = { audio: 'MEDIA_KIND_AUDIO', video: 'MEDIA_KIND_VIDEO', screenshare: 'MEDIA_KIND_SCREENSHARE' };

export function toDate(value) {
  if (!value) return null;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? null : d;
}

const ENUM_PREFIXES = [
  'STAGE_ACCESS_', 'PRODUCE_PERMISSION_', 'WAITING_ROOM_TYPE_', 'RECORDER_TYPE_', 'VIEW_TYPE_',
  'PLUGIN_ACCESS_CONTROL_', 'BORDER_RADIUS_', 'BORDER_WIDTH_', 'THEME_', 'VIDEO_QUALITY_',
];

/** Enum names of a protobuf-JSON object without their type prefix, recursively. */
export function stripEnums(value) {
  if (Array.isArray(value)) return value.map(stripEnums);
  if (value && typeof value === 'object') {
    const out = {};
    for (const [k, v] of Object.entries(value)) out[k] = stripEnums(v);
    return out;
  }
  if (typeof value === 'string') {
    for (const prefix of ENUM_PREFIXES) if (value.startsWith(prefix)) return value.slice(prefix.length);
  }
  return value;
}

/** snake_case keys → camelCase, recursively (numeric keys such as "500" stay). */
export function camelize(value) {
  if (Array.isArray(value)) return value.map(camelize);
  if (value && typeof value === 'object' && !(value instanceof Date)) {
    const out = {};
    for (const [k, v] of Object.entries(value)) out[k.replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase())] = camelize(v);
    return out;
  }
  return value;
}

/**
 * `meeting.self.permissions` (RealtimeKit's PermissionsPreset, reference §10.11) from the
 * JoinResponse's `permissions` (protobuf JSON of realtime.meeting.v1.PresetPermissions).
 * `raw` keeps every field of the preset (camelCase, enum prefixes stripped).
 */
export function permissions(json = {}) {
  const p = stripEnums(json || {});
  const media = p.media || {};
  const produce = (kind) => (media[kind] && media[kind].canProduce) || 'NOT_ALLOWED';
  const chat = p.chat || {};
  const chatPublic = chat.public || {};
  const chatPrivate = chat.private || {};
  const polls = p.polls || {};
  const plugins = p.plugins || {};
  return {
    raw: p,
    acceptWaitingRequests: !!p.acceptWaitingRequests,
    canAcceptProductionRequests: !!p.canAcceptProductionRequests,
    acceptStageRequests: !!(p.acceptStageRequests || p.canAcceptProductionRequests),
    stageEnabled: !!p.stageEnabled,
    stageAccess: p.stageAccess || 'NOT_ALLOWED',
    canEditDisplayName: !!p.canEditDisplayName,
    canSpotlight: !!p.canSpotlight,
    canRecord: !!p.canRecord,
    canLivestream: !!p.canLivestream,
    canChangeParticipantPermissions: !!p.canChangeParticipantPermissions,
    canDisableParticipantAudio: !!p.disableParticipantAudio,
    canDisableParticipantVideo: !!p.disableParticipantVideo,
    canDisableParticipantScreensharing: !!p.disableParticipantScreensharing,
    kickParticipant: !!p.kickParticipant,
    pinParticipant: !!p.pinParticipant,
    hiddenParticipant: !!p.hiddenParticipant,
    showParticipantList: !!p.showParticipantList,
    isRecorder: !!p.isRecorder,
    recorderType: p.recorderType || 'NONE',
    transcriptionEnabled: !!p.transcriptionEnabled,
    waitingRoomBehaviour: p.waitingRoomType || 'SKIP',
    waitingRoomType: p.waitingRoomType || 'SKIP',
    canProduceAudio: produce('audio'),
    canProduceVideo: produce('video'),
    canProduceScreenshare: produce('screenshare'),
    requestProduceAudio: produce('audio') === 'CAN_REQUEST',
    requestProduceVideo: produce('video') === 'CAN_REQUEST',
    requestProduceScreenshare: produce('screenshare') === 'CAN_REQUEST',
    chatPublic: { canSend: !!chatPublic.canSend, text: !!chatPublic.text, files: !!chatPublic.files },
    chatPrivate: {
      canSend: !!chatPrivate.canSend, canReceive: !!chatPrivate.canReceive,
      text: !!chatPrivate.text, files: !!chatPrivate.files,
    },
    polls: { canCreate: !!polls.canCreate, canVote: !!polls.canVote, canView: !!polls.canView, canViewResults: !!polls.canView },
    plugins: { canStart: !!plugins.canStart, canClose: !!plugins.canClose, canEditConfig: !!plugins.canEditConfig },
  };
}

/** The permissions of a REST-form preset (`{permissions: {accept_waiting_requests, …}}`). */
export function permissionsFromRest(rest = {}) {
  return permissions(camelize(rest || {}));
}
