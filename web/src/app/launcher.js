// Demo launcher page (`{gateway}/` with RTK_GATEWAY_DEMO=true): create a meeting, show links.
const form = document.getElementById('create');
form.addEventListener('submit', async (event) => {
  event.preventDefault();
  const data = new FormData(form);
  const error = document.getElementById('error');
  error.textContent = '';
  try {
    const response = await fetch('/demo/meetings', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        title: data.get('title'),
        kind: data.get('kind'),
        waiting_room: data.get('waiting_room') === 'on',
        host_name: data.get('host_name'),
      }),
    });
    const body = await response.json();
    if (!body.success) throw new Error(body.error ? body.error.message : response.statusText);
    const host = document.getElementById('host');
    host.href = body.data.host_url;
    const guest = document.getElementById('guest');
    guest.href = body.data.participant_url;
    guest.textContent = new URL(body.data.participant_url, location.origin).toString();
    document.getElementById('links').hidden = false;
  } catch (err) {
    error.textContent = `Could not create the meeting: ${err.message}`;
  }
});
