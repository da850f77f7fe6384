// UI kit of the self-hosted RealtimeKit clone: custom elements (light DOM) that take the Core
// SDK's meeting object, themed from the preset's `ui.design_tokens`.
//
//   import { defineComponents } from '/web/ui/index.js';
//   defineComponents();
//   document.querySelector('rtk-meeting').meeting = meeting;

import { COMPONENTS } from './components.js';

export * from './components.js';
export { applyDesignTokens, DEFAULT_TOKENS, tokenVariables } from './theme.js';
export { h } from './dom.js';

/** Register every `rtk-*` element (idempotent). */
export function defineComponents(registry = customElements) {
  for (const [name, cls] of Object.entries(COMPONENTS)) {
    if (!registry.get(name)) registry.define(name, cls);
  }
}
