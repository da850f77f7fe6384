// The meeting page (`{gateway}/meeting?authToken=<token>`): init the Core SDK with the token and
// hand the meeting to <rtk-meeting>. Query options: `audio=false` / `video=false` (do not start
// the microphone / camera for the preview), `name=<display name>`, `autoJoin=true`.

import RealtimeKitClient from '../core/index.js';
import { defineComponents } from '../ui/index.js';

defineComponents();
const params = new URLSearchParams(location.search);
const root = document.getElementById('meeting');
const authToken = params.get('authToken') || params.get('authtoken');

async function main() {
  if (!authToken) {
    root.showError('This link has no authToken. Ask the meeting host for a new link.');
    return;
  }
  let meeting;
  try {
    meeting = await RealtimeKitClient.init({
      authToken,
      baseURI: location.origin,
      defaults: { audio: params.get('audio') !== 'false', video: params.get('video') !== 'false' },
    });
  } catch (err) {
    root.showError(err.description || err.message || String(err));
    return;
  }
  if (params.get('name')) meeting.self.setName(params.get('name'));
  window.meeting = meeting; // handy in the console (and for end-to-end tests)
  document.title = meeting.meta.meetingTitle || 'Meeting';
  root.meeting = meeting;
  window.addEventListener('pagehide', () => meeting.leave().catch(() => {}));
  if (params.get('autoJoin') === 'true') await meeting.join();
}

main();
