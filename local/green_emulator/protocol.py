"""Green's constants as the emulator knows them, written from docs/green-protocol.md (not imported from
the product, so a mistake in the product's copy cannot hide itself here).
"""

from __future__ import annotations

OPERATIONS = ("scan", "asyncscan", "results", "feedback")
SCAN_OPERATIONS = ("scan", "asyncscan")

# docs/green-protocol.md, Signing
API_VERSION = "2018-05-09"
SIGNATURE_METHOD = "HMAC-SHA1"
SIGNATURE_VERSION = "1.0"

# docs/green-protocol.md, Scenes
SCENE_ORDER = ("porn", "terrorism", "ad", "qrcode", "live", "logo")
KNOWN_SCENES = frozenset(SCENE_ORDER)
SUGGESTION_RANK = {"pass": 0, "review": 1, "block": 2}

# docs/green-protocol.md, Request bodies and Image limits
MAX_TASKS = 100
MAX_URL_LENGTH = 2048
DEFAULT_MAX_FRAMES = 100  # frames judged when a request sets interval but not maxFrames
GIF_MAX_PIXELS = 4_194_304  # width x height of a GIF (the same reading as the 250-megapixel rule)

# docs/green-protocol.md, Codes: the msg Green writes beside each body or per-task code.
CODE_MESSAGES: dict[int, str] = {
    200: "OK",
    280: "PROCESSING",
    400: "BAD_REQUEST",
    401: "NOT_ALLOWED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    480: "DOWNLOAD_FAILED",
    500: "GENERAL_ERROR",
    503: "ServiceUnavailable",
    580: "DB_FAILED",
    581: "TIMEOUT",
    585: "CACHE_FAILED",
    586: "ALGO_FAILED",
    587: "MQ_FAILED",
    588: "EXCEED_QUOTA",
    589: "TOO_LARGE",
    590: "BAD_FORMAT",
    591: "CONNECTION_POOL_FULL",
    592: "DOWNLOAD_TIMEOUT",
    594: "EXPIRED",
    595: "CATCH_FRAME_FAILED",
    596: "PERMISSION_DENY",
}
# Codes a task can be failed with by the task-error faults: everything but success and "still running".
TASK_ERROR_CODES = frozenset(CODE_MESSAGES) - {200, 280}
DEFAULT_TASK_ERROR_CODES = (500, 580, 581, 585, 586, 587, 588, 589, 591, 592, 594, 595)

# docs/green-protocol.md, Gateway errors: the POP gateway's messages.
API_NOT_FOUND = "Specified api is not found, please check your url and method."
ACCESS_KEY_NOT_FOUND = "Specified access key is not found."
SIGNATURE_NOT_MATCHED = "Specified signature is not matched with our calculation. server string to sign is:"
USER_FLOW_CONTROL = "Request was denied due to user flow control."
SERVICE_UNAVAILABLE = "The request has failed due to a temporary failure of the server."
