// A typed client for openapi/openapi.json as a TypeScript user writes one: types from
// openapi-typescript, calls through openapi-fetch, no casts (issue 16). Compiled by
// tests/clients/test_typescript_client.py with tsc --strict and then run against a live stack.
// A spec regression fails the compile: a field with a default made required (login without
// batchMessages, addFriend without reqMsg, accept without handleMsg, send without groupID,
// getFriendList without a body) or a body type on the 202 (`.data` of every answer would be
// a union of the result and `{operationID}`).
//
// openapi-fetch types `data` as the union over every documented 2xx, so an SDK function's
// `data` is its 200 result or `undefined` (the 202, which has no body type): `result()`
// narrows that once, as any openapi-fetch user does for an operation that may answer 204.
import createClient from "openapi-fetch";
import type { components, paths, webhooks } from "./schema";

type Client = ReturnType<typeof createClient<paths>>;
type PolledEvent = components["schemas"]["PolledEvent"];
type MsgStruct = components["schemas"]["MsgStruct"];
// The payload of each event, as the spec's 3.1 `webhooks` entries describe it.
type EventBody<E extends keyof webhooks> = NonNullable<webhooks[E]["post"]>["requestBody"]["content"]["application/json"];
type AnyEvent = EventBody<"OnRecvNewMessage"> | EventBody<"callResult"> | EventBody<"OnFriendAdded">;

const env = (name: string): string => {
  const value = process.env[name];
  if (value === undefined) throw new Error(`${name} is not set`);
  return value;
};
const baseUrl = env("BRIDGE_URL");

// What a webhook receiver does with a body: the `event` field narrows `data` to its type.
function describe(body: AnyEvent): string {
  switch (body.event) {
    case "OnRecvNewMessage":
      return `message ${body.data.clientMsgID}: ${body.data.textElem?.content ?? ""}`;
    case "callResult":
      return `${body.data.function} -> ${body.data.errCode}`;
    case "OnFriendAdded":
      return `friend ${body.data.userID}`;
  }
}

// Listener events carry the envelope {listener, callback, operationID?, data}; the bridge's own
// (callResult, sessionClosed, reset, streamEnd) carry their payload alone.
function envelopeData(event: PolledEvent): unknown {
  const envelope = event.data;
  if (typeof envelope === "object" && envelope !== null && "data" in envelope) return envelope.data;
  throw new Error(`event ${event.id} has no envelope`);
}

function isMessage(data: unknown): data is MsgStruct {
  return typeof data === "object" && data !== null && "clientMsgID" in data && typeof data.clientMsgID === "string";
}

function isCallOutcome(data: unknown): data is EventBody<"callResult">["data"] {
  return typeof data === "object" && data !== null && "function" in data && "errCode" in data;
}

// The 200 result of a call made without Prefer: respond-async.
function result<T, E extends { status: number; errMsg: string }>(what: string, answer: { data?: T; error?: E }): T {
  if (answer.error !== undefined) throw new Error(`${what}: ${answer.error.status} ${answer.error.errMsg}`);
  if (answer.data === undefined) throw new Error(`${what}: answered without a body`);
  return answer.data;
}

async function login(userID: string, token: string): Promise<Client> {
  const anon = createClient<paths>({ baseUrl });
  // batchMessages has a default: leaving it out must type-check.
  // login never answers 202: its `data` is the plain result, used without narrowing.
  const { data, error } = await anon.POST("/v1/login", { body: { userID, token, platformID: 5 } });
  if (error !== undefined) throw new Error(`login ${userID}: ${error.status} ${error.errMsg}`);
  return createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${data.data.sessionToken}` } });
}

async function waitFor(
  client: Client,
  name: string,
  after: number,
  wanted: (e: PolledEvent) => boolean = () => true,
): Promise<PolledEvent> {
  for (let round = 0; round < 20; round++) {
    const { data, error } = await client.GET("/v1/events/poll", { params: { query: { after, wait: 2 } } });
    if (error !== undefined) throw new Error(`poll: ${error.status} ${error.errMsg}`);
    const found = data.data.events.find((e) => e.event === name && wanted(e));
    if (found !== undefined) return found;
    after = data.data.lastEventID;
  }
  throw new Error(`no ${name} event`);
}

async function main(): Promise<void> {
  const [aID, bID] = [env("USER_A"), env("USER_B")];
  const a = await login(aID, env("TOKEN_A"));
  const b = await login(bID, env("TOKEN_B"));
  const out: Record<string, unknown> = {};

  // A call with a body; reqMsg and ex have defaults.
  result("add_friend", await a.POST("/v1/friend/add_friend", { body: { toUserID: bID } }));
  await waitFor(b, "OnFriendApplicationAdded", 0);
  result("accept", await b.POST("/v1/friend/accept_friend_application", { body: { toUserID: aID } }));
  const added = envelopeData(await waitFor(a, "OnFriendAdded", 0));
  out.friendAdded = typeof added === "object" && added !== null && "userID" in added ? added.userID : null;

  // A call with no body at all: every parameter of get_friend_list has a default.
  const friends = result("get_friend_list", await a.POST("/v1/friend/get_friend_list"));
  out.friends = friends.data.map((f) => f.userID);

  // The 202 of Prefer: respond-async: the operationID header names the callResult event.
  const early = await a.POST("/v1/message/create_text_message", {
    body: { text: "typed hello" },
    params: { header: { Prefer: "respond-async" } },
  });
  out.asyncStatus = early.response.status;
  const asyncOp = early.response.headers.get("operationID");
  const resultEvent = await waitFor(a, "callResult", 0);
  const outcome = resultEvent.data;
  if (!isCallOutcome(outcome)) throw new Error("callResult without an outcome");
  out.asyncOperationMatches = outcome.operationID === asyncOp;
  out.asyncOutcome = describe({ sessionID: "", userID: aID, platformID: 5, id: resultEvent.id, event: "callResult", data: outcome });

  const made = result("create", await a.POST("/v1/message/create_text_message", { body: { text: "typed hello" } }));
  const sent = result("send", await a.POST("/v1/message/send_message", { body: { message: made.data, recvID: bID } }));
  out.sentStatus = sent.data.status;
  const isText = (e: PolledEvent): boolean => {
    const data = envelopeData(e);
    return isMessage(data) && data.contentType === 101; // a text, not the friendship notifications
  };
  const got = envelopeData(await waitFor(b, "OnRecvNewMessage", 0, isText));
  if (!isMessage(got)) throw new Error("OnRecvNewMessage without a message");
  out.received = describe({ sessionID: "", userID: bID, platformID: 5, id: 0, event: "OnRecvNewMessage", data: got });

  // A refusal is typed as the Problem component.
  const again = await a.POST("/v1/friend/add_friend", { body: { toUserID: bID } });
  out.refused = again.error === undefined ? null : { status: again.error.status, errCode: again.error.errCode };
  console.log(JSON.stringify(out));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
