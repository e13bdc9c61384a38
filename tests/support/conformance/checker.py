"""Check one request (or one read of an answer) against its protobuf message.

JSON bodies are checked as open-im-server decodes them: encoding/json into the
protoc-gen-go struct (openimsdk/tools a2r/api2rpc.go, utils/jsonutil), whose
`json:"<name>,omitempty"` tags are the .proto field names. So:
- a key must be a field name exactly (Go also takes a key that differs only in
  case, but silently drops any other; both are reported here);
- integers are JSON numbers without a fraction, in the field's range (int64 too:
  no strings, as protojson would write); bool is true/false; enums are numbers;
  bytes are standard base64; repeated is an array, map an object, a message an
  object; null is "not set" (Go leaves the zero value);
- openim.protobuf wrappers (StringValue, Int32Value, ...) are the bare value
  (their own UnmarshalJSON: openimsdk/protocol wrapperspb/wrapperspb.go);
- a real oneof cannot be decoded at all (an interface field): any key of one fails.
Then the message's Check() rules (required.py) apply.

Gateway payloads are protobuf bytes (proto.Unmarshal in
internal/msggateway/message_handler.go): each field number must exist with its
declared wire type, recursively; then the same Check() rules.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
from collections.abc import Iterator
from typing import Any

from google.protobuf import descriptor_pb2
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import DecodeError, Message
from google.protobuf.message_factory import GetMessageClass
from google.protobuf.unknown_fields import UnknownFieldSet

from tests.support.conformance.required import OLDER_SERVER, RULES

__all__ = [
    "RULE_SYNTAX",
    "WRAPPER_PACKAGE",
    "check_json",
    "check_proto",
    "check_rules",
    "fields_of",
    "is_map",
    "message_of",
    "proto_to_tree",
]

WRAPPER_PACKAGE = "openim.protobuf"
Problem = tuple[str, str]  # (path, what is wrong)

_T = FieldDescriptor
_INT_RANGES: dict[int, tuple[int, int]] = {
    _T.TYPE_INT32: (-(1 << 31), (1 << 31) - 1),
    _T.TYPE_SINT32: (-(1 << 31), (1 << 31) - 1),
    _T.TYPE_SFIXED32: (-(1 << 31), (1 << 31) - 1),
    _T.TYPE_ENUM: (-(1 << 31), (1 << 31) - 1),
    _T.TYPE_INT64: (-(1 << 63), (1 << 63) - 1),
    _T.TYPE_SINT64: (-(1 << 63), (1 << 63) - 1),
    _T.TYPE_SFIXED64: (-(1 << 63), (1 << 63) - 1),
    _T.TYPE_UINT32: (0, (1 << 32) - 1),
    _T.TYPE_FIXED32: (0, (1 << 32) - 1),
    _T.TYPE_UINT64: (0, (1 << 64) - 1),
    _T.TYPE_FIXED64: (0, (1 << 64) - 1),
}
_TYPE_NAMES = {
    getattr(_T, name): name[5:].lower() for name in dir(_T) if name.startswith("TYPE_") and name != "TYPE_GROUP"
}
# Wire type of each field type when not packed (protobuf encoding spec).
_WIRE = {t: 0 for t in _INT_RANGES} | {
    _T.TYPE_BOOL: 0,
    _T.TYPE_FIXED64: 1,
    _T.TYPE_SFIXED64: 1,
    _T.TYPE_DOUBLE: 1,
    _T.TYPE_FIXED32: 5,
    _T.TYPE_SFIXED32: 5,
    _T.TYPE_FLOAT: 5,
    _T.TYPE_STRING: 2,
    _T.TYPE_BYTES: 2,
    _T.TYPE_MESSAGE: 2,
}


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


@functools.cache
def fields_of(desc: Descriptor) -> dict[str, FieldDescriptor]:
    """`desc.fields_by_name` as a plain dict (upb builds a new mapping on every access)."""
    return dict(desc.fields_by_name)


@functools.cache
def _folded(desc: Descriptor) -> dict[str, str]:
    return {name.lower(): name for name in fields_of(desc)}


def message_of(field: FieldDescriptor) -> Descriptor:
    """The message type of a message-typed field."""
    if field.message_type is None:
        raise TypeError(f"{field.full_name} is not a message field")
    return field.message_type


def _type_name(field: FieldDescriptor) -> str:
    if field.type == _T.TYPE_MESSAGE:
        return message_of(field).full_name
    return _TYPE_NAMES.get(field.type, str(field.type))


@functools.cache
def is_map(field: FieldDescriptor) -> bool:
    return field.type == _T.TYPE_MESSAGE and message_of(field).GetOptions().map_entry


def _is_wrapper(desc: Descriptor) -> bool:
    return desc.full_name.startswith(WRAPPER_PACKAGE + ".")


@functools.cache
def _proto3_optional(message: Descriptor) -> frozenset[str]:
    """Fields declared `optional` in proto3: their synthetic oneof is a Go pointer, not an interface."""
    proto = descriptor_pb2.DescriptorProto()
    message.CopyToProto(proto)
    return frozenset(f.name for f in proto.field if f.proto3_optional)


def _real_oneof(field: FieldDescriptor) -> bool:
    return field.containing_oneof is not None and field.name not in _proto3_optional(field.containing_type)


def _scalar_problem(ftype: int, value: Any) -> str | None:
    """Why encoding/json would refuse `value` for a scalar of this type, or None."""
    if ftype in _INT_RANGES:
        if isinstance(value, bool) or not isinstance(value, int):
            return f"is {_json_type(value)}, must be an integer number"
        lo, hi = _INT_RANGES[ftype]
        return None if lo <= value <= hi else f"{value} is out of range {lo}..{hi}"
    if ftype in (_T.TYPE_DOUBLE, _T.TYPE_FLOAT):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return None if ok else f"is {_json_type(value)}, must be a number"
    if ftype == _T.TYPE_BOOL:
        return None if isinstance(value, bool) else f"is {_json_type(value)}, must be true or false"
    if ftype == _T.TYPE_STRING:
        return None if isinstance(value, str) else f"is {_json_type(value)}, must be a string"
    if ftype == _T.TYPE_BYTES:
        if not isinstance(value, str):
            return f"is {_json_type(value)}, must be a base64 string"
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            return "is not standard base64"
        return None
    return f"has unsupported field type {ftype}"


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number with a fraction" if not value.is_integer() else f"the float {value!r}"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _check_value(field: FieldDescriptor, value: Any, path: str) -> Iterator[Problem]:
    """One element (not a list) of `field`."""
    if field.type != _T.TYPE_MESSAGE:
        problem = _scalar_problem(field.type, value)
        if problem:
            yield path, f"{problem} ({_type_name(field)})"
        return
    desc = message_of(field)
    if _is_wrapper(desc):
        problem = _scalar_problem(fields_of(desc)["value"].type, value)
        if problem:
            yield path, f"{problem} ({desc.full_name} is its bare value in JSON)"
        return
    if not isinstance(value, dict):
        yield path, f"is {_json_type(value)}, must be an object ({desc.full_name})"
        return
    yield from check_json(desc, value, path, rules=False)


def _check_field(field: FieldDescriptor, value: Any, path: str) -> Iterator[Problem]:
    if value is None:
        return  # Go: null leaves the field unset
    if _real_oneof(field):
        oneof = field.containing_oneof.name if field.containing_oneof else "?"
        yield path, f"is in oneof {oneof}, which encoding/json cannot decode"
        return
    if is_map(field):
        if not isinstance(value, dict):
            yield path, f"is {_json_type(value)}, must be an object (map)"
            return
        entry = fields_of(message_of(field))
        key_f, val_f = entry["key"], entry["value"]
        for key, item in value.items():
            if key_f.type != _T.TYPE_STRING and not re.fullmatch(r"-?[0-9]+", key):
                yield _join(path, key), f"map key must be a decimal {_type_name(key_f)}"
            if item is None:
                continue
            yield from _check_value(val_f, item, _join(path, key))
        return
    if field.is_repeated:
        if not isinstance(value, list):
            yield path, f"is {_json_type(value)}, must be an array of {_type_name(field)}"
            return
        for i, item in enumerate(value):
            if item is None:
                yield f"{path}[{i}]", "is null inside an array"
                continue
            yield from _check_value(field, item, f"{path}[{i}]")
        return
    yield from _check_value(field, value, path)


def check_json(desc: Descriptor, body: Any, path: str = "", rules: bool = True) -> Iterator[Problem]:
    """Every problem of a decoded JSON object against message `desc` (and its Check() rules)."""
    if body is None:
        return
    if not isinstance(body, dict):
        yield path or "(body)", f"is {_json_type(body)}, must be an object ({desc.full_name})"
        return
    fields, folded = fields_of(desc), _folded(desc)
    older = OLDER_SERVER.get(desc.full_name, ())
    for key, value in body.items():
        field = fields.get(key)
        if field is None:
            near = folded.get(str(key).lower())
            if near is not None:
                yield _join(path, key), f"differs from field {near!r} of {desc.full_name} in case only"
            else:
                yield _join(path, key), f"is not a field of {desc.full_name}"
            continue
        yield from _check_field(field, value, _join(path, key))
        if key in older and value not in (None, "", 0, False, [], {}):
            yield (
                _join(path, key),
                (f"is not in {desc.full_name} of protocol v0.0.72-alpha.71: open-im-server v3.8.3 ignores it"),
            )
    if rules:
        yield from check_rules(desc.full_name, body, path)


# -- Check() rules ----------------------------------------------------------------

RULE_SYNTAX = re.compile(
    r"^(?:if (?P<cpath>[\w.]+) == (?P<cval>-?\d+): )?"
    r"(?P<path>[\w.|]+)(?P<suffix>\[\]|\[\*\])?"
    r"(?: (?P<op>in|>=|==|<=|!=) (?P<lo>-?\d+)(?:\.\.(?P<hi>-?\d+))?)?$"
)


def _get(tree: Any, path: str) -> Any:
    for part in path.split("."):
        tree = tree.get(part) if isinstance(tree, dict) else None
    return tree


def _number(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _zero(value: Any) -> bool:
    """Go's zero for the comparisons Check() makes (a list or message only when nil)."""
    return value is None or value == "" or value is False or (isinstance(value, int | float) and value == 0)


