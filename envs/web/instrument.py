"""The script every page of an environment gets before its own scripts run (all frames).

It lets the environment read the page's own state instead of sleeping:

- timers: pending `setTimeout` callbacks set for at most `HORIZON_MS` and `setInterval`s
  at least as fast as `FAST_INTERVAL_MS` (animation loops such as jQuery's 13 ms tick)
  count as pending work; longer timers (MiniWoB++'s episode timer, a clock ticking every
  second, a task's own 3.5 s deadline) do not;
- animation frames: page callbacks waiting for `requestAnimationFrame`, finite running
  CSS/Web animations;
- requests: `fetch` and `XMLHttpRequest` calls in flight;
- loading: the document, its images and its fonts;
- the task: MiniWoB++'s `WOB_TASK_READY` flag when it is false.

`window.__worldplan.settle(maxMs)` resolves when none of these is pending (checked now and
then at every animation frame, or every 50 ms if frames do not come), or after `maxMs`,
with `{quiet, busy, ms, events}`. `newEpisode()` cancels the long one-shot timers that
earlier episodes set (a task's own deadline, e.g. moving-items' 3.5 s, would end the next
episode); short timers, intervals and animation frames are left alone, since libraries
keep their animation loops in them (cancelling jQuery's tick or Raphael's frame loop from
outside leaves them believing it still runs), and timers set while the page loaded are
kept.

Copy, cut and paste use a clipboard of the page's own (Chromium has one per browser, which
parallel environments would share); it is emptied with the episode's timers.

It is also the page-side half of the guard (`guard`): `window.open`, links and forms that
target another window, download links, and `alert`/`confirm`/`prompt` are refused in the
page itself, and each refusal is queued as an event (`{kind: "popup", url}`, `{kind:
"download", name}` or `{kind: "dialog", type, message}`) that `settle` hands back (the
same step reports it, however late the browser's own event would have come). The
browser-side guard still closes any other page and stops every off-origin request.

Not handled: work a page hides from these hooks (Web Workers, postMessage loops, WebSocket
traffic); `settle` then returns at its `maxMs` and the observation is taken as it is.
"""

from __future__ import annotations

HORIZON_MS = 1000  # a pending setTimeout set for at most this many ms is work in progress
FAST_INTERVAL_MS = 100  # a setInterval at least this fast is an animation loop

