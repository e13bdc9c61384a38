// WeChat mini-program: hold one request at a time, each ending before wx.request's 60 s.
// Log in with platformID 6 (MiniWeb) and an OpenIM token issued for platform 6.
const BRIDGE = "https://bridge.example.com"; // add it to the mini-program's request domains

function call(session, path, body) {
  return new Promise((resolve, reject) => wx.request({
    url: BRIDGE + path, method: "POST", data: body || {},
    header: { Authorization: "Bearer " + session, "content-type": "application/json" },
    success: (r) => (r.statusCode === 200 ? resolve(r.data.data) : reject(r.data)), // problem+json: r.data.detail
    fail: reject,
  }));
}

// Long-poll: every runtime. `wait` 25 s keeps each request well under the 60 s timeout.
function pollForever(session, onEvent, after = 0) {
  wx.request({
    url: `${BRIDGE}/v1/events/poll?after=${after}&wait=25`,
    header: { Authorization: "Bearer " + session },
    timeout: 40000,
    success: (r) => {
      if (r.statusCode !== 200) return; // 401: the session ended, log in again
      const page = r.data.data;
      page.events.forEach((e) => onEvent(e.event, e.data.data, e.id));
      if (page.reset) onEvent("reset", null, page.lastEventID); // re-fetch lists
      if (!page.closed) pollForever(session, onEvent, page.lastEventID);
    },
    fail: () => setTimeout(() => pollForever(session, onEvent, after), 2000),
  });
}

// Chunked SSE (base library 2.20.2+): the stream ends itself after maxSeconds with `streamEnd`.
function streamForever(session, onEvent, after = 0) {
  let cursor = after, buffer = "";
  const task = wx.request({
    url: `${BRIDGE}/v1/events?maxSeconds=50&lastEventId=${cursor}&access_token=${encodeURIComponent(session)}`,
    enableChunked: true,
    timeout: 60000,
    success: () => streamForever(session, onEvent, cursor), // ended cleanly: reconnect from the cursor
    fail: () => setTimeout(() => streamForever(session, onEvent, cursor), 2000),
  });
  task.onChunkReceived((chunk) => {
    buffer += decodeUtf8(chunk.data);
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) { // one SSE event per blank line
      const fields = {};
      buffer.slice(0, end).split("\n").forEach((line) => {
        const i = line.indexOf(": ");
        if (i > 0) fields[line.slice(0, i)] = (fields[line.slice(0, i)] ? fields[line.slice(0, i)] + "\n" : "") + line.slice(i + 2);
      });
      buffer = buffer.slice(end + 2);
      if (!fields.event) continue; // retry: or a keep-alive comment
      if (fields.id) cursor = Number(fields.id);
      const data = JSON.parse(fields.data);
      if (fields.event === "streamEnd") cursor = data.lastEventId;
      else onEvent(fields.event, fields.event.startsWith("On") ? data.data : data, cursor);
    }
  });
}

function decodeUtf8(arrayBuffer) {
  // TextDecoder is missing on some base library versions: decode percent-escaped bytes.
  const bytes = new Uint8Array(arrayBuffer);
  let s = "";
  for (let i = 0; i < bytes.length; i++) s += "%" + bytes[i].toString(16).padStart(2, "0");
  return decodeURIComponent(s);
}

async function sendText(session, to, text) {
  const message = await call(session, "/v1/message/create_text_message", { text });
  return call(session, "/v1/message/send_message", { message, recvID: to });
}

module.exports = { call, pollForever, streamForever, sendText };