def _rule_problem(rule: str, body: Any) -> str | None:
    m = RULE_SYNTAX.match(rule)
    if m is None:
        raise ValueError(f"bad rule {rule!r}")
    if m["cpath"] and _number(_get(body, m["cpath"])) != int(m["cval"]):
        return None
    path, suffix, op = m["path"], m["suffix"], m["op"]
    if "|" in path:
        return None if any(not _zero(_get(body, p)) for p in path.split("|")) else "all are empty"
    value = _get(body, path)
    if suffix == "[*]":
        items = value if isinstance(value, list) else []
        return "has a 0 element" if any(_number(v) == 0 for v in items) else None
    if suffix == "[]":
        size = len(value) if isinstance(value, list | str) else 0
        if op == "<=":
            return None if size <= int(m["lo"]) else f"has {size} elements, at most {m['lo']} allowed"
        return None if size else "is empty"
    if op is None:
        return "is empty" if _zero(value) else None
    if value is not None and _number(value) != value:
        return None  # not an integer: its type problem is reported already
    n, lo = _number(value), int(m["lo"])
    if op == "in":
        hi = int(m["hi"])
        return None if lo <= n <= hi else f"is {n}, must be in {lo}..{hi}"
    if op == ">=":
        return None if n >= lo else f"is {n}, must be >= {lo}"
    if op == "==":
        return None if n == lo else f"is {n}, must be {lo}"
    raise ValueError(f"bad rule {rule!r}")


