#!/usr/bin/env bash
# Two users end to end with curl and jq: register, log in (alice as Web, bob as a
# mini-program), befriend, accept, chat, read receipt. Each step waits for the event
# that proves it (read-your-writes: the event, not the 200, says the other side knows).
#
#   ./run &    # prints the embedded imserver's admin secret
#   BRIDGE=http://127.0.0.1:10008 IMAPI=http://127.0.0.1:10002 SECRET=<admin secret> examples/walkthrough.sh
#
# Against a real OpenIM server, IMAPI is its API (10002) and SECRET its share.yml secret.
set -euo pipefail

BRIDGE=${BRIDGE:-http://127.0.0.1:10008}
IMAPI=${IMAPI:-http://127.0.0.1:10002}
SECRET=${SECRET:?set SECRET to the imserver/OpenIM admin secret}
A=${ALICE:-alice$RANDOM}
B=${BOB:-bob$RANDOM}

say() { printf '\n== %s\n' "$*" >&2; }
# OpenIM's own API (admin side): every call needs an operationID header.
im() { curl -sf -XPOST "$IMAPI$1" -H "operationID: walk-$RANDOM" -H "token: ${ADMIN:-}" -d "$2"; }
# The bridge: $1 session token, $2 path, $3 body.
call() {
  local out
  out=$(curl -s -XPOST "$BRIDGE$2" -H "Authorization: Bearer $1" -H "operationID: walk-$RANDOM" -d "${3:-{\}}")
  if [ "$(jq -r '.status // 200' <<<"$out")" != 200 ]; then echo "$2 failed: $out" >&2; exit 1; fi
  jq -c .data <<<"$out"
}
# Long-poll until an event named $2 (whose data matches the jq test $3) arrives for
# session token $1; prints its data. Each session's cursor is kept in a file (the
# calls run in subshells), so no event is read twice.
CURSORS=$(mktemp -d)
trap 'rm -rf "$CURSORS"' EXIT
wait_event() {
  local file="$CURSORS/$(printf %s "$1" | md5sum | cut -c1-16)" after deadline=$((SECONDS + 30)) page hit
  after=$(cat "$file" 2>/dev/null || echo 0)
  while [ $SECONDS -lt $deadline ]; do
    page=$(curl -sf "$BRIDGE/v1/events/poll?after=$after&wait=10" -H "Authorization: Bearer $1")
    hit=$(jq -c --arg e "$2" "first(.data.events[] | select(.event == \$e and (.data.data | ${3:-true}))) // empty" \
      <<<"$page")
    if [ -n "$hit" ]; then
      jq -r .id <<<"$hit" >"$file"
      jq -c .data.data <<<"$hit"
      return 0
    fi
    after=$(jq -r .data.lastEventID <<<"$page")
    echo "$after" >"$file"
  done
  echo "no $2 within 30 s" >&2
  exit 1
}

say "admin token, register $A and $B, one OpenIM token per user and platform"
ADMIN=$(im /auth/get_admin_token "{\"secret\":\"$SECRET\",\"userID\":\"imAdmin\"}" | jq -r .data.token)
im /user/user_register "{\"users\":[{\"userID\":\"$A\",\"nickname\":\"Alice\"},{\"userID\":\"$B\",\"nickname\":\"Bob\"}]}" >/dev/null
# platformID: 5 = Web, 6 = MiniWeb (mini-programs). A token is valid for its platform only.
TA=$(im /auth/get_user_token "{\"userID\":\"$A\",\"platformID\":5}" | jq -r .data.token)
TB=$(im /auth/get_user_token "{\"userID\":\"$B\",\"platformID\":6}" | jq -r .data.token)

say "log in to the bridge"
SA=$(curl -sf -XPOST "$BRIDGE/v1/login" -d "{\"userID\":\"$A\",\"token\":\"$TA\",\"platformID\":5}" | jq -r .data.sessionToken)
SB=$(curl -sf -XPOST "$BRIDGE/v1/login" -d "{\"userID\":\"$B\",\"token\":\"$TB\",\"platformID\":6}" | jq -r .data.sessionToken)
wait_event "$SA" OnSyncServerFinish >/dev/null
wait_event "$SB" OnSyncServerFinish >/dev/null

say "$A asks $B to be friends; $B sees the request"
call "$SA" /v1/friend/add_friend "{\"toUserID\":\"$B\",\"reqMsg\":\"hi, it's Alice\"}" >/dev/null
wait_event "$SB" OnFriendApplicationAdded | jq -r '"request from \(.fromUserID): \(.reqMsg)"'

say "$B accepts; both see the new friend"
call "$SB" /v1/friend/accept_friend_application "{\"toUserID\":\"$A\",\"handleMsg\":\"welcome\"}" >/dev/null
wait_event "$SA" OnFriendAdded | jq -r '"friend added: \(.userID)"'
wait_event "$SB" OnFriendAdded >/dev/null

say "$A sends a text; $B receives it"
MSG=$(call "$SA" /v1/message/create_text_message '{"text":"hello from curl"}')
call "$SA" /v1/message/send_message "{\"message\":$MSG,\"recvID\":\"$B\"}" | jq -r '"sent seq \(.seq)"'
# (The accept itself arrives first as a notification message: wait for the text.)
GOT=$(wait_event "$SB" OnRecvNewMessage '.textElem != null')
jq -r '"received: \(.textElem.content)"' <<<"$GOT"

say "$B marks the chat read; $A gets the read receipt"
CONV=$(call "$SB" /v1/conversation/get_conversation_id_by_session_type "{\"sourceID\":\"$A\",\"sessionType\":1}" | jq -r .)
call "$SB" /v1/message/mark_conversation_message_as_read "{\"conversationID\":\"$CONV\"}" >/dev/null
wait_event "$SA" OnRecvC2CReadReceipt | jq -r '"read receipt for \(.[0].msgIDList | length) message(s)"'

say "friends: $(call "$SA" /v1/friend/get_friend_list | jq -r '[.[].userID] | join(",")')"
call "$SA" /v1/logout >/dev/null
call "$SB" /v1/logout >/dev/null
echo "walkthrough done"