PAGE_SCRIPT = """(() => {
  const W = window;
  if (W.__worldplan) return;
  const HORIZON = __HORIZON__, FAST = __FAST__;
  const oST = W.setTimeout.bind(W), oCT = W.clearTimeout.bind(W);
  const oSI = W.setInterval.bind(W), oCI = W.clearInterval.bind(W);
  const oRAF = W.requestAnimationFrame.bind(W), oCAF = W.cancelAnimationFrame.bind(W);
  const now = () => performance.now();
  const st = {timeouts: new Map(), intervals: new Map(), frames: new Map(), inflight: 0,
              events: [], epoch: 0, clipboard: ''};
  const call = (fn, self, args) => typeof fn === 'function' ? fn.apply(self, args)
                                   : (0, eval)(String(fn));
  W.setTimeout = function (fn, ms, ...args) {
    let id;
    id = oST(function () { st.timeouts.delete(id); return call(fn, this, args); }, ms);
    st.timeouts.set(id, {short: (Number(ms) || 0) <= HORIZON, epoch: st.epoch});
    return id;
  };
  W.setInterval = function (fn, ms, ...args) {
    const id = oSI(function () { return call(fn, this, args); }, ms);
    st.intervals.set(id, {every: Number(ms) || 0, epoch: st.epoch});
    return id;
  };
  const clear = (id) => { st.timeouts.delete(id); st.intervals.delete(id); };
  W.clearTimeout = function (id) { clear(id); return oCT(id); };
  W.clearInterval = function (id) { clear(id); return oCI(id); };
  W.requestAnimationFrame = function (cb) {
    let id;
    id = oRAF(function (t) { st.frames.delete(id); return cb(t); });
    st.frames.set(id, st.epoch);
    return id;
  };
  W.cancelAnimationFrame = function (id) { st.frames.delete(id); return oCAF(id); };
  if (W.fetch) {
    const oFetch = W.fetch;
    W.fetch = function (...a) {
      st.inflight++;
      let p;
      try { p = oFetch.apply(this, a); } catch (e) { st.inflight--; throw e; }
      return p.finally(() => { st.inflight--; });
    };
  }
  const oSend = XMLHttpRequest.prototype.send;
  XMLHttpRequest.prototype.send = function (...a) {
    st.inflight++;
    let done = false;
    const end = () => { if (!done) { done = true; st.inflight--; } };
    this.addEventListener('loadend', end);
    try { return oSend.apply(this, a); } catch (e) { end(); throw e; }
  };
  // the page-side guard: no new windows, no blocking dialogs
  W.open = function (url) {
    st.events.push({kind: 'popup', url: String(url || '')});
    return null;
  };
  const refuse = (ev) => {
    const link = ev.target && ev.target.closest ? ev.target.closest('a[href], area[href]')
                                                  : null;
    if (!link) return;
    const target = (link.getAttribute('target') || '').toLowerCase();
    if (link.hasAttribute('download')) {
      ev.preventDefault();
      const name = link.getAttribute('download') ||
        decodeURIComponent(new URL(link.href, location.href).pathname.split('/').pop());
      st.events.push({kind: 'download', name: name});
    } else if (target && !['_self', '_parent', '_top'].includes(target)) {
      ev.preventDefault();
      st.events.push({kind: 'popup', url: String(link.href || '')});
    }
  };
  W.addEventListener('click', refuse, true);
  W.addEventListener('auxclick', refuse, true);
  W.addEventListener('submit', (ev) => {
    const t = ((ev.target && ev.target.getAttribute('target')) || '').toLowerCase();
    if (t && !['_self', '_parent', '_top'].includes(t)) {
      ev.preventDefault();
      st.events.push({kind: 'popup', url: String(ev.target.action || '')});
    }
  }, true);
  const dialog = (type, answer) => function (message) {
    st.events.push({kind: 'dialog', type: type,
                    message: message === undefined ? '' : String(message)});
    return answer;
  };
  // A clipboard of this page's own: Chromium's is one for the whole browser, which parallel
  // environments would share (one's copy pasted into another's page).
  const selected = () => {
    const el = document.activeElement;
    if (el && typeof el.selectionStart === 'number' && el.value !== undefined) {
      return el.value.substring(el.selectionStart, el.selectionEnd);
    }
    return String(W.getSelection ? W.getSelection() : '');
  };
  const copy = (ev) => {
    st.clipboard = selected();
    if (ev.clipboardData) ev.clipboardData.setData('text/plain', st.clipboard);
    ev.preventDefault();
  };
  document.addEventListener('copy', copy, true);
  document.addEventListener('cut', (ev) => {
    copy(ev);
    document.execCommand('delete');
  }, true);
  document.addEventListener('paste', (ev) => {
    ev.preventDefault();
    document.execCommand('insertText', false, st.clipboard);
  }, true);
  W.alert = dialog('alert', undefined);
  W.confirm = dialog('confirm', false);
  W.prompt = dialog('prompt', null);
  const busy = () => {
    const why = [];
    for (const v of st.timeouts.values()) {
      if (v.short) { why.push('timer'); break; }
    }
    for (const v of st.intervals.values()) {
      if (v.every <= FAST) { why.push('interval'); break; }
    }
    if (st.frames.size) why.push('animation frame');
    if (st.inflight > 0) why.push('request');
    if (document.readyState !== 'complete') why.push('loading');
    if (Array.from(document.images).some(i => !i.complete)) why.push('images');
    if (document.fonts && document.fonts.status !== 'loaded') why.push('fonts');
    if (document.getAnimations && document.getAnimations().some(a => a.playState === 'running'
        && a.effect && a.effect.getComputedTiming().endTime !== Infinity)) {
      why.push('css animation');
    }
    if (W.WOB_TASK_READY === false) why.push('task not ready');
    return why;
  };
  const settle = (maxMs) => new Promise((resolve) => {
    const t0 = now();
    const tick = () => {
      const why = busy();
      if (!why.length || now() - t0 >= maxMs) {
        resolve({quiet: !why.length, busy: why, ms: now() - t0, events: st.events.splice(0)});
        return;
      }
      let fired = false;
      const go = () => { if (!fired) { fired = true; tick(); } };
      oRAF(go);
      oST(go, 50);
    };
    tick();
  });
  const newEpisode = () => {
    for (const [id, v] of st.timeouts) {
      if (v.epoch > 0 && !v.short) { oCT(id); st.timeouts.delete(id); }
    }
    st.epoch++;
    st.events.splice(0);
    st.clipboard = '';
  };
  Object.defineProperty(W, '__worldplan', {value: Object.freeze({settle, busy,
    newEpisode}), enumerable: false});
})();""".replace("__HORIZON__", str(HORIZON_MS)).replace("__FAST__", str(FAST_INTERVAL_MS))
