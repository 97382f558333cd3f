"""greenlight.green.client.GreenClient against the emulator: all four operations, callbacks, faults, retries."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs

import pytest

from green_emulator import RunningEmulator, make_image
from greenlight.green.checksum import verify_callback_checksum
from greenlight.green.client import GreenClient, RetryPolicy
from greenlight.green.errors import GreenAuthError, GreenError, GreenThrottled, GreenTransientError
from greenlight.green.signer import Credentials
from greenlight.green.wire import Feedback, ScanTask, TaskOutcome, TaskResult

pytestmark = pytest.mark.integration

BLOCK = [{"scene": "porn", "label": "porn", "suggestion": "block", "rate": 99.7}]
REVIEW = [{"scene": "terrorism", "label": "bloody", "suggestion": "review", "rate": 71.5}]
PASS = [{"scene": "porn", "label": "normal", "suggestion": "pass", "rate": 98.0},
        {"scene": "terrorism", "label": "normal", "suggestion": "pass", "rate": 97.5}]
SEED = "s33d_local"
ClientFactory = Callable[..., GreenClient]
Wait = Callable[..., Any]


class Sleeps:
    """A pinned sleep: records delays instead of sleeping, and can act after the n-th one."""

    def __init__(self, after: int | None = None, action: Callable[[], Any] | None = None) -> None:
        self.delays: list[float] = []
        self._after, self._action = after, action

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        if self._action is not None and len(self.delays) == self._after:
            self._action()


def poll_until_done(client: GreenClient, task_ids: list[str], wait_until: Wait) -> list[TaskResult]:
    def done() -> list[TaskResult] | None:
        results = client.image_async_results(task_ids)
        return results if all(r.code != 280 for r in results) else None

    finished: list[TaskResult] = wait_until(done, timeout=5)
    return finished


def callbacks_at(receiver: Any, path: str) -> list[dict[str, str]]:
    forms = []
    for recorded in receiver.requests_to(path):
        fields = parse_qs(recorded.body.decode("ascii"), keep_blank_values=True)
        forms.append({name: values[0] for name, values in fields.items()}
                     | {"content-type": recorded.headers.get("Content-Type", "")})
    return forms


# -- the four operations -------------------------------------------------------------------------

def test_sync_scan_follows_scripts_and_the_default_rule(emulator: RunningEmulator, image_server: Any,
                                                        green_client: ClientFactory) -> None:
    # Given images scripted to block, review and pass, and one plain image
    block = image_server.add("/block.png", make_image(BLOCK, seed=1))
    review = image_server.add("/review.jpg", make_image(REVIEW, fmt="JPEG", seed=2))
    passed = image_server.add("/pass.png", make_image(PASS, seed=3))
    plain_bytes = make_image(fmt="WEBP", seed=4)
    plain = image_server.add("/plain.webp", plain_bytes)
    tasks = [ScanTask("block", block), ScanTask("review", review), ScanTask("pass", passed), ScanTask("plain", plain)]

    # When scanned for porn and terrorism
    results = green_client().image_sync_scan(tasks, ["porn", "terrorism"])

    # Then scripted scenes come back as scripted and the rest follow the default rule
    assert [r.code for r in results] == [200, 200, 200, 200]
    assert [r.data_id for r in results] == ["block", "review", "pass", "plain"]
    assert [r.suggestion for r in results] == ["block", "review", "pass", "pass"]
    assert results[0].results[0].to_wire() == BLOCK[0]
    assert results[1].results[1].to_wire() == REVIEW[0]
    assert [r.to_wire() for r in results[2].results] == PASS
    default = results[3].results
    assert [(r.scene, r.label, r.suggestion) for r in default] == [("porn", "normal", "pass"),
                                                                   ("terrorism", "normal", "pass")]
    assert all(90 <= r.rate < 100 and not r.extra for r in default)
    assert all(r.task_id and r.task_id.startswith("img") for r in results)
    assert emulator.stats()["tasks_finished"] == {"200": 4}


def test_async_scan_is_processing_then_done(emulator: RunningEmulator, image_server: Any,
                                            green_client: ClientFactory, wait_until: Wait) -> None:
    client = green_client()
    url = image_server.add("/a.png", make_image(BLOCK))

    submitted = client.image_async_scan([ScanTask("a-1", url)], ["porn"])
    first = client.image_async_results([submitted[0].task_id or ""])
    final = poll_until_done(client, [submitted[0].task_id or ""], wait_until)

    assert (submitted[0].code, submitted[0].data_id, submitted[0].results) == (200, "a-1", ())
    assert (first[0].code, first[0].outcome) == (280, TaskOutcome.PROCESSING)
    assert (final[0].code, final[0].suggestion, final[0].url) == (200, "block", url)
    assert emulator.stats()["responses"]["results"]["code"]["200"] >= 2


def test_feedback_is_recorded(emulator: RunningEmulator, green_client: ClientFactory) -> None:
    green_client().image_scan_feedback(Feedback(task_id="img1", data_id="d1", suggestion="pass", scenes=("porn",),
                                                label="normal", note="false positive"))

    assert emulator.feedback() == [{"taskId": "img1", "dataId": "d1", "suggestion": "pass", "label": "normal",
                                    "note": "false positive", "scenes": ["porn"]}]
    assert emulator.stats()["feedback_received"] == 1


# -- callbacks -----------------------------------------------------------------------------------

def test_callbacks_carry_a_checksum_for_the_uid_and_seed(emulator: RunningEmulator, image_server: Any,
                                                          callback_receiver: Any, green_client: ClientFactory,
                                                          wait_until: Wait) -> None:
    client = green_client()
    hook = callback_receiver.add("/hooks/green")
    urls = [image_server.add("/c1.png", make_image(BLOCK, seed=1)), image_server.add("/c2.png", make_image(seed=2))]

    submitted = client.image_async_scan([ScanTask("c1", urls[0]), ScanTask("c2", urls[1])], ["porn"],
                                        callback=hook, seed=SEED)
    forms = wait_until(lambda: len(got := callbacks_at(callback_receiver, "/hooks/green")) == 2 and got)
    polled = {r.task_id: r.to_wire() for r in poll_until_done(client, [t.task_id or "" for t in submitted], wait_until)}

    for form in forms:
        assert form["content-type"] == "application/x-www-form-urlencoded; charset=UTF-8"
        assert verify_callback_checksum(form["checksum"], emulator.config.uid, [SEED], form["content"])
        assert not verify_callback_checksum(form["checksum"], emulator.config.uid, ["other_seed"], form["content"])
        content = json.loads(form["content"])
        assert form["content"] == json.dumps(content, separators=(",", ":"), ensure_ascii=False)
        assert content == polled[content["taskId"]]
    assert sorted(json.loads(f["content"])["dataId"] for f in forms) == ["c1", "c2"]
    # the emulator counts a delivery once the receiver's answer is back, a moment after it was received
    stats = wait_until(lambda: (s := emulator.stats()["callbacks"])["delivered"] == 2 and s)
    assert (stats["sent"], stats["delivered"], stats["failed"]) == (2, 2, 0)


def test_callback_is_retried_three_times_then_given_up(emulator: RunningEmulator, image_server: Any,
                                                       callback_receiver: Any, green_client: ClientFactory,
                                                       wait_until: Wait) -> None:
    hook = callback_receiver.add("/hooks/broken", status=500)
    url = image_server.add("/r.png", make_image())

    green_client().image_async_scan([ScanTask("r", url)], ["porn"], callback=hook, seed=SEED)
    wait_until(lambda: emulator.stats()["callbacks"]["failed"] == 1)

    assert emulator.stats()["callbacks"] == {"sent": 4, "delivered": 0, "failed": 1, "retries": 3, "dropped": 0,
                                             "duplicated": 0, "blocked": 0}
    assert len(callback_receiver.requests_to("/hooks/broken")) == 4


def test_callback_to_a_refused_port_is_retried_too(emulator: RunningEmulator, image_server: Any,
                                                    green_client: ClientFactory, free_port: int,
                                                    wait_until: Wait) -> None:
    url = image_server.add("/r.png", make_image())

    green_client().image_async_scan([ScanTask("r", url)], ["porn"], callback=f"http://127.0.0.1:{free_port}/h",
                                    seed=SEED)
    wait_until(lambda: emulator.stats()["callbacks"]["failed"] == 1)

    assert (emulator.stats()["callbacks"]["sent"], emulator.stats()["callbacks"]["retries"]) == (4, 3)


def test_dropped_callbacks_are_never_sent(emulator: RunningEmulator, image_server: Any, callback_receiver: Any,
                                          green_client: ClientFactory, wait_until: Wait) -> None:
    emulator.set_faults(callback_drop_rate=1.0)
    hook = callback_receiver.add("/hooks/green")
    client = green_client()
    submitted = client.image_async_scan([ScanTask("d", image_server.add("/d.png", make_image()))], ["porn"],
                                        callback=hook, seed=SEED)

    final = poll_until_done(client, [submitted[0].task_id or ""], wait_until)
    wait_until(lambda: emulator.stats()["callbacks"]["dropped"] == 1)

    assert final[0].code == 200
    assert emulator.stats()["callbacks"]["sent"] == 0
    assert emulator.stats()["faults"]["callback_drop"] == 1
    assert callback_receiver.requests_to("/hooks/green") == []


def test_duplicated_callbacks_arrive_twice(emulator: RunningEmulator, image_server: Any, callback_receiver: Any,
                                           green_client: ClientFactory, wait_until: Wait) -> None:
    emulator.set_faults(callback_duplicate_rate=1.0)
    hook = callback_receiver.add("/hooks/green")

    green_client().image_async_scan([ScanTask("dup", image_server.add("/d.png", make_image()))], ["porn"],
                                    callback=hook, seed=SEED)
    forms = wait_until(lambda: len(got := callbacks_at(callback_receiver, "/hooks/green")) == 2 and got)

    assert forms[0] == forms[1]
    wait_until(lambda: emulator.stats()["callbacks"]["delivered"] == 2)
    assert emulator.stats()["callbacks"]["duplicated"] == 1


def test_delayed_callbacks_all_arrive(emulator: RunningEmulator, image_server: Any, callback_receiver: Any,
                                      green_client: ClientFactory, wait_until: Wait) -> None:
    emulator.set_faults(callback_delay=0.3, processing_delay=0.0)
    hook = callback_receiver.add("/hooks/green")
    url = image_server.add("/x.png", make_image())
    tasks = [ScanTask(f"t{i}", url) for i in range(6)]

    green_client().image_async_scan(tasks, ["porn"], callback=hook, seed=SEED)
    forms = wait_until(lambda: len(got := callbacks_at(callback_receiver, "/hooks/green")) == 6 and got)

    assert sorted(json.loads(f["content"])["dataId"] for f in forms) == [f"t{i}" for i in range(6)]
    assert emulator.stats()["faults"]["callback_delay"] == 6


# -- expiry --------------------------------------------------------------------------------------

def test_tasks_expire_after_the_retention(emulator: RunningEmulator, image_server: Any, green_client: ClientFactory,
                                          wait_until: Wait) -> None:
    emulator.set_faults(retention=0.5, processing_delay=0.0)
    client = green_client()
    submitted = client.image_async_scan([ScanTask("e", image_server.add("/e.png", make_image()))], ["porn"])
    task_id = submitted[0].task_id or ""

    done = wait_until(lambda: (r := client.image_async_results([task_id]))[0].code == 200 and r)
    expired = wait_until(lambda: (r := client.image_async_results([task_id]))[0].code == 594 and r)

    assert done[0].suggestion == "pass"
    assert (expired[0].msg, expired[0].task_id, expired[0].outcome) == ("EXPIRED", task_id, TaskOutcome.RETRY)
    assert client.image_async_results(["img-never-issued"])[0].code == 594


def test_expire_fault_forgets_finished_tasks_without_a_callback(emulator: RunningEmulator, image_server: Any,
                                                                callback_receiver: Any, green_client: ClientFactory,
                                                                wait_until: Wait) -> None:
    emulator.set_faults(expire_rate=1.0)
    client = green_client()
    hook = callback_receiver.add("/hooks/green")
    submitted = client.image_async_scan([ScanTask("x", image_server.add("/x.png", make_image()))], ["porn"],
                                        callback=hook, seed=SEED)

    wait_until(lambda: emulator.stats()["faults"].get("expire") == 1)

    assert client.image_async_results([submitted[0].task_id or ""])[0].code == 594
    assert emulator.stats()["callbacks"]["sent"] == 0
    assert callback_receiver.requests_to("/hooks/green") == []


# -- per-task download failures ------------------------------------------------------------------

def test_per_task_download_failures(emulator: RunningEmulator, image_server: Any, green_client: ClientFactory,
                                    free_port: int) -> None:
    limit = emulator.config.max_image_bytes
    cases = {
        "ok": (image_server.add("/ok.png", make_image()), 200),
        "missing": (image_server.url("/missing.png"), 404),
        "forbidden": (image_server.add("/forbidden.png", b"no", status=403), 403),
        "server-error": (image_server.add("/boom.png", b"boom", status=502), 480),
        "slow": (image_server.add("/slow.png", make_image(), delay=3.0), 592),
        "trickle": (image_server.add("/trickle.png", make_image()[:60], trickle=0.1), 592),
        "huge-declared": (image_server.add("/huge.png", declared_length=limit + 1), 589),
        "huge-streamed": (image_server.add("/stream.png", stream_bytes=limit + 256 * 1024), 589),
        "garbage": (image_server.add("/garbage.png", b"\x89PNG but not really" * 10), 590),
        "refused": (f"http://127.0.0.1:{free_port}/a.png", 480),
    }

    started = time.monotonic()
    results = green_client().image_sync_scan([ScanTask(name, url) for name, (url, _) in cases.items()], ["porn"])
    elapsed = time.monotonic() - started

    assert {r.data_id: r.code for r in results} == {name: code for name, (_, code) in cases.items()}
    # The 1 s download deadline is total: a trickling origin (6 s in all) is cut off, not waited for.
    assert elapsed < 4.5
    by_id = {r.data_id: r for r in results}
    assert (by_id["missing"].msg, by_id["forbidden"].msg, by_id["slow"].msg) == ("NOT_FOUND", "FORBIDDEN",
                                                                                 "DOWNLOAD_TIMEOUT")
    assert (by_id["huge-declared"].msg, by_id["garbage"].msg) == ("TOO_LARGE", "BAD_FORMAT")
    assert by_id["refused"].msg.startswith("DOWNLOAD_FAILED")
    # Green could not fetch these (403/404/480/592): re-inspect the object before scanning again
    fetch_failed = ("missing", "forbidden", "server-error", "slow", "trickle", "refused")
    assert {name: by_id[name].outcome for name in fetch_failed} == dict.fromkeys(fetch_failed,
                                                                                 TaskOutcome.FETCH_FAILED)
    assert {by_id[name].outcome for name in ("huge-declared", "huge-streamed", "garbage")} == {TaskOutcome.UNSUPPORTED}
    assert all(not r.results for r in results if r.code != 200)


def test_redirects_are_followed_to_allowed_hosts_only(emulator: RunningEmulator, image_server: Any,
                                                      green_client: ClientFactory) -> None:
    target = image_server.add("/real.png", make_image(BLOCK))
    image_server.add("/moved.png", status=302, headers={"Location": "/real.png"})
    image_server.add("/away.png", status=301, headers={"Location": "http://192.0.2.10/a.png"})

    results = green_client().image_sync_scan(
        [ScanTask("moved", image_server.url("/moved.png")), ScanTask("away", image_server.url("/away.png"))],
        ["porn"])

    assert (results[0].code, results[0].suggestion, results[0].url) == (200, "block", image_server.url("/moved.png"))
    assert results[1].code == 480
    assert len(image_server.requests_to("/real.png")) == 1 and target.endswith("/real.png")
    assert emulator.stats()["downloads"] == 3  # moved, real, away; never 192.0.2.10


def test_hosts_outside_the_allow_list_are_never_fetched(emulator: RunningEmulator, green_client: ClientFactory) -> None:
    results = green_client().image_sync_scan([ScanTask("far", "http://192.0.2.10/a.png")], ["porn"])

    assert (results[0].code, results[0].msg.startswith("DOWNLOAD_FAILED")) == (480, True)
    assert emulator.stats()["downloads"] == 0


def test_download_failure_fault_fails_without_fetching(emulator: RunningEmulator, image_server: Any,
                                                       green_client: ClientFactory) -> None:
    emulator.set_faults(download_failure_rate=1.0)
    url = image_server.add("/a.png", make_image())

    results = green_client().image_sync_scan([ScanTask("a", url), ScanTask("b", url)], ["porn"])

    assert [r.code for r in results] == [480, 480]
    assert image_server.requests_to("/a.png") == []
    assert emulator.stats()["faults"]["download_failure"] == 2


# -- retries, budgets, auth ----------------------------------------------------------------------

@pytest.mark.parametrize("operation", ["scan", "asyncscan"])
def test_client_retries_throttled_scans_and_the_counters_show_each_attempt(
    emulator: RunningEmulator, image_server: Any, green_client: ClientFactory, operation: str,
) -> None:
    # Given Green throttles (body code 588) until the client has backed off twice
    emulator.set_faults(throttle_rate=1.0)
    sleeps = Sleeps(after=2, action=lambda: emulator.set_faults(throttle_rate=0.0))
    charged: list[float] = []
    client = green_client(retry=RetryPolicy(max_attempts=5, base_delay=0.2, max_delay=5.0), sleep=sleeps,
                          draw=lambda: 0.5, pace=charged.append)
    url = image_server.add("/t.png", make_image())
    tasks = [ScanTask("t1", url), ScanTask("t2", url)]

    # When it scans two images
    scan = client.image_sync_scan if operation == "scan" else client.image_async_scan
    results = scan(tasks, ["porn"])

    # Then it succeeded on the third attempt, after full-jitter delays from the pinned draw, and each
    # attempt was charged two images against the pace
    assert [r.code for r in results] == [200, 200]
    assert sleeps.delays == pytest.approx([0.1, 0.2])
    assert charged == [2, 2, 2]
    stats = emulator.stats()
    assert stats["calls"][operation] == 3
    assert stats["responses"][operation]["code"] == {"588": 2, "200": 1}
    assert stats["faults"] == {"throttle": 2}
    assert stats["tasks_submitted"] == 2


@pytest.mark.parametrize(("status", "body_key"), [(503, "Code"), (500, "code")])
def test_client_retries_server_errors(emulator: RunningEmulator, green_client: ClientFactory, status: int,
                                      body_key: str) -> None:
    emulator.set_faults(error_rate=1.0, error_status=status)
    sleeps = Sleeps(after=1, action=lambda: emulator.set_faults(error_rate=0.0))
    client = green_client(retry=RetryPolicy(max_attempts=3, base_delay=0.2), sleep=sleeps, draw=lambda: 1.0)

    results = client.image_async_results(["img-unknown"])

    assert results[0].code == 594
    assert sleeps.delays == pytest.approx([0.2])
    assert emulator.stats()["calls"]["results"] == 2
    responses = emulator.stats()["responses"]["results"]
    assert responses["http"] == {str(status): 1, "200": 1}
    assert responses["code"] == {("ServiceUnavailable" if status == 503 else "500"): 1, "200": 1}
    assert emulator.stats()["faults"] == {f"error_{status}": 1}


def test_budget_stops_retrying(emulator: RunningEmulator, green_client: ClientFactory) -> None:
    # A fake monotonic clock that only moves when the client sleeps makes the budget exact.
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    emulator.set_faults(throttle_rate=1.0)
    client = green_client(retry=RetryPolicy(max_attempts=10, base_delay=0.4, max_delay=5.0), sleep=sleep,
                          monotonic=lambda: now[0], draw=lambda: 1.0)

    with pytest.raises(GreenThrottled):
        client.image_async_results(["img1"], budget=1.0)

    # attempt at 0.0, sleep 0.4, attempt at 0.4; the next 0.8 s sleep would pass the 1.0 s budget
    assert now[0] == pytest.approx(0.4)
    assert emulator.stats()["calls"]["results"] == 2


def test_auth_errors_are_not_retried(emulator: RunningEmulator, green_client: ClientFactory) -> None:
    sleeps = Sleeps()
    client = green_client(credentials=Credentials(emulator.config.access_key_id, "wrong-secret"),
                          retry=RetryPolicy(max_attempts=5), sleep=sleeps)

    with pytest.raises(GreenAuthError) as raised:
        client.image_async_results(["img1"])

    assert raised.value.code == "SignatureDoesNotMatch"
    assert sleeps.delays == []
    assert emulator.stats()["calls"]["results"] == 1
    assert emulator.stats()["gateway_rejections"] == {"SignatureDoesNotMatch": 1}


def test_sts_credentials_work_through_the_client(emulator: RunningEmulator, green_client: ClientFactory,
                                                 emulator_sts_credentials: Credentials) -> None:
    client = green_client(credentials=emulator_sts_credentials)
    tokenless = green_client(credentials=Credentials(emulator_sts_credentials.access_key_id,
                                                     emulator_sts_credentials.access_key_secret))

    assert client.image_async_results(["img1"])[0].code == 594
    with pytest.raises(GreenAuthError) as raised:
        tokenless.image_async_results(["img1"])
    assert raised.value.code == "InvalidSecurityToken.Missing"


def test_qps_cap_answers_588(emulator: RunningEmulator, green_client: ClientFactory) -> None:
    emulator.set_faults(qps={"feedback": 1})
    client = green_client()

    client.image_scan_feedback(Feedback(task_id="img1"))
    with pytest.raises(GreenThrottled) as raised:
        client.image_scan_feedback(Feedback(task_id="img1"))

    assert raised.value.code == 588
    assert emulator.stats()["responses"]["feedback"]["code"] == {"200": 1, "588": 1}
    assert emulator.stats()["faults"] == {"qps": 1}
    assert len(emulator.feedback()) == 1


def test_transient_error_is_raised_when_attempts_run_out(emulator: RunningEmulator,
                                                         green_client: ClientFactory) -> None:
    emulator.set_faults(error_rate=1.0, error_status=500)
    client = green_client(retry=RetryPolicy(max_attempts=3), sleep=Sleeps(), draw=lambda: 0.0)

    with pytest.raises(GreenTransientError):
        client.image_async_results(["img1"])

    assert emulator.stats()["calls"]["results"] == 3


@pytest.mark.parametrize("status", [500, 503])
def test_a_scan_green_refused_with_a_server_error_is_retried(emulator: RunningEmulator, image_server: Any,
                                                             green_client: ClientFactory, status: int) -> None:
    # Given Green answers one 5xx in its own envelope (500 code body, 503 gateway ServiceUnavailable): a refusal
    emulator.set_faults(error_rate=1.0, error_status=status)
    sleeps = Sleeps(after=1, action=lambda: emulator.set_faults(error_rate=0.0))
    client = green_client(retry=RetryPolicy(max_attempts=3), sleep=sleeps, draw=lambda: 0.0)

    # When an async scan is sent
    submitted = client.image_async_scan([ScanTask("e", image_server.add("/e.png", make_image()))], ["porn"])

    # Then it was resent once and Green holds exactly one task
    assert [(r.code, r.data_id) for r in submitted] == [(200, "e")]
    assert emulator.stats()["calls"]["asyncscan"] == 2
    assert emulator.stats()["responses"]["asyncscan"]["http"] == {str(status): 1, "200": 1}
    assert emulator.stats()["tasks_submitted"] == 1


# -- answers lost on the way back: scans are never resent ----------------------------------------

SCAN_PATHS = {"scan": "/green/image/scan", "asyncscan": "/green/image/asyncscan"}
RESULTS_PATH = "/green/image/results"


class SilentGreen:
    """A loopback socket server standing in for Green that reads each request in full and then either
    closes the connection without a word ("drop") or never answers until the test ends ("hang")."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.paths: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            head, body = data.split(b"\r\n\r\n", 1)
            lines = head.decode("latin-1").split("\r\n")
            length = next((int(line.split(":", 1)[1]) for line in lines if line.lower().startswith("content-length:")),
                          0)
            while len(body) < length:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                body += chunk
            with self._lock:
                self.paths.append(lines[0].split(" ")[1].split("?", 1)[0])
            if self.mode == "hang":
                self._stop.wait(30)

    def requests_to(self, path: str) -> int:
        with self._lock:
            return self.paths.count(path)

    def close(self) -> None:
        self._stop.set()
        self._listener.close()
        self._thread.join(timeout=5)


