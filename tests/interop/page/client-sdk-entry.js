// Page-side bridge for driving the official `@openim/client-sdk` from pytest.
//
// Bundled by ../build.mjs (esbuild, IIFE) into ../build/client-sdk.js, which
// ./client-sdk.html loads. Nothing here changes what the SDK sends: fetch and
// WebSocket are only observed (wrapped to record traffic), never altered.
//
// window.im = {
//   ready: true,
//   sdkVersion, CbEvents,
//   async login(cfg)                 cfg = {userID, token, platformID, apiAddr, wsAddr, logLevel?, operationID?}
//   async call(fnName, args, operationID?)
//   events:  [{index, event, data, errCode, errMsg, operationID, at}]   every SDK event, in order
//   errors:  [{kind, message, at}]   uncaught errors and unhandled promise rejections in the page
//   traffic: [{index, kind, ...}]    HTTP requests/responses and WS frames, protobuf payloads decoded
//   info()                           {userID, loginStatus, eventCount, errorCount}
// }
// call() and login() never throw; they resolve to {ok: true, data, operationID} or
// {ok: false, errCode, errMsg, operationID}.

import { getSDK, CbEvents } from '@openim/client-sdk';
import { PbCoder } from '@openim/protocol';

const MAX_TRAFFIC = 3000;
const events = [];
const errors = [];
const traffic = [];

// ---- JSON-safe copies -------------------------------------------------------

function b64(bytes) {
  let s = '';
  for (let i = 0; i < bytes.length; i += 1) s += String.fromCharCode(bytes[i]);
  return btoa(s);
}

function plain(value) {
  if (value === undefined) return null;
  try {
    return JSON.parse(
      JSON.stringify(value, (_k, v) => {
        if (typeof v === 'bigint') return v.toString();
        if (v instanceof Uint8Array) {
          try {
            return new TextDecoder('utf-8', { fatal: true }).decode(v);
          } catch (_e) {
            return { base64: b64(v) };
          }
        }
        if (v instanceof ArrayBuffer) return plain(new Uint8Array(v));
        return v;
      }),
    );
  } catch (e) {
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

// ---- traffic recording ------------------------------------------------------

function record(entry) {
  entry.index = traffic.length;
  entry.at = Date.now();
  traffic.push(entry);
  if (traffic.length > MAX_TRAFFIC) traffic.splice(0, traffic.length - MAX_TRAFFIC);
}

function b64decode(s) {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i += 1) out[i] = bin.charCodeAt(i);
  return out;
}

// Protobuf payload types of the gateway's `data` field, per reqIdentifier
// (request direction, response direction). Same table the SDK uses to decode.
const WS_CODECS = {
  1001: [null, PbCoder.GetMaxSeqResp],
  1002: [PbCoder.PullMessageBySeqsReq, PbCoder.PullMessageBySeqsResp],
  1003: [PbCoder.MsgData, PbCoder.UserSendMsgResp],
  1005: [PbCoder.GetSeqMessageReq, PbCoder.GetSeqMessageResp],
  1006: [PbCoder.GetConversationsHasReadAndMaxSeqReq, PbCoder.GetConversationsHasReadAndMaxSeqResp],
  2001: [null, PbCoder.PushMessages],
  2004: [null, PbCoder.SetAppBackgroundStatusResp],
  2005: [PbCoder.SubUserOnlineStatus, PbCoder.SubUserOnlineStatusTips],
};

const HTTP_PB_CODECS = {
  '/jssdk/get_active_conversations': [PbCoder.GetActiveConversationsReq, PbCoder.GetActiveConversationsResp],
  '/jssdk/get_conversations': [PbCoder.GetConversationsReq, PbCoder.GetConversationsResp],
};

function decodeEnvelope(text, direction) {
  let env;
  try {
    env = JSON.parse(text);
  } catch (_e) {
    return { text };
  }
  const out = { envelope: env };
  const codecs = WS_CODECS[env.reqIdentifier];
  const codec = codecs && codecs[direction === 'sent' ? 0 : 1];
  if (codec && typeof env.data === 'string' && env.data) {
    try {
      out.decoded = plain(codec.decode(b64decode(env.data)));
    } catch (e) {
      out.decodeError = describe(e);
    }
  }
  return out;
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
      const data = e.data;
      if (typeof data === 'string') {
        record({ kind: 'ws-recv', frame: 'text', ...decodeEnvelope(data, 'recv') });
      } else {
        const p = data instanceof Blob ? data.arrayBuffer() : Promise.resolve(data);
        p.then((buf) => {
          const text = new TextDecoder().decode(new Uint8Array(buf));
          record({ kind: 'ws-recv', frame: 'binary', ...decodeEnvelope(text, 'recv') });
        });
      }
    });
  }

  send(data) {
    if (typeof data === 'string') {
      record({ kind: 'ws-send', frame: 'text', ...decodeEnvelope(data, 'sent') });
    } else {
      const bytes = data instanceof Uint8Array ? data : new Uint8Array(data.buffer || data);
      record({ kind: 'ws-send', frame: 'binary', ...decodeEnvelope(new TextDecoder().decode(bytes), 'sent') });
    }
    return super.send(data);
  }
}
window.WebSocket = RecordingWebSocket;

