"""The Green emulator's network model as the bench sets it: zero (loopback), and realistic for a
Lambda in AWS us-east-1 calling Green in cn-shanghai (the template's default GreenRegion).

None of these figures was measured from this machine (it has no internet). Where they come from:

- Round trip 250 ms plus up to 50 ms of jitter. ASSUMPTION. The great-circle distance from
  northern Virginia to Shanghai is about 11,900 km, so light in fibre (about 200,000 km/s) needs at
  least 120 ms for a round trip; real routes are longer, and traffic into mainland China crosses its
  border gateways. Public inter-region tables put us-east-1 to ap-east-1 (Hong Kong, outside the
  border) at about 200 ms: check https://www.cloudping.co/grid (AWS region to region) for today's
  figure; Alibaba's own cross-border guidance is at
  https://www.alibabacloud.com/help/en/cen/ (Cloud Enterprise Network, cross-border connections).
- Two extra round trips on each new HTTPS connection (TCP handshake, then a TLS 1.3 handshake;
  TLS 1.2 would need a third). ASSUMPTION, and the one kinder to the baseline, which opens a new
  connection for every image; greenlight keeps one pooled connection per container.
- Green's own work per image: 1 s plus up to 1 s, after its download (the emulator adds one round
  trip before each download and one before each callback). ASSUMPTION: Alibaba documents no
  processing time; its asynchronous API is documented for results "within seconds" to be polled
  for. The emulator's processing_delay floor is set to 0, so the model alone decides.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class NetworkProfile:
    name: str  # "zero" or "realistic"
    faults: Mapping[str, Any] = field(default_factory=dict)  # emulator settings (set_faults / Faults)

    @property
    def rtt(self) -> float:
        return float(self.faults.get("network_rtt", 0.0))

    def describe(self) -> str:
        if not self.faults.get("network_rtt"):
            return "zero latency (loopback: Green answers in milliseconds)"
        f = self.faults
        return (f"realistic latency: round trip {f['network_rtt'] * 1000:.0f} ms + up to "
                f"{f['network_jitter'] * 1000:.0f} ms jitter, {f['network_connect_rtts']:g} extra round trips per new "
                f"connection, Green's work {f['image_processing_time']:g} s + up to "
                f"{f['image_processing_jitter']:g} s per image (assumptions: see bench/network.py)")


OFF = {"network_rtt": 0.0, "network_jitter": 0.0, "network_connect_rtts": 0.0, "image_processing_time": 0.0,
       "image_processing_jitter": 0.0}
ZERO = NetworkProfile("zero", OFF)
REALISTIC = NetworkProfile("realistic", {
    "network_rtt": 0.25, "network_jitter": 0.05, "network_connect_rtts": 2.0,
    "image_processing_time": 1.0, "image_processing_jitter": 1.0, "processing_delay": 0.0,
})
