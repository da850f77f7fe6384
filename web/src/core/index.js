// Browser Core SDK of the self-hosted RealtimeKit clone (plain ES module, no build step).
//
//   import RealtimeKitClient from '/web/core/index.js';
//   const meeting = await RealtimeKitClient.init({ authToken, baseURI: location.origin });
//   await meeting.join();

export { RealtimeKitClient, SDK_NAME, SDK_VERSION, tokenClaims } from './client.js';
export { AuthError, ClientError, ConnectionLost, PermissionDenied } from './errors.js';
export { EventEmitter } from './events.js';
export { Participant, ParticipantMap, WaitlistedParticipant } from './participants.js';
import { RealtimeKitClient } from './client.js';

export default RealtimeKitClient;
