"""The network model, for benchmarks: loopback is free, the internet to Green is not.

One round trip is `network_rtt` plus up to `network_jitter` seconds. It is added to every API answer,
before every task's download (the fetch of a presigned URL) and before every callback attempt. The
first request on a new API connection pays `network_connect_rtts` more round trips (TCP and TLS
handshakes), so a client opening a connection per call pays more than a pooled one. Each image also
takes `image_processing_time` (plus up to `image_processing_jitter`) after its download.

All of it is off by default. Waits are scheduled where the emulator can (downloads, callbacks and
processing time use the scheduler or a ready-at time, holding no worker thread); only the answer
delay holds a thread, the one serving that connection, which a real connection would keep busy too.
"""

from __future__ import annotations

from green_emulator.counters import Counters
from green_emulator.faults import FaultInjector


class NetworkModel:
    def __init__(self, faults: FaultInjector, counters: Counters) -> None:
        self._faults = faults
        self._counters = counters

    def _round_trips(self, count: float, what: str) -> float:
        faults = self._faults.current
        if faults.network_rtt <= 0 and faults.network_jitter <= 0:
            return 0.0
        self._counters.inc("network", what)
        return self._faults.network_delay(count * faults.network_rtt, faults.network_jitter)

    def answer_delay(self, new_connection: bool) -> float:
        """Seconds to hold an API answer back: one round trip, plus the handshakes on a new connection."""
        if new_connection:
            self._counters.inc("network", "new_connections")
        extra = self._faults.current.network_connect_rtts if new_connection else 0.0
        return self._round_trips(1 + extra, "delayed_answers")

    def download_delay(self) -> float:
        return self._round_trips(1, "delayed_downloads")

    def callback_delay(self) -> float:
        return self._round_trips(1, "delayed_callbacks")

    def processing_time(self) -> float:
        """Seconds one image takes after its download."""
        faults = self._faults.current
        if faults.image_processing_time <= 0 and faults.image_processing_jitter <= 0:
            return 0.0
        self._counters.inc("network", "processing_waits")
        return self._faults.network_delay(faults.image_processing_time, faults.image_processing_jitter)
