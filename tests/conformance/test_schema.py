"""The schema read from the wasm SDK, the tables built on it, and core's static wire shapes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from google.protobuf import descriptor_pb2
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from pydantic import BaseModel

from core.models import LocalFriendRequest, LocalGroup, LocalGroupMember, PublicUser
from core.protocol import openim_pb2
from tests.support.conformance.checker import RULE_SYNTAX, message_of
from tests.support.conformance.recorder import Collector
from tests.support.conformance.required import OLDER_SERVER, OLDER_SERVER_RESPONSES, RULES
from tests.support.conformance.routes import CUSTOM, GATEWAY, GATEWAY_RESPONSES, ROUTES
from tests.support.conformance.wasm_descriptors import Schema, WasmSchemaError, extract_file_descriptors, load_schema

# openimsdk/protocol's directories the wasm SDK links (each <dir>/<dir>.proto, package openim.<dir>).
_FILES = {"auth", "conversation", "group", "msg", "push", "relation", "sdkws", "third", "user", "wrapperspb"}


def test_every_protocol_file_is_extracted(schema: Schema) -> None:
    assert {name.split("/")[0] for name in schema.files} == _FILES
    # Fields that only v0.0.73-alpha.12 has, so an older build would show here.
    req = schema.pool.FindMessageTypeByName("openim.msg.GetConversationsHasReadAndMaxSeqReq")
    assert [f.name for f in req.fields] == ["userID", "conversationIDs", "returnPinned"]
    group = schema.pool.FindMessageTypeByName("openim.group.GetGroupApplicationListReq")
    assert group.fields_by_name["handleResults"].number == 4


def test_extraction_stops_at_the_end_of_each_descriptor() -> None:
    first = descriptor_pb2.FileDescriptorProto(name="a/a.proto", package="openim.a", syntax="proto3")
    first.message_type.add(name="M").field.add(name="x", number=1, type=FieldDescriptor.TYPE_STRING)
    second = descriptor_pb2.FileDescriptorProto(name="b/b.proto", package="openim.b", syntax="proto3")
    second.message_type.add(name="N")
    # Go lays string constants end to end; anything may follow a descriptor.
    blob = b"\x00junk" + first.SerializeToString() + b"\x0a\x03zzz" + second.SerializeToString() + b"\x12\x34"
    found = extract_file_descriptors(blob)
    assert found == {"a/a.proto": first, "b/b.proto": second}


def test_a_wasm_of_another_protocol_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "openIM.wasm"
    path.write_bytes(b"\x00asm openimsdk/protocol@v0.0.72-alpha.71 nothing else")
    with pytest.raises(WasmSchemaError, match="not built against"):
        load_schema(path)


def test_every_route_names_a_method_of_the_schema(schema: Schema) -> None:
    collector = Collector(schema)
    for route in ROUTES:
        pair = collector.messages(route)
        assert pair is not None, route
    assert collector.messages("/group/create_group") == (
        schema.pool.FindMessageTypeByName("openim.group.CreateGroupReq"),
        schema.pool.FindMessageTypeByName("openim.group.CreateGroupResp"),
    )


def test_gateway_messages_exist(schema: Schema) -> None:
    for name in [*GATEWAY.values(), *GATEWAY_RESPONSES.values()]:
        schema.pool.FindMessageTypeByName(name)


def _field_at(desc: Descriptor, path: str) -> FieldDescriptor:
    *parents, last = path.split(".")
    for part in parents:
        desc = message_of(desc.fields_by_name[part])
    return desc.fields_by_name[last]


def test_every_rule_names_fields_of_its_message(schema: Schema) -> None:
    for message, rules in RULES.items():
        desc = schema.pool.FindMessageTypeByName(message)
        for rule in rules:
            m = RULE_SYNTAX.match(rule)
            assert m is not None, rule
            for path in [*m["path"].split("|"), *([m["cpath"]] if m["cpath"] else [])]:
                assert _field_at(desc, path), (message, rule)
    for table in (OLDER_SERVER, OLDER_SERVER_RESPONSES):
        for message, names in table.items():
            desc = schema.pool.FindMessageTypeByName(message)
            assert set(names) <= set(desc.fields_by_name), message


def _wasm_message(schema: Schema, name: str) -> Descriptor:
    """The protocol message core's openim.proto copies (it flattens sdkws, msg and push into one package)."""
    for package in ("sdkws", "msg", "push"):
        try:
            return schema.pool.FindMessageTypeByName(f"openim.{package}.{name}")
        except KeyError:
            continue
    raise AssertionError(f"core/protocol/openim.proto has {name}, which openimsdk/protocol does not")


def _short_type(field: FieldDescriptor) -> str:
    if field.message_type is not None:
        return field.message_type.name
    if field.enum_type is not None:
        return field.enum_type.name
    return str(field.type)


def test_core_gateway_messages_match_the_protocol(schema: Schema) -> None:
    """Core decodes answers and pushes with openim_pb2: each of its fields must be the protocol's."""
    problems = []
    for name, desc in openim_pb2.DESCRIPTOR.message_types_by_name.items():
        theirs = _wasm_message(schema, name)
        for field in desc.fields:
            other = theirs.fields_by_number.get(field.number)
            if other is None:
                problems.append(f"{name}.{field.name} = {field.number}: no such field in {theirs.full_name}")
                continue
            ours_shape = (field.name, _short_type(field), field.is_repeated)
            their_shape = (other.name, _short_type(other), other.is_repeated)
            if ours_shape != their_shape:
                problems.append(f"{name}.{field.number}: core {ours_shape}, protocol {their_shape}")
    assert problems == []


# Models that core fills with model_validate from an answer object: every field is a
# key read from that message (answer reads elsewhere are checked as they happen).
# attachedInfo is the SDK's local-only column (model_struct), never on the wire.
_MODELS: list[tuple[type[BaseModel], str, set[str]]] = [
    (LocalGroup, "openim.sdkws.GroupInfo", {"attachedInfo"}),
    (LocalGroupMember, "openim.sdkws.GroupMemberFullInfo", {"attachedInfo"}),
    (LocalFriendRequest, "openim.sdkws.FriendRequest", {"attachedInfo"}),
    (PublicUser, "openim.sdkws.UserInfo", set()),
]


@pytest.mark.parametrize(("model", "message", "local"), _MODELS, ids=lambda v: getattr(v, "__name__", str(v)))
def test_models_read_only_fields_of_their_message(
    schema: Schema, model: type[BaseModel], message: str, local: set[str]
) -> None:
    fields = set(schema.pool.FindMessageTypeByName(message).fields_by_name)
    assert set(model.model_fields) - local - fields == set()


def test_route_tables_are_disjoint_and_well_formed() -> None:
    assert not set(ROUTES) & set(CUSTOM)
    assert all(re.fullmatch(r"(/[a-z_A-Z]+)+", route) for route in ROUTES)
    assert all(re.fullmatch(r"\w+\.\w+/\w+", target) for target in ROUTES.values())