def check_rules(message: str, body: Any, path: str = "") -> Iterator[Problem]:
    for rule in RULES.get(message, ()):
        problem = _rule_problem(rule, body)
        if problem:
            target = RULE_SYNTAX.match(rule)["path"]  # type: ignore[index]
            yield _join(path, target), f"{problem}: the server's Check() refuses it ({rule!r})"


# -- protobuf payloads ------------------------------------------------------------


def _unknown(msg: Message, path: str) -> Iterator[Problem]:
    desc: Descriptor = msg.DESCRIPTOR  # type: ignore[assignment]  # the upb class has the same API
    unknown = UnknownFieldSet(msg)
    for i in range(len(unknown)):
        item = unknown[i]
        field: FieldDescriptor | None = desc.fields_by_number.get(item.field_number)
        where = _join(path, f"#{item.field_number}")
        if field is None:
            yield where, f"field number {item.field_number} is not in {desc.full_name}"
        else:
            yield (
                _join(path, field.name),
                (
                    f"sent with wire type {item.wire_type}; {desc.full_name}.{field.name} is {_type_name(field)}"
                    f" (wire type {_WIRE.get(field.type)})"
                ),
            )
    for field, value in msg.ListFields():
        if field.type != _T.TYPE_MESSAGE or is_map(field):
            if is_map(field) and fields_of(message_of(field))["value"].type == _T.TYPE_MESSAGE:
                for key, entry in value.items():
                    yield from _unknown(entry, _join(path, f"{field.name}[{key}]"))
            continue
        items = value if field.is_repeated else [value]
        for i, sub_msg in enumerate(items):
            sub = f"{field.name}[{i}]" if field.is_repeated else field.name
            yield from _unknown(sub_msg, _join(path, sub))


def proto_to_tree(msg: Message) -> dict[str, Any]:
    """Set fields as a dict (proto3: zero values and empty lists are absent, as Go sees them)."""
    out: dict[str, Any] = {}
    for field, value in msg.ListFields():
        if is_map(field):
            out[field.name] = {k: proto_to_tree(v) if isinstance(v, Message) else v for k, v in value.items()}
        elif field.is_repeated:
            out[field.name] = [proto_to_tree(v) if isinstance(v, Message) else v for v in value]
        elif field.type == _T.TYPE_MESSAGE:
            out[field.name] = proto_to_tree(value)
        else:
            out[field.name] = value
    return out


def check_proto(desc: Descriptor, data: bytes) -> Iterator[Problem]:
    """Problems of a protobuf payload meant as message `desc`."""
    msg = GetMessageClass(desc)()
    try:
        msg.ParseFromString(data)
    except DecodeError as exc:
        yield "(payload)", f"does not parse as {desc.full_name}: {exc}"
        return
    yield from _unknown(msg, "")
    yield from check_rules(desc.full_name, proto_to_tree(msg))
