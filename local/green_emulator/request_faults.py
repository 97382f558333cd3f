"""Whole-request faults, decided after the gateway has authenticated the request and before Green
works on it, plus the answer-lost fault decided after. Every injection is counted as faults.<kind>.

Order: the outage window; gateway flow control (Throttling.User); the QPS limit (a real limit, not
a fault: it ignores fault_operations); then injected 500/503, 588, 596 and body-500 answers.
"""

from __future__ import annotations

import threading

from green_emulator.bodies import image_count
from green_emulator.counters import Counters
from green_emulator.faults import FaultInjector
from green_emulator.gateway import ReceivedRequest, signature_mismatch
from green_emulator.ledger import Ledger
from green_emulator.protocol import ACCESS_KEY_NOT_FOUND, SCAN_OPERATIONS, SERVICE_UNAVAILABLE, USER_FLOW_CONTROL
from green_emulator.replies import Rejection, Reply, envelope

# Throttling.User: the gateway's flow control. Green documents 588 for over-quota; where the POP
# gateway throttles instead, the SDKs see HTTP 400 (some products answer 503): the emulator picks 400.
GATEWAY_THROTTLED = Rejection(400, "Throttling.User", USER_FLOW_CONTROL)
KEYS_REFUSED = Rejection(404, "InvalidAccessKeyId.NotFound", ACCESS_KEY_NOT_FOUND)


class RequestFaults:
    def __init__(self, faults: FaultInjector, counters: Counters, ledger: Ledger | None = None) -> None:
        self._faults = faults
        self._counters = counters
        self._ledger = ledger or Ledger()
        self._injected = threading.local()  # the kind counted for the request this thread is refusing

    def _count(self, kind: str) -> None:
        self._counters.inc("faults", kind)
        self._injected.kind = kind

    def refuse(self, operation: str, request: ReceivedRequest, request_id: str, host_id: str) -> Reply | None:
        """The injected answer for this request, or None to let Green work on it."""
        self._injected.kind = None
        reply = self._refuse(operation, request, request_id, host_id)
        if reply is not None and operation in SCAN_OPERATIONS:
            self._ledger.scan_request_fault(request.body, self._injected.kind or "refused")
        return reply

    def _refuse(self, operation: str, request: ReceivedRequest, request_id: str, host_id: str) -> Reply | None:
        faults = self._faults.current
        targeted = faults.applies_to(operation)
        mode = self._faults.outage() if targeted else ""
        if mode:
            self._count(f"outage_{mode}")
            return self._outage_reply(mode, request, request_id, host_id)
        if targeted and self._faults.chance(faults.gateway_throttle_rate):
            self._count("gateway_throttle")
            return GATEWAY_THROTTLED.reply(request_id, host_id)
        cost = image_count(request.body) if operation in SCAN_OPERATIONS else 1
        if not self._faults.take_token(operation, cost):
            self._count("qps")
            return envelope(588, request_id)
        if not targeted:
            return None
        if self._faults.chance(faults.error_rate):
            return self._server_error("error", request_id, host_id)
        if self._faults.chance(faults.throttle_rate):
            self._count("throttle")
            return envelope(588, request_id)
        if self._faults.chance(faults.permission_deny_rate):
            self._count("permission_deny")
            return envelope(596, request_id)
        if self._faults.chance(faults.general_error_rate):
            self._count("general_error")
            return envelope(500, request_id)
        return None

    def _server_error(self, kind: str, request_id: str, host_id: str) -> Reply:
        """HTTP 500 in Green's envelope, or HTTP 503 from the gateway; error_status picks, 0 draws."""
        status = self._faults.current.error_status or self._faults.pick((500, 503))
        if kind == "error":
            self._count(f"error_{status}")
        if status == 503:
            return Rejection(503, "ServiceUnavailable", SERVICE_UNAVAILABLE).reply(request_id, host_id)
        return envelope(500, request_id, status=500)

    def _outage_reply(self, mode: str, request: ReceivedRequest, request_id: str, host_id: str) -> Reply:
        if mode == "5xx":
            return self._server_error("outage", request_id, host_id)
        if mode == "auth":  # as if the AccessKey had been deleted or disabled
            return KEYS_REFUSED.reply(request_id, host_id)
        if mode == "signature":  # as if the secret had been rotated under the client
            return signature_mismatch(request).reply(request_id, host_id)
        return envelope(int(mode), request_id)  # "588" or "596"

    def lose_answer(self, operation: str, reply: Reply) -> bool:
        """Whether to drop the answer of a scan Green has accepted (tasks created, results kept,
        callbacks sent): the client sees the connection close with no response."""
        faults = self._faults.current
        if operation not in SCAN_OPERATIONS or not faults.applies_to(operation):
            return False
        if reply.status != 200 or reply.body.get("code") != 200:
            return False
        if not self._faults.chance(faults.answer_lost_rate):
            return False
        self._count("answer_lost")
        for item in reply.body.get("data") or []:
            if isinstance(item, dict) and item.get("code") == 200:
                self._ledger.fault(item.get("dataId"), "answer_lost")
        return True
