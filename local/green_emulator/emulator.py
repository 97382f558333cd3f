"""All the parts, wired together: gateway, request faults, engine, downloads, callbacks, network model.
The HTTP layer (green_emulator.server) calls handle_api() and the admin methods."""

from __future__ import annotations

import dataclasses
import logging
import threading
from typing import Any

from green_emulator.callbacks import CallbackSender
from green_emulator.config import EmulatorConfig, Faults
from green_emulator.counters import Counters
from green_emulator.downloads import Downloader
from green_emulator.engine import Engine
from green_emulator.faults import FaultInjector
from green_emulator.gateway import Account, Gateway, NonceCache, ReceivedRequest
from green_emulator.ids import IdSource
from green_emulator.ledger import Ledger
from green_emulator.network import NetworkModel
from green_emulator.replies import Reply, envelope
from green_emulator.request_faults import RequestFaults
from green_emulator.scheduler import Scheduler

_log = logging.getLogger(__name__)


class Emulator:
    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.stopping = threading.Event()  # releases every wait of the network model at stop
        self.counters = Counters()
        self.ledger = Ledger()
        self.faults = FaultInjector(config.faults, config.fault_seed)
        self.network = NetworkModel(self.faults, self.counters)
        self.ids = IdSource(config.fault_seed)
        self.nonces = NonceCache(config.nonce_ttl, config.max_nonces)
        accounts = [Account(config.access_key_id, config.access_key_secret)]
        if config.sts_access_key_id and config.sts_access_key_secret and config.sts_security_token:
            accounts.append(Account(config.sts_access_key_id, config.sts_access_key_secret, config.sts_security_token))
        self.gateway = Gateway(accounts, nonces=self.nonces, time_window=config.time_window)
        self.request_faults = RequestFaults(self.faults, self.counters, self.ledger)
        self.scheduler = Scheduler()
        self.downloader = Downloader(timeout=config.download_timeout, max_bytes=config.max_image_bytes,
                                     allowed_hosts=config.allowed_hosts, counters=self.counters,
                                     pool_size=config.workers * 2, check_url_expiry=config.check_url_expiry)
        self.callbacks = CallbackSender(uid=config.uid, retries=config.callback_retries,
                                        retry_delay=config.callback_retry_delay, timeout=config.callback_timeout,
                                        allowed_hosts=config.allowed_hosts, workers=config.callback_workers,
                                        faults=self.faults, counters=self.counters, scheduler=self.scheduler,
                                        network=self.network, ledger=self.ledger)
        self.engine = Engine(config, counters=self.counters, faults=self.faults, ids=self.ids,
                             downloader=self.downloader, callbacks=self.callbacks, scheduler=self.scheduler,
                             network=self.network, ledger=self.ledger)

    def handle_api(self, operation: str, request: ReceivedRequest, host_id: str) -> Reply:
        self.counters.inc("calls", operation)
        request_id = self.ids.request_id()
        rejection = self.gateway.check(request)
        if rejection is not None:
            self.counters.inc("gateway_rejections", rejection.code)
            reply = rejection.reply(request_id, host_id)
        else:
            reply = self._authenticated(operation, request, request_id, host_id)
        if reply.lost:
            self.counters.inc("responses", operation, "http", "lost")
        else:
            self.counters.inc("responses", operation, "http", reply.status)
            self.counters.inc("responses", operation, "code", reply.body.get("code", reply.body.get("Code", "")))
        return reply

    def _authenticated(self, operation: str, request: ReceivedRequest, request_id: str, host_id: str) -> Reply:
        injected = self.request_faults.refuse(operation, request, request_id, host_id)
        if injected is not None:
            return injected
        try:
            reply = self.engine.handle(operation, request.body, request_id=request_id, host_id=host_id)
        except Exception:
            _log.exception("%s failed", operation)
            return envelope(500, request_id, status=500)
        if self.request_faults.lose_answer(operation, reply):
            return dataclasses.replace(reply, lost=True)
        if operation in ("scan", "results") and isinstance(reply.body.get("data"), list):
            for item in reply.body["data"]:  # per-task answers that reach the client
                if isinstance(item, dict):
                    self.ledger.handed(item, operation)
        return reply

    def stats(self) -> dict[str, Any]:
        snapshot = self.counters.snapshot()
        snapshot["tasks_stored"] = len(self.engine.tasks)
        snapshot["nonces_stored"] = len(self.nonces)
        snapshot["outage_remaining"] = round(self.faults.outage_remaining(), 3)
        return snapshot

    def data_ids(self) -> dict[str, dict[str, object]]:
        """Per-dataId facts (green_emulator.ledger): tasks accepted, faults injected, finish codes, answers handed."""
        return self.ledger.snapshot()

    def reset(self) -> None:
        """Back to the just-started state: tasks, counters, nonces, feedback, pending callbacks,
        faults as configured at start (an outage window restarts), and the generators reseeded."""
        self.callbacks.reset()
        self.scheduler.clear()
        self.engine.reset()
        self.nonces.clear()
        self.faults.reset(self.config.faults, self.config.fault_seed)
        self.ids.reseed(self.config.fault_seed)
        self.counters.clear()
        self.ledger.clear()

    def set_faults(self, changes: dict[str, Any]) -> Faults:
        return self.faults.update(changes)

    def wait(self, seconds: float) -> None:
        """A bounded network-model wait that ends early when the emulator stops."""
        if seconds > 0:
            self.stopping.wait(seconds)

    def close(self) -> None:
        self.stopping.set()
        self.callbacks.close()
        self.scheduler.stop()
        self.engine.close()
        self.downloader.close()
