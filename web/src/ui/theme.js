// Theming from the preset's `ui.design_tokens` (reference §4.4.3): colors become CSS custom
// properties on the meeting element; border radius / width, spacing, font and theme too.
//
//   --rtk-colors-brand-300 … -700, --rtk-colors-background-600 … -1000,
//   --rtk-colors-danger, -text, -text-on-brand, -success, -video-bg, -warning,
//   --rtk-border-radius, --rtk-border-width, --rtk-space-base, --rtk-font-family

export const DEFAULT_TOKENS = {
  borderRadius: 'rounded',
  borderWidth: 'thin',
  spacingBase: 4,
  theme: 'dark',
  colors: {
    brand: { 300: '#844d1c', 400: '#9d5b22', 500: '#b56927', 600: '#d37c30', 700: '#d9904f' },
    background: { 600: '#222222', 700: '#1f1f1f', 800: '#1b1b1b', 900: '#181818', 1000: '#141414' },
    danger: '#FF2D2D',
    text: '#EEEEEE',
    textOnBrand: '#EEEEEE',
    success: '#62A504',
    videoBg: '#191919',
    warning: '#FFCD07',
  },
};

const LIGHT_BACKGROUND = { 600: '#d9d9d9', 700: '#e5e5e5', 800: '#ececec', 900: '#f5f5f5', 1000: '#ffffff' };
const DARKEST_BACKGROUND = { 600: '#1a1a1a', 700: '#141414', 800: '#0f0f0f', 900: '#0a0a0a', 1000: '#000000' };
const RADIUS = { sharp: '0px', rounded: '8px', 'extra-rounded': '16px', circular: '9999px' };
const WIDTH = { none: '0px', thin: '1px', fat: '2px' };
const HEX = /^#(?:[0-9a-f]{3,4}|[0-9a-f]{6}|[0-9a-f]{8})$/i;

const safeColor = (value, fallback) => (typeof value === 'string' && HEX.test(value) ? value : fallback);

function sameColors(a, b) {
  return Object.keys(b).every((k) => String(a[k] || '').toLowerCase() === b[k].toLowerCase());
}

/** The CSS custom properties for a (camelCase) design-token object. */
export function tokenVariables(tokens = {}) {
  const t = { ...DEFAULT_TOKENS, ...(tokens || {}) };
  const colors = { ...DEFAULT_TOKENS.colors, ...(t.colors || {}) };
  let background = { ...DEFAULT_TOKENS.colors.background, ...(colors.background || {}) };
  let text = colors.text;
  // Presets always carry colours; a light or darkest theme with the stock dark palette gets
  // the matching stock palette instead.
  if (t.theme === 'light' && sameColors(background, DEFAULT_TOKENS.colors.background)) {
    background = LIGHT_BACKGROUND;
    if (String(text).toLowerCase() === '#eeeeee') text = '#111111';
  } else if (t.theme === 'darkest' && sameColors(background, DEFAULT_TOKENS.colors.background)) {
    background = DARKEST_BACKGROUND;
  }
  const vars = {};
  const brand = { ...DEFAULT_TOKENS.colors.brand, ...(colors.brand || {}) };
  for (const [shade, value] of Object.entries(brand)) vars[`--rtk-colors-brand-${shade}`] = safeColor(value, DEFAULT_TOKENS.colors.brand[shade]);
  for (const [shade, value] of Object.entries(background)) vars[`--rtk-colors-background-${shade}`] = safeColor(value, DEFAULT_TOKENS.colors.background[shade]);
  vars['--rtk-colors-danger'] = safeColor(colors.danger, DEFAULT_TOKENS.colors.danger);
  vars['--rtk-colors-text'] = safeColor(text, DEFAULT_TOKENS.colors.text);
  vars['--rtk-colors-text-on-brand'] = safeColor(colors.textOnBrand, DEFAULT_TOKENS.colors.textOnBrand);
  vars['--rtk-colors-success'] = safeColor(colors.success, DEFAULT_TOKENS.colors.success);
  vars['--rtk-colors-video-bg'] = safeColor(colors.videoBg, DEFAULT_TOKENS.colors.videoBg);
  vars['--rtk-colors-warning'] = safeColor(colors.warning, DEFAULT_TOKENS.colors.warning);
  vars['--rtk-border-radius'] = RADIUS[t.borderRadius] || RADIUS.rounded;
  vars['--rtk-border-width'] = WIDTH[t.borderWidth] || WIDTH.thin;
  const spacing = Number(t.spacingBase) > 0 && Number(t.spacingBase) <= 64 ? Number(t.spacingBase) : 4;
  vars['--rtk-space-base'] = `${spacing}px`;
  if (t.fontFamily) vars['--rtk-font-family'] = `${String(t.fontFamily).replace(/[;{}<>]/g, '')}, system-ui, sans-serif`;
  return vars;
}

/** Apply design tokens to an element (usually <rtk-meeting>) and set its color scheme. */
export function applyDesignTokens(el, tokens = {}) {
  for (const [name, value] of Object.entries(tokenVariables(tokens))) el.style.setProperty(name, value);
  const theme = (tokens && tokens.theme) || 'dark';
  el.dataset.theme = theme;
  el.style.colorScheme = theme === 'light' ? 'light' : 'dark';
}
