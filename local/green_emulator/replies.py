"""The two answer shapes: Green's lower-camel envelope and the POP gateway's capitalised error body."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from green_emulator.protocol import CODE_MESSAGES

RECOMMEND = "https://error-center.aliyun.com/status/search?Keyword={code}&source=PopGw"


@dataclass(frozen=True)
class Reply:
    """What the HTTP layer sends. `lost`: send nothing and close the connection (the answer-lost
    fault). `extra_delay`: seconds to hold the answer back (a sync scan's processing time)."""

    status: int
    body: dict[str, Any]
    lost: bool = False
    extra_delay: float = 0.0


@dataclass(frozen=True)
class Rejection:
    """A gateway error: HTTP status plus the capitalised Code and Message."""

    status: int
    code: str
    message: str

    def body(self, request_id: str, host_id: str) -> dict[str, str]:
        return {
            "RequestId": request_id,
            "HostId": host_id,
            "Code": self.code,
            "Message": self.message,
            "Recommend": RECOMMEND.format(code=self.code),
        }

    def reply(self, request_id: str, host_id: str) -> Reply:
        return Reply(self.status, dict(self.body(request_id, host_id)))


def envelope(code: int, request_id: str, *, status: int = 200, msg: str | None = None) -> Reply:
    """Green's own answer without data: {"code", "msg", "requestId"}, HTTP 200 unless told."""
    return Reply(status, {"code": code, "msg": msg or CODE_MESSAGES.get(code, ""), "requestId": request_id})


def ok(request_id: str, data: list[dict[str, Any]]) -> Reply:
    return Reply(200, {"code": 200, "msg": "OK", "requestId": request_id, "data": data})
