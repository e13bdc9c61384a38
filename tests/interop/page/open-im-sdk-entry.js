// Page-side bridge for driving the `open-im-sdk` 3.5.2 mini-program package (the
// oimws client) from pytest, against the bridge's oimws-compatible WebSocket.
//
// Bundled by ../build.mjs (esbuild, IIFE) into ../build/open-im-sdk.js, which
// ./open-im-sdk.html loads. Exposes the same `window.im` shape as
// client-sdk-entry.js, so tests/interop/jsclient.py JsClient drives both:
//
// window.im = {
//   ready: true, sdkVersion,
//   async login(cfg)                 cfg = {userID, token, platformID, apiAddr, wsAddr, operationID?}
//   async call(fnName, args, operationID?)
//   events:  [{index, event, data, errCode, errMsg, operationID, at}]   every SDK callback, in order
//   errors:  [{kind, message, at}]   uncaught errors and unhandled promise rejections in the page
//   traffic: [{index, kind, ...}]    WebSocket frames (text, parsed)
//   info()
// }
// call() and login() never throw; they resolve to {ok: true, data, operationID} or
// {ok: false, errCode, errMsg, operationID}. WebSocket is only observed, never altered.

import { OpenIMSDK, CbEvents } from 'open-im-sdk';

const MAX_TRAFFIC = 3000;
const events = [];
const errors = [];
const traffic = [];

function plain(value) {
  if (value === undefined) return null;
  try {
    return JSON.parse(JSON.stringify(value));
  } catch (_e) {
    return String(value);
  }
}

function describe(reason) {
  if (reason instanceof Error) return `${reason.name}: ${reason.message}`;
  if (reason && typeof reason === 'object') {
    try {
      return JSON.stringify(reason);
    } catch (_e) {
      return String(reason);
    }
  }
  return String(reason);
}

window.addEventListener('error', (e) => {
  errors.push({ kind: 'error', message: `${e.message} (${e.filename}:${e.lineno})`, at: Date.now() });
});
window.addEventListener('unhandledrejection', (e) => {
  errors.push({ kind: 'unhandledrejection', message: describe(e.reason), at: Date.now() });
});

function record(entry) {
  entry.index = traffic.length;
  entry.at = Date.now();
  traffic.push(entry);
  if (traffic.length > MAX_TRAFFIC) traffic.splice(0, traffic.length - MAX_TRAFFIC);
}

function parsed(text) {
  try {
    return { envelope: JSON.parse(text) };
  } catch (_e) {
    return { text };
  }
}

const NativeWebSocket = window.WebSocket;
class RecordingWebSocket extends NativeWebSocket {
  constructor(url, protocols) {
    super(url, protocols);
    const wsUrl = String(url);
    record({ kind: 'ws-open-request', url: wsUrl });
    this.addEventListener('open', () => record({ kind: 'ws-opened', url: wsUrl }));
    this.addEventListener('close', (e) =>
      record({ kind: 'ws-closed', url: wsUrl, code: e.code, reason: e.reason, wasClean: e.wasClean }),
    );
    this.addEventListener('error', () => record({ kind: 'ws-error', url: wsUrl }));
    this.addEventListener('message', (e) => {
      if (typeof e.data === 'string') record({ kind: 'ws-recv', frame: 'text', ...parsed(e.data) });
      else record({ kind: 'ws-recv', frame: 'binary' });
    });
  }

  send(data) {
    if (typeof data === 'string') record({ kind: 'ws-send', frame: 'text', ...parsed(data) });
    else record({ kind: 'ws-send', frame: 'binary' });
    return super.send(data);
  }
}
window.WebSocket = RecordingWebSocket;

const sdk = new OpenIMSDK();
const eventNames = Array.from(new Set(Object.values(CbEvents)));
for (const name of eventNames) {
  sdk.on(name, (ev) => {
    const e = ev || {};
    events.push({
      index: events.length,
      event: e.event || name,
      data: plain(e.data),
      errCode: e.errCode || 0,
      errMsg: e.errMsg || '',
      operationID: e.operationID || '',
      at: Date.now(),
    });
  });
}

function settle(promise) {
  return Promise.resolve(promise).then(
    (res) => ({ ok: true, data: plain(res && res.data), operationID: (res && res.operationID) || '' }),
    (err) => {
      if (err && typeof err === 'object' && 'errCode' in err) {
        return { ok: false, errCode: err.errCode, errMsg: err.errMsg || '', operationID: err.operationID || '' };
      }
      return { ok: false, errCode: -1, errMsg: describe(err), operationID: '' };
    },
  );
}

window.im = {
  ready: true,
  sdkVersion: '3.5.2',
  eventNames,
  events,
  errors,
  traffic,
  sdk,
  // open-im-sdk functions take (params, operationID = uuid()): operationID follows the params.
  login(cfg) {
    const { operationID, logLevel: _logLevel, ...params } = cfg;
    return settle(sdk.login(params, operationID || undefined));
  },
  call(fnName, args = [], operationID = undefined) {
    const fn = sdk[fnName];
    if (typeof fn !== 'function') {
      return Promise.resolve({ ok: false, errCode: -1, errMsg: `no SDK function ${fnName}`, operationID: '' });
    }
    try {
      return settle(operationID ? fn(...args, operationID) : fn(...args));
    } catch (e) {
      return Promise.resolve({ ok: false, errCode: -1, errMsg: describe(e), operationID: '' });
    }
  },
  info() {
    return { eventCount: events.length, errorCount: errors.length };
  },
};
