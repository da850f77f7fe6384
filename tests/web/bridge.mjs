// A small bridge between pytest and Playwright (npm package playwright-core, no browser
// download): reads one JSON command per line on stdin, answers one JSON line on stdout.
//
//   {"id": 1, "op": "launch", "executablePath": "/usr/bin/chromium", "args": [...]}
//   {"id": 2, "op": "open", "page": "host", "url": "http://127.0.0.1:8080/meeting?authToken=…"}
//   {"id": 3, "op": "click", "page": "host", "selector": "role=button[name=\"Join meeting\"]"}
//   → {"id": 3, "ok": true, "result": null}   or   {"id": 3, "ok": false, "error": "…"}
//
// Every page is its own browser context (its own cookies, storage and media permissions: one
// "browser" per participant), all in one Chromium process. Console output and page errors are
// sent as {"event": "console", "page": …, "text": …} lines.

import { createRequire } from 'node:module';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const webDir = process.env.RTK_WEB_DIR || path.resolve(here, '../../web');
const require = createRequire(path.join(webDir, 'package.json'));
const { chromium } = require('playwright-core');

let browser = null;
const pages = new Map(); // name → {context, page}
const out = (obj) => process.stdout.write(`${JSON.stringify(obj)}\n`);

// Playwright evaluates a *string* as an expression (a function source would just evaluate to the
// function); turn function sources into functions (serialized back with their source text) and
// plain expressions into `() => (expression)`.
function asFunction(source) {
  const text = String(source).trim();
  const looksLikeFunction = /^(async\s*)?(function\b|\([^)]*\)\s*=>|[A-Za-z_$][\w$]*\s*=>)/.test(text);
  // eslint-disable-next-line no-new-func
  return new Function(`return (${looksLikeFunction ? text : `() => (${text})`});`)();
}

function pageOf(name) {
  const entry = pages.get(name);
  if (!entry) throw new Error(`no page named ${name}`);
  return entry.page;
}

const ops = {
  async launch({ executablePath, args = [] }) {
    browser = await chromium.launch({ executablePath, headless: true, args, timeout: 60000 });
    return browser.version();
  },
  async open({ page: name, url, viewport = { width: 1280, height: 720 } }) {
    if (pages.has(name)) throw new Error(`page ${name} exists`);
    const context = await browser.newContext({ viewport, permissions: ['camera', 'microphone'] });
    const page = await context.newPage();
    page.setDefaultTimeout(15000);
    page.on('console', (msg) => out({ event: 'console', page: name, type: msg.type(), text: msg.text() }));
    page.on('pageerror', (err) => out({ event: 'console', page: name, type: 'pageerror', text: String(err && err.stack || err) }));
    pages.set(name, { context, page });
    if (url) await page.goto(url, { waitUntil: 'domcontentloaded' });
    return null;
  },
  async goto({ page, url }) {
    await pageOf(page).goto(url, { waitUntil: 'domcontentloaded' });
    return null;
  },
  async click({ page, selector, timeout }) {
    await pageOf(page).locator(selector).first().click({ timeout });
    return null;
  },
  async fill({ page, selector, value, timeout }) {
    await pageOf(page).locator(selector).first().fill(value, { timeout });
    return null;
  },
  // Choose an option of a <select> by its visible text, as a user would; the chosen values.
  async selectOption({ page, selector, label, timeout }) {
    return pageOf(page).locator(selector).first().selectOption({ label }, { timeout });
  },
  async press({ page, selector, key, timeout }) {
    await pageOf(page).locator(selector).first().press(key, { timeout });
    return null;
  },
  async keyboard({ page, key }) {
    await pageOf(page).keyboard.press(key);
    return null;
  },
  async wait({ page, selector, state = 'visible', timeout }) {
    await pageOf(page).locator(selector).first().waitFor({ state, timeout });
    return null;
  },
  async count({ page, selector }) {
    return pageOf(page).locator(selector).count();
  },
  async attribute({ page, selector, name, timeout }) {
    return pageOf(page).locator(selector).first().getAttribute(name, { timeout });
  },
  async text({ page, selector, timeout }) {
    return pageOf(page).locator(selector).first().innerText({ timeout });
  },
  async evaluate({ page, expression, arg }) {
    return pageOf(page).evaluate(asFunction(expression), arg);
  },
  // Poll with page.evaluate (which awaits a returned promise, unlike waitForFunction's polling)
  // until the function returns a truthy value; its (JSON) value is the result.
  async waitFunction({ page, expression, arg, timeout = 15000, polling = 100 }) {
    const fn = asFunction(expression);
    const deadline = Date.now() + timeout;
    let last;
    for (;;) {
      try {
        last = await pageOf(page).evaluate(fn, arg);
        if (last) return last;
      } catch (err) {
        // not ready yet (e.g. window.meeting still undefined, a navigation in progress): the
        // last error is reported if it never becomes true
        last = `error: ${err && err.message ? err.message : err}`;
        if (/Target page, context or browser has been closed/i.test(last)) throw err;
      }
      if (Date.now() > deadline) throw new Error(`waitFunction timed out after ${timeout} ms (last value: ${JSON.stringify(last)}): ${String(expression).slice(0, 300)}`);
      await new Promise((resolve) => setTimeout(resolve, polling));
    }
  },
  async screenshot({ page, path: file, selector }) {
    const target = selector ? pageOf(page).locator(selector).first() : pageOf(page);
    await target.screenshot({ path: file });
    return file;
  },
  async setOffline({ page, offline }) {
    await pages.get(page).context.setOffline(!!offline);
    return null;
  },
  async closePage({ page }) {
    const entry = pages.get(page);
    if (entry) {
      pages.delete(page);
      await entry.context.close();
    }
    return null;
  },
  async close() {
    for (const { context } of pages.values()) await context.close().catch(() => {});
    pages.clear();
    if (browser) await browser.close();
    browser = null;
    return null;
  },
};

const rl = readline.createInterface({ input: process.stdin });
rl.on('line', async (line) => {
  let command;
  try {
    command = JSON.parse(line);
  } catch {
    return;
  }
  const { id, op } = command;
  try {
    if (!ops[op]) throw new Error(`unknown op ${op}`);
    const result = await ops[op](command);
    out({ id, ok: true, result: result === undefined ? null : result });
  } catch (err) {
    out({ id, ok: false, error: String(err && err.message ? err.message : err) });
  }
  if (op === 'close') process.exit(0);
});
rl.on('close', async () => {
  if (browser) await browser.close().catch(() => {});
  process.exit(0);
});
