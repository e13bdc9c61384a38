"""The protobuf schema of the real server, read from the official web SDK's wasm build.

`@openim/wasm-client-sdk` 3.8.5 (installed in tests/interop by
scripts/install-interop.sh) ships `assets/openIM.wasm`: openim-sdk-core compiled
with Go, linking openimsdk/protocol v0.0.73-alpha.12. protoc-gen-go registers each
.proto with its serialized FileDescriptorProto (`file_<name>_proto_rawDesc`),
which lands verbatim in the wasm data section. We find every
descriptor whose file name is `<dir>/<dir>.proto` or wrapperspb's, cut it out by
walking protobuf wire format, and load them into a python-protobuf DescriptorPool.

Why not the npm `@openim/protocol` package: it is an older snapshot of the
messages (issue 13). Parsed once per process (`load_pool` is cached).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

from google.protobuf import descriptor_pb2, descriptor_pool

__all__ = ["WASM_PATH", "Schema", "WasmSchemaError", "extract_file_descriptors", "load_schema", "schema_problem"]

WASM_PATH = (
    Path(__file__).resolve().parents[2] / "interop" / "node_modules" / "@openim" / "wasm-client-sdk" / "assets"
) / "openIM.wasm"

# The protocol packages we check against (openimsdk/protocol's own), by their proto package.
OPENIM_PACKAGE = "openim."
EXPECTED_PROTOCOL = b"openimsdk/protocol@v0.0.73-alpha.12"

# A FileDescriptorProto starts with field 1 (name, LEN) and then field 2 (package, LEN).
_START = re.compile(rb"\x0a([\x01-\x7f])([A-Za-z0-9_/.\-]{1,127}?\.proto)\x12")
# FileDescriptorProto fields and their wire types (descriptor.proto): 0 varint, 2 LEN.
_FILE_FIELDS = {1: 2, 2: 2, 3: 2, 4: 2, 5: 2, 6: 2, 7: 2, 8: 2, 9: 2, 10: 0, 11: 0, 12: 2, 13: 2, 14: 0}
_SYNTAX = 12


class WasmSchemaError(Exception):
    """The wasm file is missing or does not hold the expected descriptors."""


def _varint(blob: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(blob) or shift > 63:
            raise ValueError("truncated varint")
        byte = blob[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def _descriptor_end(blob: bytes, start: int) -> int:
    """Offset just past the FileDescriptorProto that begins at `start`.

    protoc writes fields in number order and proto3 files end with `syntax` (12);
    the first tag out of order or of the wrong wire type is the next datum.
    """
    pos, last = start, 0
    while pos < len(blob):
        try:
            tag, body = _varint(blob, pos)
        except ValueError:
            break
        number, wire = tag >> 3, tag & 7
        if _FILE_FIELDS.get(number) != wire or number < last:
            break
        if wire == 0:
            _, after = _varint(blob, body)
        else:
            size, data = _varint(blob, body)
            after = data + size
            if after > len(blob):
                break
        pos, last = after, number
        if number == _SYNTAX and blob[data:after] != b"editions":
            break  # nothing follows the syntax of a proto2/proto3 file
    return pos


def extract_file_descriptors(blob: bytes) -> dict[str, descriptor_pb2.FileDescriptorProto]:
    """Every FileDescriptorProto of an openim package embedded in `blob`, by file name."""
    found: dict[str, descriptor_pb2.FileDescriptorProto] = {}
    for match in _START.finditer(blob):
        if match.group(1)[0] != len(match.group(2)):
            continue
        raw = blob[match.start() : _descriptor_end(blob, match.start())]
        fdp = descriptor_pb2.FileDescriptorProto()
        try:
            fdp.ParseFromString(raw)
        except Exception:  # a lookalike of a descriptor: not one
            continue
        if fdp.package.startswith(OPENIM_PACKAGE) and fdp.message_type:
            found.setdefault(fdp.name, fdp)
    return found


@dataclass(frozen=True, slots=True)
class Schema:
    pool: descriptor_pool.DescriptorPool
    files: dict[str, descriptor_pb2.FileDescriptorProto]


def _add_in_order(pool: descriptor_pool.DescriptorPool, files: dict[str, descriptor_pb2.FileDescriptorProto]) -> None:
    added: set[str] = set()

    def add(name: str, chain: tuple[str, ...]) -> None:
        if name in added:
            return
        if name not in files:
            raise WasmSchemaError(f"{chain[-1]} imports {name}, which the wasm does not embed")
        for dep in files[name].dependency:
            add(dep, (*chain, name))
        pool.Add(files[name])
        added.add(name)

    for name in sorted(files):
        add(name, (name,))


@functools.cache
def load_schema(path: Path = WASM_PATH) -> Schema:
    """The descriptors embedded in the wasm, loaded into their own pool (cached per process)."""
    try:
        blob = path.read_bytes()
    except OSError as exc:
        raise WasmSchemaError(f"{path}: {exc.strerror}") from exc
    if EXPECTED_PROTOCOL not in blob:
        raise WasmSchemaError(f"{path} was not built against {EXPECTED_PROTOCOL.decode()}")
    files = extract_file_descriptors(blob)
    if not files:
        raise WasmSchemaError(f"{path}: no openim protobuf descriptors found")
    pool = descriptor_pool.DescriptorPool()
    _add_in_order(pool, files)
    return Schema(pool, files)


def schema_problem(path: Path = WASM_PATH) -> str | None:
    """Why the schema cannot be loaded here, or None."""
    try:
        load_schema(path)
    except WasmSchemaError as exc:
        return str(exc)
    return None
