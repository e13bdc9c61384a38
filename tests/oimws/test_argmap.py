"""Positional oimws arguments -> registry parameter models; coverage of the registry and the client."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, Field

from bridge.oimws import argmap
from bridge.oimws.argmap import WHOLE, ArgumentError, Bound, bind, pos, resolve, unmapped
from bridge.oimws.catalog import CLIENT_SIDE, OPEN_IM_SDK_NAMES, SESSION_NAMES
from core.registry import SdkFunction, all_functions

# open-im-sdk 3.5.2 names the bridge does not answer yet, and why. Names must leave this
# list as core's registry grows (the coverage test below fails on one that is answered).
NOT_YET: dict[str, str] = {}


def test_every_registry_function_has_an_oimws_mapping() -> None:
    missing = unmapped(all_functions())
    assert not missing, (
        f"registry functions without an oimws argument mapping: {missing}. Add a line per function to "
        "bridge/oimws/argmap.py TABLE: pos('field1', 'field2', ...) in the Go SDK's argument order "
        "(open-im-sdk src/api/*.ts shows what the client sends), or WHOLE when the one argument is the object."
    )


def test_table_entries_fit_their_registry_models() -> None:
    functions = all_functions()
    problems = []
    for name, spec in argmap.TABLE.items():
        bound = resolve(name, functions)
        if bound is None:
            continue  # not in the registry yet
        fields = bound.fn.params.model_fields
        unknown = [f for f in spec.fields if f not in fields]
        if unknown:
            problems.append(f"{name}: {unknown} are not fields of {bound.fn.params.__name__} ({list(fields)})")
        required = [f for f, info in fields.items() if info.is_required()]
        if not spec.whole and (left := [f for f in required if f not in spec.fields]):
            problems.append(f"{name}: required {left} cannot be given positionally")
    assert not problems, "\n".join(problems)


def test_open_im_sdk_names_are_answered_or_listed_with_a_reason() -> None:
    functions = all_functions()
    unanswered = [
        n
        for n in OPEN_IM_SDK_NAMES
        if n not in SESSION_NAMES and n not in CLIENT_SIDE and resolve(n, functions) is None
    ]
    report = "\n".join(f"  {n}: {NOT_YET.get(n, 'NO REASON GIVEN')}" for n in unanswered)
    print(f"open-im-sdk 3.5.2 names not answered by the bridge ({len(unanswered)}):\n{report}")
    assert all(n in NOT_YET for n in unanswered), report
    answered_now = sorted(set(NOT_YET) - set(unanswered))
    assert not answered_now, f"answered now: take {answered_now} off NOT_YET"
    assert set(NOT_YET) <= set(OPEN_IM_SDK_NAMES)


# -- binding, against a model of our own (independent of core's modules) ---------


class _Elem(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    groupID: str = Field(min_length=1)
    userIDList: list[str] = Field(default_factory=list)
    picture: _Elem | None = None
    count: int = 0
    isMute: bool = False


def _fn(name: str) -> SdkFunction:
    """A registry entry with our model (built from a real one, so new SdkFunction fields need no change here)."""
    return dataclasses.replace(all_functions()["GetLoginUserID"], name=name, params=_Params)


def _bound(spec: argmap.ArgSpec) -> Bound:
    return Bound("Fn", _fn("Fn"), spec)


def _bind(spec: argmap.ArgSpec, *args: Any) -> dict[str, Any]:
    return bind(_bound(spec), list(args)).model_dump()


SPEC = pos("groupID", "userIDList", "picture", "count", "isMute")


def test_positional_arguments_decode_json_text_for_structured_fields() -> None:
    got = _bind(SPEC, "g1", json.dumps(["a", "b"]), json.dumps({"url": "http://x"}), 3.0, True)
    assert got == {
        "groupID": "g1",
        "userIDList": ["a", "b"],
        "picture": {"url": "http://x"},
        "count": 3,
        "isMute": True,
    }
    # Already-decoded values are fine too.
    assert _bind(SPEC, "g1", ["a"])["userIDList"] == ["a"]


def test_trailing_null_and_empty_structured_arguments_take_defaults() -> None:
    assert _bind(SPEC, "g1") == {"groupID": "g1", "userIDList": [], "picture": None, "count": 0, "isMute": False}
    # JS `undefined` in an array becomes null; JSON.stringify(undefined) ?? '' becomes "".
    assert _bind(SPEC, "g1", None, "", None)["picture"] is None


def test_objects_drop_unknown_keys_at_any_depth_like_go_json() -> None:
    obj = {"groupID": "g1", "count": 2, "lastMinSeq": 7, "picture": {"url": "u", "width": 3}}
    assert _bind(WHOLE, json.dumps(obj)) == {
        "groupID": "g1",
        "userIDList": [],
        "picture": {"url": "u"},
        "count": 2,
        "isMute": False,
    }
    assert _bind(WHOLE, obj)["groupID"] == "g1"
    assert _bind(SPEC, "g1", None, json.dumps({"url": "u", "size": 1}))["picture"] == {"url": "u"}


@pytest.mark.parametrize(
    ("spec", "args", "words"),
    [
        (SPEC, ["g", [], None, 1, False, "x"], "Fn takes at most 5 argument(s) (groupID, userIDList"),
        (SPEC, [], "argument 1 (groupID): Field required"),
        (SPEC, [5], "argument 1 (groupID): Input should be a valid string"),
        (SPEC, ["g", "[a"], "argument 2 (userIDList) is not valid JSON text"),
        (SPEC, ["g", "[]", json.dumps({"url": 1})], "argument 3 (picture.url)"),
        (SPEC, ["g", "[]", None, 1.5], "argument 4 (count)"),
        (WHOLE, ["{}"], "argument 1 (params object) field groupID: Field required"),
        (WHOLE, [json.dumps([1])], "argument 1 (params object) must be a JSON object"),
        (WHOLE, ["{}", "{}"], "at most 1 argument(s) (params object)"),
    ],
)
def test_bad_arguments_are_named(spec: argmap.ArgSpec, args: list[Any], words: str) -> None:
    with pytest.raises(ArgumentError) as info:
        bind(_bound(spec), args)
    assert words in str(info.value)


def test_aliases_resolve_to_their_target_when_the_name_is_not_registered() -> None:
    fn = _fn("SendMessage")
    table = {"SendMessageNotOss": pos("groupID", target="SendMessage")}
    bound = resolve("SendMessageNotOss", {"SendMessage": fn}, table)
    assert bound is not None and bound.fn is fn and bound.name == "SendMessageNotOss"
    assert resolve("Nope", {"SendMessage": fn}, table) is None
    # A registered function with fields but without an entry is not callable, and is reported.
    assert resolve("SendMessage", {"SendMessage": fn}, {}) is None
    assert unmapped({"SendMessage": fn}, {}) == ["SendMessage"]
