// DOM helpers of the UI kit: `h()` to build elements, `RtkElement` (base of every component:
// a `meeting` property, event subscriptions dropped on disconnect, batched re-render) and icons.

/** Create an element: `h('button', {class: 'x', 'aria-label': 'Mute', onclick}, 'text', child)`. */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null) continue;
    if (key.startsWith('aria-')) {
      el.setAttribute(key, String(value));
      continue;
    }
    if (value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2).toLowerCase(), value);
    else if (key === 'class') el.className = value;
    else if (key === 'html') el.innerHTML = value; // only for the static icons below
    else if (key in el && typeof value !== 'string') el[key] = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function icon(name) {
  return h('span', { class: 'rtk-icon', 'aria-hidden': 'true', html: ICONS[name] || '' });
}

export function initials(name) {
  const parts = String(name || '?').trim().split(/\s+/).filter(Boolean);
  return ((parts[0] || '?')[0] + (parts.length > 1 ? parts[parts.length - 1][0] : '')).toUpperCase();
}

/** Base class: set `el.meeting = meeting`; override `bind(meeting)` and `render()`. */
export class RtkElement extends HTMLElement {
  constructor() {
    super();
    this._meeting = null;
    this._subs = [];
    this._bound = false;
    this._renderQueued = false;
  }

  get meeting() {
    return this._meeting;
  }

  set meeting(meeting) {
    if (this._meeting === meeting) return;
    this._unbind();
    this._meeting = meeting;
    if (this.isConnected) this._bind();
    this.update();
  }

  connectedCallback() {
    if (!this._meeting) {
      const root = this.parentElement && this.parentElement.closest('rtk-meeting');
      if (root && root.meeting) this._meeting = root.meeting;
    }
    this._bind();
    this.update();
  }

  disconnectedCallback() {
    this._unbind();
  }

  /** Subscribe to an emitter for as long as the element is connected. */
  listen(emitter, event, fn) {
    if (!emitter) return;
    emitter.on(event, fn);
    this._subs.push(() => emitter.off(event, fn));
  }

  _bind() {
    if (!this._meeting || this._bound) return;
    this._bound = true;
    this.bind(this._meeting);
  }

  _unbind() {
    for (const off of this._subs) off();
    this._subs = [];
    this._bound = false;
  }

  bind() {}

  render() {}

  /** Re-render soon (several events in one turn render once). */
  update() {
    if (this._renderQueued) return;
    this._renderQueued = true;
    queueMicrotask(() => {
      this._renderQueued = false;
      try {
        this.render();
      } catch (err) {
        console.error(`[realtimekit-ui] ${this.localName} render failed`, err);
      }
    });
  }

  /** Replace the children, keeping focus on an element with the same data-focus-key. */
  replace(...children) {
    const active = document.activeElement;
    const key = active && this.contains(active) ? active.getAttribute('data-focus-key') : null;
    this.replaceChildren();
    append(this, children);
    if (key) {
      const again = this.querySelector(`[data-focus-key="${CSS.escape(key)}"]`);
      if (again) again.focus();
    }
  }
}

const svg = (body) => `<svg viewBox="0 0 24 24" width="20" height="20" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round">${body}</svg>`;

export const ICONS = {
  mic: svg('<rect x="9" y="2" width="6" height="12" rx="3"/><path d="M5 10v1a7 7 0 0 0 14 0v-1M12 18v4"/>'),
  micOff: svg('<path d="M2 2l20 20M9 9v2a3 3 0 0 0 5.1 2.1M15 9.3V5a3 3 0 0 0-5.9-.6M17 16.9A7 7 0 0 1 5 11v-1m14 0v1a7 7 0 0 1-.1 1.2M12 18v4"/>'),
  camera: svg('<path d="M23 7l-7 5 7 5V7z"/><rect x="1" y="5" width="15" height="14" rx="2"/>'),
  cameraOff: svg('<path d="M2 2l20 20M16 16v1a2 2 0 0 1-2 2H3a2 2 0 0 1-2-2V7a2 2 0 0 1 2-2h2m5 0h4a2 2 0 0 1 2 2v3.3l1 1L23 7v10"/>'),
  screen: svg('<rect x="2" y="3" width="20" height="14" rx="2"/><path d="M8 21h8M12 17v4"/>'),
  leave: svg('<path d="M9 21H5a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2h4M16 17l5-5-5-5M21 12H9"/>'),
  people: svg('<path d="M17 21v-2a4 4 0 0 0-4-4H5a4 4 0 0 0-4 4v2"/><circle cx="9" cy="7" r="4"/><path d="M23 21v-2a4 4 0 0 0-3-3.9M16 3.1a4 4 0 0 1 0 7.8"/>'),
  chat: svg('<path d="M21 15a2 2 0 0 1-2 2H7l-4 4V5a2 2 0 0 1 2-2h14a2 2 0 0 1 2 2z"/>'),
  poll: svg('<path d="M18 20V10M12 20V4M6 20v-6"/>'),
  settings: svg('<circle cx="12" cy="12" r="3"/><path d="M19.4 15a1.7 1.7 0 0 0 .3 1.8l.1.1a2 2 0 1 1-2.8 2.8l-.1-.1a1.7 1.7 0 0 0-1.8-.3 1.7 1.7 0 0 0-1 1.5V21a2 2 0 1 1-4 0v-.1a1.7 1.7 0 0 0-1.1-1.5 1.7 1.7 0 0 0-1.8.3l-.1.1a2 2 0 1 1-2.8-2.8l.1-.1a1.7 1.7 0 0 0 .3-1.8 1.7 1.7 0 0 0-1.5-1H3a2 2 0 1 1 0-4h.1a1.7 1.7 0 0 0 1.5-1.1 1.7 1.7 0 0 0-.3-1.8l-.1-.1a2 2 0 1 1 2.8-2.8l.1.1a1.7 1.7 0 0 0 1.8.3H9a1.7 1.7 0 0 0 1-1.5V3a2 2 0 1 1 4 0v.1a1.7 1.7 0 0 0 1 1.5 1.7 1.7 0 0 0 1.8-.3l.1-.1a2 2 0 1 1 2.8 2.8l-.1.1a1.7 1.7 0 0 0-.3 1.8V9a1.7 1.7 0 0 0 1.5 1H21a2 2 0 1 1 0 4h-.1a1.7 1.7 0 0 0-1.5 1z"/>'),
  stage: svg('<path d="M12 2l3 6 6 .9-4.5 4.3 1 6.3L12 16.5 6.5 19.5l1-6.3L3 8.9 9 8z"/>'),
  pin: svg('<path d="M12 17v5M9 3h6l-1 6 3 3v2H7v-2l3-3z"/>'),
  prev: svg('<path d="M15 18l-6-6 6-6"/>'),
  next: svg('<path d="M9 18l6-6-6-6"/>'),
};
