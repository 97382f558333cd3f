"""Run the Green emulator in the foreground: `python -m green_emulator [flags]` (with local/ on
PYTHONPATH; it needs nothing from the product's layer). Stop it with Ctrl-C or SIGTERM.

It prints the accepted AccessKey pair and uid (throwaway local values), then one line
`listening on http://127.0.0.1:PORT`.

Every setting comes from a variable or a flag; flags win over variables.

Identity and network
    GREEN_EMULATOR_HOST                    --host                    address to bind (default 127.0.0.1)
    GREEN_EMULATOR_PORT                    --port                    port (default 8600; 0 = a free port, printed)
    GREEN_EMULATOR_ACCESS_KEY_ID           --access-key-id           accepted AccessKeyId (default LTAI-local-emulator)
    GREEN_EMULATOR_ACCESS_KEY_SECRET       --access-key-secret       its secret (default local-emulator-secret)
    GREEN_EMULATOR_UID                     --uid                     callback checksum uid (default 1234567890123456)
    GREEN_EMULATOR_STS_ACCESS_KEY_ID       --sts-access-key-id       STS key id, prefix STS. (default: off)
    GREEN_EMULATOR_STS_ACCESS_KEY_SECRET   --sts-access-key-secret   its secret
    GREEN_EMULATOR_STS_SECURITY_TOKEN      --sts-security-token      the x-acs-security-token it must carry

Downloads, callbacks and limits
    GREEN_EMULATOR_DOWNLOAD_TIMEOUT        --download-timeout        total seconds per download, else 592 (default 3)
    GREEN_EMULATOR_MAX_IMAGE_BYTES         --max-image-bytes         largest image, else 589 (default 20971520)
    GREEN_EMULATOR_ALLOWED_HOSTS           --allowed-hosts           hosts it may fetch from or call back
                                                                     (default 127.0.0.1,localhost,::1)
    GREEN_EMULATOR_CHECK_URL_EXPIRY        --check-url-expiry        403 for expired presigned URLs (default true)
    GREEN_EMULATOR_WORKERS                 --workers                 download/decode threads (default 8)
    GREEN_EMULATOR_CALLBACK_WORKERS        --callback-workers        callback sender threads (default 4)
    GREEN_EMULATOR_CALLBACK_RETRIES        --callback-retries        retries after a failed callback (default 3)
    GREEN_EMULATOR_CALLBACK_RETRY_DELAY    --callback-retry-delay    seconds between callback attempts (default 1)
    GREEN_EMULATOR_CALLBACK_TIMEOUT        --callback-timeout        seconds per callback attempt (default 5)
    GREEN_EMULATOR_MAX_RESULT_IDS          --max-result-ids          task ids per results call (default 100)
    GREEN_EMULATOR_TIME_WINDOW             --time-window             allowed Date skew, seconds (default 900)
    GREEN_EMULATOR_NONCE_TTL               --nonce-ttl               seconds a nonce is remembered (default 900)
    GREEN_EMULATOR_MAX_NONCES              --max-nonces              nonces remembered at once (default 100000)
    GREEN_EMULATOR_MAX_TASKS               --max-tasks               async tasks kept, oldest dropped (default 100000)
    GREEN_EMULATOR_FAULT_SEED              --fault-seed              seed of fault decisions and ids (default 0)
    GREEN_EMULATOR_LOG_REQUESTS            --log-requests            log each request to stderr (default off)

Faults and behaviour (also changeable at runtime: POST /_emulator/faults)
    GREEN_EMULATOR_THROTTLE_RATE           --throttle-rate           fraction answered code 588 (default 0)
    GREEN_EMULATOR_ERROR_RATE              --error-rate              fraction answered HTTP 500/503 (default 0)
    GREEN_EMULATOR_ERROR_STATUS            --error-status            500, 503, or 0 = random (default 0)
    GREEN_EMULATOR_GATEWAY_THROTTLE_RATE   --gateway-throttle-rate   fraction answered 400 Throttling.User (default 0)
    GREEN_EMULATOR_PERMISSION_DENY_RATE    --permission-deny-rate    fraction answered code 596 (default 0)
    GREEN_EMULATOR_GENERAL_ERROR_RATE      --general-error-rate      fraction answered HTTP 200, code 500 (default 0)
    GREEN_EMULATOR_ANSWER_LOST_RATE        --answer-lost-rate        accepted scans whose answer is lost (default 0)
    GREEN_EMULATOR_RESULTS_OMIT_RATE       --results-omit-rate       task ids left out of results (default 0)
    GREEN_EMULATOR_TASK_SUBMIT_ERROR_RATE  --task-submit-error-rate  tasks answered a code at submit (default 0)
    GREEN_EMULATOR_TASK_FINISH_ERROR_RATE  --task-finish-error-rate  async tasks finishing with a code (default 0)
    GREEN_EMULATOR_TASK_ERROR_CODES        --task-error-codes        codes drawn (default 500,580,581,585,586,587,
                                                                     588,589,591,592,594,595)
    GREEN_EMULATOR_DOWNLOAD_FAILURE_RATE   --download-failure-rate   fraction of tasks failing 480 (default 0)
    GREEN_EMULATOR_URL_EXPIRED_RATE        --url-expired-rate        downloads answered 403 as expired (default 0)
    GREEN_EMULATOR_EXPIRE_RATE             --expire-rate             fraction of finished tasks forgotten (default 0)
    GREEN_EMULATOR_CALLBACK_DROP_RATE      --callback-drop-rate      fraction of callbacks never sent (default 0)
    GREEN_EMULATOR_CALLBACK_DUPLICATE_RATE --callback-duplicate-rate fraction of callbacks sent twice (default 0)
    GREEN_EMULATOR_CALLBACK_DELAY          --callback-delay          extra random delay up to N s (default 0)
    GREEN_EMULATOR_OUTAGE_MODE             --outage-mode             5xx, 588, 596, auth or signature (default none)
    GREEN_EMULATOR_OUTAGE_SECONDS          --outage-seconds          outage window from start or when set (default 0)
    GREEN_EMULATOR_FAULT_OPERATIONS        --fault-operations        operations faults hit (default all four)
    GREEN_EMULATOR_PROCESSING_DELAY        --processing-delay        seconds until a result is ready (default 1)
    GREEN_EMULATOR_RETENTION               --retention               seconds until a task expires (default 3600)
    GREEN_EMULATOR_QPS                     --qps                     e.g. scan=50,feedback=20 (default none)
    GREEN_EMULATOR_BIZ_TYPES               --biz-types               e.g. strict=porn+terrorism (default none)

Network model (off by default; also changeable at runtime)
    GREEN_EMULATOR_NETWORK_RTT             --network-rtt             seconds per round trip (default 0)
    GREEN_EMULATOR_NETWORK_JITTER          --network-jitter          up to N extra seconds a round trip (default 0)
    GREEN_EMULATOR_NETWORK_CONNECT_RTTS    --network-connect-rtts    extra round trips per new connection (default 0)
    GREEN_EMULATOR_IMAGE_PROCESSING_TIME   --image-processing-time   seconds per image after download (default 0)
    GREEN_EMULATOR_IMAGE_PROCESSING_JITTER --image-processing-jitter up to N extra seconds per image (default 0)

Admin routes (loopback clients only, no auth): GET /_emulator/stats, GET /_emulator/feedback,
GET /_emulator/faults, POST /_emulator/faults (JSON object of fault settings), POST /_emulator/reset.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from green_emulator.config import ConfigError, EmulatorConfig
from green_emulator.server import start_emulator


def main(argv: Sequence[str] | None = None) -> int:
    try:
        config = EmulatorConfig.from_args(sys.argv[1:] if argv is None else argv)
    except ConfigError as exc:
        print(f"green-emulator: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        running = start_emulator(config)
    except OSError as exc:
        print(f"green-emulator: cannot bind {config.host}:{config.port}: {exc}", file=sys.stderr)
        return 1
    print(f"green-emulator: AccessKeyId={config.access_key_id} AccessKeySecret={config.access_key_secret} "
          f"uid={config.uid}", flush=True)
    if config.sts_enabled:
        print(f"green-emulator: STS AccessKeyId={config.sts_access_key_id} (token required)", flush=True)
    print(f"green-emulator: listening on {running.url}", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        running.stop()
    print("green-emulator: stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
