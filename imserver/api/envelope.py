"""The OpenIM response envelope (openim-v3.md 1.2; tools apiresp/resp.go, gin.go).

`{"errCode","errMsg","errDlt","data"}`, HTTP 200 for every handled request;
`data` is left out when there is nothing to send. errMsg is the code's name.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence

from core.protocol.errcodes import ErrCode
from imserver.errors import ImError
from imserver.services.sdkws import WireModel, go_json_dumps

__all__ = ["Data", "error_body", "success_body"]

# bytes = a protobuf answer, sent like Go's []byte: standard base64 in the JSON envelope.
Data = WireModel | Sequence[WireModel] | bytes | None


def _encode(body: dict[str, object]) -> bytes:
    return go_json_dumps(body).encode()


def success_body(data: Data) -> bytes:
    body: dict[str, object] = {"errCode": 0, "errMsg": "", "errDlt": ""}
    if isinstance(data, WireModel):
        body["data"] = data.model_dump(mode="json")
    elif isinstance(data, bytes):
        body["data"] = base64.b64encode(data).decode()
    elif data is not None:
        body["data"] = [item.model_dump(mode="json") for item in data]
    return _encode(body)


def error_body(error: ImError) -> bytes:
    code = ErrCode(error.code)
    return _encode({"errCode": int(code), "errMsg": code.name, "errDlt": error.detail})