@pytest.fixture
def silent_green() -> Iterator[Callable[[str], SilentGreen]]:
    servers: list[SilentGreen] = []

    def make(mode: str) -> SilentGreen:
        servers.append(SilentGreen(mode))
        return servers[-1]

    yield make
    for server in servers:
        server.close()


@pytest.fixture
def stand_in(callback_receiver: Any) -> Any:
    """A loopback HTTP server (tests/conftest.py LoopbackServer) answering in Green's place."""
    return callback_receiver


def scan_call(client: GreenClient, operation: str) -> Any:
    tasks = [ScanTask("d1", "http://127.0.0.1:9/a.png"), ScanTask("d2", "http://127.0.0.1:9/b.png")]
    if operation == "scan":
        return client.image_sync_scan(tasks, ["porn"])
    return client.image_async_scan(tasks, ["porn"])


def lost_answer_client(green_client: ClientFactory, endpoint: str, charged: list[float]) -> GreenClient:
    return green_client(endpoint=endpoint, retry=RetryPolicy(max_attempts=3), sleep=Sleeps(), draw=lambda: 0.0,
                        read_timeout=0.3, sync_read_timeout=0.3, pace=charged.append)


@pytest.mark.parametrize("operation", ["scan", "asyncscan"])
@pytest.mark.parametrize("mode", ["drop", "hang"])
def test_a_scan_whose_answer_is_lost_is_sent_once_and_maybe_accepted(green_client: ClientFactory,
                                                                     silent_green: Callable[[str], SilentGreen],
                                                                     mode: str, operation: str) -> None:
    # Given a Green that reads the whole request, then drops the connection or never answers
    server = silent_green(mode)
    charged: list[float] = []
    client = lost_answer_client(green_client, server.url, charged)

    # When a scan of two images is sent with three attempts allowed
    with pytest.raises(GreenTransientError) as raised:
        scan_call(client, operation)

    # Then the request reached the server once, was not resent, and may have been accepted
    assert raised.value.maybe_accepted is True
    assert server.requests_to(SCAN_PATHS[operation]) == 1
    assert charged == [2]


