"""Per-connection frame codec: gob (sdkType go / empty) or JSON (js), optional gzip.

Pipeline both ways: envelope -> codec -> gzip -> BINARY frame (openim-v3.md 2.3;
open-im-server internal/msggateway/client.go ResetClient, encoder.go, compressor.go).
"""

from __future__ import annotations

from core.protocol import gob
from core.protocol.envelope import (
    EnvelopeError,
    WsReq,
    WsResp,
    decode_json_req,
    encode_json_resp,
    gunzip,
    gzip_bytes,
)
from imserver.gateway.handshake import SdkType

__all__ = ["MAX_INFLATED_FRAME", "FrameCodec"]

# A 51200-byte gzip frame may inflate a lot; OpenIM sets no bound, we refuse past 4 MiB.
MAX_INFLATED_FRAME = 4 << 20


class FrameCodec:
    """Bytes in, envelopes out (and back); raises EnvelopeError on anything undecodable."""

    __slots__ = ("compress", "sdk_type")

    def __init__(self, sdk_type: SdkType, compress: bool) -> None:
        self.sdk_type = sdk_type
        self.compress = compress

    def decode(self, frame: bytes) -> WsReq:
        if self.compress:
            frame = gunzip(frame, limit=MAX_INFLATED_FRAME)
        if self.sdk_type is SdkType.JS:
            return _decode_json(frame)
        try:
            return gob.decode_req(frame)
        except EnvelopeError:
            raise
        except (ValueError, IndexError, UnicodeDecodeError) as exc:  # belt and braces for odd input
            raise EnvelopeError(f"gob: {exc}") from exc

    def encode(self, resp: WsResp) -> bytes:
        raw = encode_json_resp(resp) if self.sdk_type is SdkType.JS else gob.encode_resp(resp)
        return gzip_bytes(raw) if self.compress else raw


def _decode_json(frame: bytes) -> WsReq:
    # JsonEncoder.Decode is json.Unmarshal, which reads invalid UTF-8 as U+FFFD. decode_json_req
    # bounds nesting (far below Go's 10000 levels) and turns every parse error, too deep
    # included, into EnvelopeError: the connection closes, as any decode error closes it in OpenIM.
    return decode_json_req(frame.decode("utf-8", "replace"))
