// A small event emitter with RealtimeKit's camelCase event names.
//
// `on`, `once`, `off`, `emit`, `removeAllListeners`, `listenerCount`, and `waitFor(event,
// predicate, timeoutMs)` for code (and tests) that wait on events: the listener is armed when
// `waitFor` is called, so `const w = x.waitFor('roomJoined'); await act(); await w;` cannot miss
// an event that `act()` causes. A listener that throws is logged and does not break the SDK.

export class EventEmitter {
  constructor() {
    /** @type {Map<string, Array<{fn: Function, once: boolean}>>} */
    this._listeners = new Map();
  }

  on(event, fn) {
    if (!this._listeners.has(event)) this._listeners.set(event, []);
    this._listeners.get(event).push({ fn, once: false });
    return this;
  }

  addListener(event, fn) {
    return this.on(event, fn);
  }

  once(event, fn) {
    if (!this._listeners.has(event)) this._listeners.set(event, []);
    this._listeners.get(event).push({ fn, once: true });
    return this;
  }

  off(event, fn) {
    if (fn === undefined) {
      this._listeners.delete(event);
      return this;
    }
    const list = this._listeners.get(event);
    if (list) this._listeners.set(event, list.filter((l) => l.fn !== fn));
    return this;
  }

  removeListener(event, fn) {
    return this.off(event, fn);
  }

  removeAllListeners(event) {
    if (event === undefined) this._listeners.clear();
    else this._listeners.delete(event);
    return this;
  }

  listenerCount(event) {
    return (this._listeners.get(event) || []).length;
  }

  emit(event, ...args) {
    const direct = this._listeners.get(event) || [];
    const wildcard = event === '*' ? [] : this._listeners.get('*') || [];
    if (!direct.length && !wildcard.length) return false;
    if (direct.some((l) => l.once)) this._listeners.set(event, direct.filter((l) => !l.once));
    const calls = [...direct.map((l) => [l.fn, args]), ...wildcard.map((l) => [l.fn, [event, ...args]])];
    for (const [fn, callArgs] of calls) {
      try {
        const result = fn(...callArgs);
        if (result && typeof result.catch === 'function') {
          result.catch((err) => console.error(`[realtimekit] listener for ${event} failed`, err));
        }
      } catch (err) {
        console.error(`[realtimekit] listener for ${event} failed`, err);
      }
    }
    return true;
  }

  /**
   * Resolve with the first argument of the next `event` whose arguments satisfy `predicate`
   * (an array when there are several). Rejects after `timeoutMs` (0 = never).
   */
  waitFor(event, predicate = null, timeoutMs = 10000) {
    return new Promise((resolve, reject) => {
      let timer = null;
      const listener = (...args) => {
        try {
          if (predicate && !predicate(...args)) return;
        } catch (err) {
          cleanup();
          reject(err);
          return;
        }
        cleanup();
        resolve(args.length <= 1 ? args[0] : args);
      };
      const cleanup = () => {
        if (timer) clearTimeout(timer);
        this.off(event, listener);
      };
      this.on(event, listener);
      if (timeoutMs) {
        timer = setTimeout(() => {
          cleanup();
          reject(new Error(`timed out waiting for ${event}`));
        }, timeoutMs);
      }
    });
  }
}