@pytest.mark.parametrize("mode", ["drop", "hang"])
def test_a_results_request_whose_answer_is_lost_is_retried(green_client: ClientFactory,
                                                           silent_green: Callable[[str], SilentGreen],
                                                           mode: str) -> None:
    server = silent_green(mode)
    charged: list[float] = []

    with pytest.raises(GreenTransientError):
        lost_answer_client(green_client, server.url, charged).image_async_results(["img1"])

    assert server.requests_to(RESULTS_PATH) == 3
    assert charged == [1, 1, 1]


@pytest.mark.parametrize("operation", ["scan", "asyncscan"])
def test_a_scan_answered_5xx_without_greens_envelope_is_sent_once(green_client: ClientFactory, stand_in: Any,
                                                                  operation: str) -> None:
    # Given a proxy in front of Green answering 502 with an HTML page
    stand_in.add(SCAN_PATHS[operation], b"<html>502 Bad Gateway</html>", status=502, content_type="text/html")
    charged: list[float] = []

    with pytest.raises(GreenTransientError) as raised:
        scan_call(lost_answer_client(green_client, stand_in.base_url, charged), operation)

    assert (raised.value.maybe_accepted, raised.value.code) == (True, 502)
    assert len(stand_in.requests_to(SCAN_PATHS[operation])) == 1


