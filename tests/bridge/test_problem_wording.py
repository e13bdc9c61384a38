"""4xx problem+json answers name the field or the problem in a sentence (issue 16)."""

from __future__ import annotations

from tests.support.stack import Stack


async def test_bad_input_is_named(stack: Stack) -> None:
    (u,) = await stack.new_users(1, "pw")
    user = await stack.login(u)
    cases = [
        ("/v1/login", b'{"userID": "x",', "the body is not valid JSON: ", []),
        ("/v1/login", b'{"userID": "x", "token": "t"}', "platformID: Field required", ["platformID"]),
        ("/v1/friend/add_friend", b'{"toUserID": 5}', "toUserID: Input should be a valid string", ["toUserID"]),
        ("/v1/friend/add_friend", b'{"toUserID": "a", "bogus": 1}', "bogus: Extra inputs are not permitted", ["bogus"]),
    ]
    for path, body, detail, fields in cases:
        r = await stack.http.post(
            f"{stack.bridge.url}{path}", content=body, headers={**user.auth, "Content-Type": "application/json"}
        )
        problem = r.json()
        assert r.status_code == 400 and r.headers["content-type"] == "application/problem+json", r.text
        assert problem["detail"].startswith(detail) and problem["fields"] == fields, problem
    r = await stack.http.post(f"{stack.bridge.url}/v1/nope", json={}, headers=user.auth)
    assert r.status_code == 404 and r.json()["detail"] == "no such endpoint: POST /v1/nope", r.text
    r = await stack.http.get(f"{stack.bridge.url}/v1/friend/add_friend", headers=user.auth)
    assert r.status_code == 405 and r.headers["allow"] == "POST", r.headers
    assert r.json()["detail"] == "GET is not allowed on /v1/friend/add_friend; allowed: POST", r.text
    r = await stack.http.request("OPTIONS", f"{stack.bridge.url}/v1/session/webhook", headers=user.auth)
    assert r.status_code == 405 and r.headers["allow"] == "DELETE, PUT", r.headers  # both routes of the path
