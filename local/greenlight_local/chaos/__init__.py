"""The chaos run: the real local pipeline under every failure it must survive, reproducibly from a seed.

    python -m greenlight_local.chaos --uploads 1000 --seed 7      (make chaos)

Faults come from two places. The Green emulator injects Green's (throttling, 5xx, lost answers, per-task
rejections and failures, omitted result ids, expired URLs, dropped, duplicated and delayed callbacks,
outages of 5xx, 588 and auth failures, a short retention). The harness injects the rest from outside
the production code (greenlight_local.fault_hooks, installed by the local Lambda host): kills and
timeouts at crash points inside the handlers, DynamoDB throttling, callbacks answered 503, and the
poller stopped; and it duplicates S3 events, deletes versions, overwrites keys of an unversioned bucket.

Modules: config (sizes, time scale, rates), plan (what is uploaded and the verdict each write deserves),
world (the unversioned bucket, the event tap, the uploader), run (the phases, collection), stream (the
verdict table's stream, followed as it grows), invariants (the checks), verify (checks and figures of
one run), report (the summary). fault_hooks (beside this package) is what the local hosts install.
"""

from greenlight_local.chaos.config import ChaosConfig
from greenlight_local.chaos.report import ChaosReport
from greenlight_local.chaos.run import run

__all__ = ["ChaosConfig", "ChaosReport", "run"]
