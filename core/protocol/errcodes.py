"""OpenIM error codes: server codes (HTTP/WS errCode) and SDK-local codes.

Source: openimsdk/tools errs/predefine.go, open-im-server pkg/common/servererrs/code.go,
openim-sdk-core pkg/sdkerrs/code.go (shared/reference/openim-v3.md 4.6).
The enum member name is OpenIM's errMsg string for that code.
"""

from __future__ import annotations

from enum import IntEnum

__all__ = ["TOKEN_ERRORS", "ErrCode"]


class ErrCode(IntEnum):
    ServerInternalError = 500
    ArgsError = 1001
    NoPermissionError = 1002
    DuplicateKeyError = 1003
    RecordNotFoundError = 1004
    UserIDNotFoundError = 1101
    RegisteredAlreadyError = 1102
    GroupIDNotFoundError = 1201
    GroupIDExisted = 1202
    NotInGroupYetError = 1203
    DismissedAlreadyError = 1204
    GroupTypeNotSupport = 1205
    GroupRequestHandled = 1206
    CanNotAddYourselfError = 1301
    BlockedByPeer = 1302
    NotPeersFriend = 1303
    RelationshipAlreadyError = 1304
    FriendRequestHandled = 1305
    MessageHasReadDisable = 1401
    MutedInGroup = 1402
    MutedGroup = 1403
    MsgAlreadyRevoke = 1404
    TokenExpiredError = 1501
    TokenInvalidError = 1502
    TokenMalformedError = 1503
    TokenNotValidYetError = 1504
    TokenUnknownError = 1505
    TokenKickedError = 1506
    TokenNotExistError = 1507
    ConnOverMaxNumLimit = 1601
    ConnArgsErr = 1602
    # SDK-local codes
    NetworkError = 10000
    NetworkTimeoutError = 10001
    SdkArgsError = 10002
    CtxDeadlineExceededError = 10003
    ResourceLoadNotCompleteError = 10004
    UnknownCode = 10005
    SdkInternalError = 10006
    NoUpdateError = 10007
    SdkUserIDNotFoundError = 10100
    LoginOutError = 10101
    LoginRepeatError = 10102
    # Bridge-local (not in openim-sdk-core pkg/sdkerrs/code.go): a request whose
    # gateway frame would exceed the server's read limit, refused before sending.
    MsgTooLargeError = 10299


TOKEN_ERRORS = frozenset(range(1501, 1508))