def test_a_results_request_answered_5xx_without_greens_envelope_is_retried(green_client: ClientFactory,
                                                                           stand_in: Any) -> None:
    stand_in.add(RESULTS_PATH, b"<html>502 Bad Gateway</html>", status=502, content_type="text/html")

    with pytest.raises(GreenTransientError) as raised:
        lost_answer_client(green_client, stand_in.base_url, []).image_async_results(["img1"])

    assert raised.value.code == 502
    assert len(stand_in.requests_to(RESULTS_PATH)) == 3


def test_a_slow_answer_body_to_a_scan_is_a_lost_answer(green_client: ClientFactory, stand_in: Any) -> None:
    # Given Green's answer starts, then stalls past the read timeout
    answer = json.dumps({"code": 200, "msg": "OK", "data": [{"code": 200, "dataId": "d1", "taskId": "img1"},
                                                            {"code": 200, "dataId": "d2", "taskId": "img2"}]})
    stand_in.add(SCAN_PATHS["asyncscan"], answer.encode(), content_type="application/json", delay=30)

    started = time.monotonic()
    with pytest.raises(GreenTransientError) as raised:
        scan_call(lost_answer_client(green_client, stand_in.base_url, []), "asyncscan")

    assert raised.value.maybe_accepted is True
    assert len(stand_in.requests_to(SCAN_PATHS["asyncscan"])) == 1
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("operation", ["scan", "asyncscan"])
def test_a_scan_gateway_throttling_is_retried(green_client: ClientFactory, stand_in: Any, operation: str) -> None:
    # Given the API gateway refuses every request with Throttling.User (nothing reached Green)
    refusal = {"Code": "Throttling.User", "Message": "Request was denied due to user flow control.",
               "RequestId": "R1", "HostId": "green.cn-shanghai.aliyuncs.com"}
    stand_in.add(SCAN_PATHS[operation], json.dumps(refusal).encode(), status=400, content_type="application/json")
    charged: list[float] = []

    with pytest.raises(GreenThrottled) as raised:
        scan_call(lost_answer_client(green_client, stand_in.base_url, charged), operation)

    # Then every attempt was made and none counts as maybe accepted
    assert (raised.value.code, raised.value.request_id, raised.value.maybe_accepted) == ("Throttling.User", "R1",
                                                                                         False)
    assert len(stand_in.requests_to(SCAN_PATHS[operation])) == 3
    assert charged == [2, 2, 2]


def test_a_refused_connection_sent_nothing_so_a_scan_is_retried(green_client: ClientFactory,
                                                               free_port: int) -> None:
    # Given nothing listens at the endpoint
    charged: list[float] = []
    client = lost_answer_client(green_client, f"http://127.0.0.1:{free_port}", charged)

    # When a scan is sent
    with pytest.raises(GreenError) as raised:
        scan_call(client, "asyncscan")

    # Then each of the three attempts was made (nothing can have reached Green) and none is maybe accepted
    assert type(raised.value) is GreenTransientError
    assert raised.value.maybe_accepted is False
    assert charged == [2, 2, 2]