const nativeFetch = window.fetch.bind(window);
window.fetch = async (input, init = {}) => {
  const url = String(typeof input === 'string' ? input : input.url);
  const path = new URL(url, window.location.href).pathname;
  const headers = plain(init.headers || {});
  const entry = { kind: 'http', method: init.method || 'GET', url, path, headers };
  const codecs = HTTP_PB_CODECS[path];
  if (init.body instanceof Uint8Array) {
    entry.body = codecs ? plain(codecs[0].decode(init.body)) : { base64: b64(init.body) };
  } else if (typeof init.body === 'string') {
    try {
      entry.body = JSON.parse(init.body);
    } catch (_e) {
      entry.body = init.body;
    }
  }
  let resp;
  try {
    resp = await nativeFetch(input, init);
  } catch (e) {
    entry.error = describe(e);
    record(entry);
    throw e;
  }
  entry.status = resp.status;
  try {
    const text = await resp.clone().text();
    try {
      const json = JSON.parse(text);
      entry.response = json;
      if (codecs && typeof json.data === 'string' && json.data) {
        try {
          entry.responseDecoded = plain(codecs[1].decode(b64decode(json.data)));
        } catch (e) {
          entry.responseDecodeError = describe(e);
        }
      }
    } catch (_e) {
      entry.responseText = text.slice(0, 2000);
    }
  } catch (e) {
    entry.responseReadError = describe(e);
  }
  record(entry);
  return resp;
};

// ---- the SDK ----------------------------------------------------------------

const sdk = getSDK();
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
        return {
          ok: false,
          errCode: err.errCode,
          errMsg: err.errMsg || err.message || '',
          operationID: err.operationID || '',
        };
      }
      return { ok: false, errCode: -1, errMsg: describe(err), operationID: '' };
    },
  );
}

window.im = {
  ready: true,
  sdkVersion: '0.0.14',
  CbEvents: plain(CbEvents),
  eventNames,
  events,
  errors,
  traffic,
  sdk,
  // The SDK's Proxy appends a generated operationID as the LAST argument, and
  // each function reads its operationID at a fixed position (after its declared
  // params). Passing operationID here puts ours at that position instead.
  login(cfg) {
    const { operationID, ...params } = cfg;
    const args = operationID ? [params, operationID] : [params];
    return settle(sdk.login(...args));
  },
  call(fnName, args = [], operationID = undefined) {
    const fn = sdk[fnName];
    if (typeof fn !== 'function') {
      return Promise.resolve({ ok: false, errCode: -1, errMsg: `no SDK function ${fnName}`, operationID: '' });
    }
    const all = operationID ? [...args, operationID] : [...args];
    try {
      return settle(fn(...all));
    } catch (e) {
      return Promise.resolve({ ok: false, errCode: -1, errMsg: describe(e), operationID: '' });
    }
  },
  info() {
    return {
      userID: sdk.userID || null,
      loginStatus: sdk.loginStatus,
      eventCount: events.length,
      errorCount: errors.length,
    };
  },
};
