"""The reviewer page's server on fakes (Flask's test client, no socket): who may use it, CSRF, what the
page and the queue hold, and approve/block as overrides. The browser drives it in
tests/e2e/test_review_page.py."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from fakes.reviews import InMemoryReviews
from green_emulator import make_image
from greenlight.domain.record import VerdictRecord
from greenlight.domain.states import State
from greenlight.green.wire import SceneResult, TaskResult
from greenlight.scanning.results import apply_result
from greenlight_cli.web import Guard, ReviewBackend, ReviewServer, Thumbnail
from greenlight_cli.web.app import create_app
from greenlight_cli.web.assets import PAGE_JS
from greenlight_cli.web.backend import image_location
from unit.conftest import BUCKET, World

PORT = 48123
BASE = f"http://127.0.0.1:{PORT}"
ACTOR = "arn:aws:sts::123456789012:assumed-role/Reviewer/alice"
SIGNATURE = "X-Amz-Signature=0123456789abcdef"
REVIEW = [SceneResult("terrorism", "bloody", "review", 81.2), SceneResult("porn", "normal", "pass", 97.1)]
PASS = [SceneResult("porn", "normal", "pass", 99.0)]
RIGHT = "<this server's CSRF token>"


class FakeThumbnails:
    """Presigned-looking URLs for the version's location, as S3Thumbnails makes them."""

    seconds = 300

    def thumbnail(self, record: VerdictRecord) -> Thumbnail:
        bucket, key, version = image_location(record)
        return Thumbnail(f"https://{bucket}.s3.amazonaws.com/{key}?versionId={version}"
                         f"&X-Amz-Credential=AKIAEXAMPLE%2F20260101&X-Amz-Expires=300&{SIGNATURE}")


class Page:
    """The page's app on the world's fakes, and a client that talks to it as the browser would."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.backend = ReviewBackend(store=world.store, reviews=InMemoryReviews(world.store, world.clock),
                                     policy=world.policy, thumbnails=FakeThumbnails(), actor=ACTOR,
                                     image_origins=("https://*.amazonaws.com",), stack_name="prod")
        self.guard = Guard(port=PORT)
        self.client: FlaskClient = create_app(self.backend, self.guard).test_client()

    def judged(self, key: str, scenes: list[SceneResult]) -> VerdictRecord:
        """An upload scanned with `scenes` and decided by the world's policy."""
        world = self.world
        ref = world.objects.put(BUCKET, key, make_image(seed=len(key)))
        claim = world.store.claim(ref, lease_seconds=90, max_attempts=3, by="submit")
        assert claim.lease_token
        world.store.mark_pending(ref.data_id, lease_token=claim.lease_token, task_id=f"t-{key}", due_at=0,
                                 url_expires_at=None, details={"size": 100}, by="submit")
        result = TaskResult(code=200, msg="OK", task_id=f"t-{key}", data_id=ref.data_id, results=tuple(scenes))
        assert apply_result(world.store, world.policy, result, record_id=ref.data_id, by="callback").changed
        return self.record(ref.data_id)

    def record(self, record_id: str) -> VerdictRecord:
        record = self.world.store.get(record_id)
        assert record is not None
        return record

    def sign_in(self) -> TestResponse:
        return self.client.get(f"/?key={self.guard.access_key}", base_url=BASE)

    def get(self, path: str, **headers: str) -> TestResponse:
        return self.client.get(path, base_url=BASE, headers=headers)

    def post(self, body: Any, *, token: str | None = RIGHT, origin: str | None = BASE,
             **headers: str) -> TestResponse:
        """POST a decision as the page does; `token` RIGHT: this server's CSRF token, None: none."""
        sent = dict(headers)
        if token is not None:
            sent["X-CSRF-Token"] = self.guard.csrf_token if token is RIGHT else token
        if origin is not None:
            sent["Origin"] = origin
        return self.client.post("/api/decisions", base_url=BASE, json=body, headers=sent)

    @staticmethod
    def decision(record: VerdictRecord, decision: str = "pass", **changes: Any) -> dict[str, Any]:
        return {"record_id": record.id, "decision": decision, "reason": "looks fine to me",
                "request_id": "req-0123456789abcdef", "decision_rev": record.decision_rev, **changes}


@pytest.fixture
def page(world: World) -> Page:
    return Page(world)


# -- who may use it -------------------------------------------------------------------------------


def test_without_the_printed_access_key_nothing_is_served(page: Page) -> None:
    assert page.get("/").status_code == 401
    assert page.get("/api/queue").status_code == 401
    wrong = page.client.get("/?key=guessed", base_url=BASE)
    assert wrong.status_code == 401 and "Set-Cookie" not in wrong.headers
    assert page.guard.csrf_token not in wrong.get_data(as_text=True)


def test_the_access_key_becomes_a_strict_http_only_session_cookie_and_leaves_the_address_bar(page: Page) -> None:
    response = page.sign_in()

    assert response.status_code == 303 and response.headers["Location"] == "/"
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith(f"greenlight_review_{PORT}={page.guard.session};")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert page.guard.access_key not in cookie
    assert page.get("/").status_code == 200


@pytest.mark.parametrize("host", ["evil.example", f"evil.example:{PORT}", "127.0.0.1:1", f"10.0.0.5:{PORT}"])
def test_another_host_name_is_refused_so_dns_rebinding_reaches_nothing(page: Page, host: str) -> None:
    page.judged("a.png", REVIEW)
    page.sign_in()

    for path in ("/", "/api/queue", "/review.js"):
        assert page.get(path, Host=host).status_code == 403
    assert page.get("/", Host=f"127.0.0.1:{PORT}").status_code == 200
    assert page.get("/", Host=f"localhost:{PORT}").status_code == 401  # its own name; the cookie is 127.0.0.1's


def test_the_server_refuses_to_listen_anywhere_but_loopback(page: Page) -> None:
    for host in ("0.0.0.0", "::", "192.168.1.10", "example.com"):  # noqa: S104 - what must be refused
        with pytest.raises(ValueError, match=r"127\.0\.0\.1 only"):
            ReviewServer(page.backend, host=host)


# -- what the page and the queue hold ---------------------------------------------------------------


def test_the_page_source_holds_the_csrf_token_but_no_credentials_or_presigned_urls(page: Page) -> None:
    page.judged("uploads/a.png", REVIEW)
    page.sign_in()

    html = page.get("/").get_data(as_text=True)
    queue = page.get("/api/queue").get_data(as_text=True)

    assert f'<meta name="csrf-token" content="{page.guard.csrf_token}">' in html
    assert SIGNATURE in queue  # the queue does carry them: the page must not
    for secret in ("X-Amz-", "Signature", "Credential", "AKIA", "amazonaws", page.guard.access_key,
                   page.guard.session):
        assert secret not in html
    assert "innerHTML" not in PAGE_JS and "eval(" not in PAGE_JS  # data is only ever set as text


def test_responses_forbid_framing_outside_scripts_and_caching(page: Page) -> None:
    page.sign_in()
    response = page.get("/")
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "img-src 'self' https://*.amazonaws.com" in csp
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_the_queue_lists_each_version_awaiting_review_with_its_scenes_reasons_and_thumbnail(page: Page) -> None:
    waiting = page.judged("uploads/review.png", REVIEW)
    page.judged("uploads/clean.png", PASS)
    page.sign_in()

    data = page.get("/api/queue").get_json()

    assert [item["key"] for item in data["items"]] == ["uploads/review.png"]
    item = data["items"][0]
    assert item["id"] == waiting.id and item["version_id"] == waiting.version_id
    assert item["decided_at"] == waiting.decided_at and item["decision_rev"] == waiting.decision_rev
    assert item["reasons"] == list(waiting.decision_reasons) and "terrorism/bloody" in item["reasons"][0]
    assert item["scenes"][0] == {"scene": "terrorism", "label": "bloody", "suggestion": "review", "rate": 81.2}
    assert f"/uploads/review.png?versionId={waiting.version_id}&" in item["thumbnail"]
    assert data["actor"] == ACTOR and data["policy"]["version"] == page.world.policy.policy.version


def test_a_quarantined_version_is_shown_from_its_quarantine_copy(page: Page) -> None:
    record = page.judged("uploads/review.png", REVIEW)
    page.world.store.set_quarantine(record.id, {"bucket": "jail", "key": "q/uploads/review.png/x", "version_id": "qv1"})
    page.sign_in()

    item = page.get("/api/queue").get_json()["items"][0]

    assert item["quarantined"] is True
    assert item["thumbnail"].startswith("https://jail.s3.amazonaws.com/q/uploads/review.png/x?versionId=qv1&")


# -- approve and block ------------------------------------------------------------------------------


@pytest.mark.parametrize("decision", ["pass", "block"])
def test_a_decision_is_recorded_as_the_operators_override_and_leaves_the_queue(page: Page, decision: str) -> None:
    record = page.judged("uploads/review.png", REVIEW)
    page.sign_in()

    response = page.post(page.decision(record, decision))

    assert response.status_code == 200 and response.get_json()["applied"] is True
    after = page.record(record.id)
    assert after.state is State.OVERRIDDEN and after.decision == decision
    assert after.override["by"] == ACTOR and after.override["reason"] == "looks fine to me"
    assert after.override["previous_decision"] == "review"
    assert after.decision_rev == record.decision_rev + 1
    assert page.get("/api/queue").get_json()["items"] == []


def test_a_repeated_click_is_a_replay_that_changes_nothing(page: Page) -> None:
    record = page.judged("uploads/review.png", REVIEW)
    page.sign_in()
    assert page.post(page.decision(record)).get_json()["applied"] is True
    once = page.record(record.id)

    again = page.post(page.decision(record))  # same request id, the revision the page showed

    assert again.status_code == 200 and again.get_json()["applied"] is False
    assert page.record(record.id) == once


def test_a_decision_on_a_version_decided_again_since_the_page_showed_it_is_refused(page: Page) -> None:
    record = page.judged("uploads/review.png", REVIEW)
    page.sign_in()
    assert page.post(page.decision(record, request_id="first-click-000000")).status_code == 200
    now = page.record(record.id)

    stale = page.post(page.decision(record, "block", request_id="other-tab-00000000"))

    assert stale.status_code == 409 and "reload" in stale.get_json()["error"]
    assert page.record(record.id) == now


def test_no_decision_is_recorded_while_the_policy_cannot_be_read(page: Page) -> None:
    record = page.judged("uploads/review.png", REVIEW)
    page.world.policy.problem = "/greenlight/policy: could not be read (AccessDenied)"
    page.sign_in()

    response = page.post(page.decision(record))

    assert response.status_code == 503 and "policy" in response.get_json()["error"]
    assert page.record(record.id) == record


@pytest.mark.parametrize("changes", [
    {"decision": "review"}, {"reason": "   "}, {"reason": "x" * 501}, {"request_id": "short"},
    {"request_id": "has spaces in it ok?"}, {"decision_rev": "1"}, {"decision_rev": True}, {"record_id": 7},
])
def test_a_malformed_decision_is_refused_and_changes_nothing(page: Page, changes: dict[str, Any]) -> None:
    record = page.judged("uploads/review.png", REVIEW)
    page.sign_in()

    assert page.post(page.decision(record, **changes)).status_code == 400
    assert page.record(record.id) == record


# -- CSRF ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("what", "request_options", "status"), [
    ("no token", {"token": None}, 403),
    ("a wrong token", {"token": "guessed-token"}, 403),
    ("another origin", {"origin": "http://evil.example"}, 403),
    ("another port of this host", {"origin": "http://127.0.0.1:1"}, 403),
    ("a cross-site fetch", {"Sec-Fetch-Site": "cross-site"}, 403),
    ("no Origin and no Referer", {"origin": None}, 403),
    ("a foreign Referer", {"origin": None, "Referer": "http://evil.example/page"}, 403),
])
def test_a_post_that_did_not_come_from_the_page_is_refused_and_changes_nothing(
        page: Page, what: str, request_options: dict[str, Any], status: int) -> None:
    record = page.judged("uploads/review.png", REVIEW)
    page.sign_in()
    writes = page.world.store.writes

    response = page.post(page.decision(record), **request_options)

    assert response.status_code == status, what
    assert page.record(record.id) == record and page.world.store.writes == writes


def test_a_same_origin_post_with_only_a_referer_and_the_token_is_accepted(page: Page) -> None:
    record = page.judged("uploads/review.png", REVIEW)
    page.sign_in()

    response = page.post(page.decision(record), origin=None, Referer=f"{BASE}/")

    assert response.status_code == 200 and page.record(record.id).state is State.OVERRIDDEN


def test_a_form_post_and_a_post_without_the_session_are_refused(page: Page) -> None:
    record = page.judged("uploads/review.png", REVIEW)
    form = page.client.post("/api/decisions", base_url=BASE, data=page.decision(record),
                            headers={"Origin": BASE, "X-CSRF-Token": page.guard.csrf_token})
    assert form.status_code == 401  # not signed in
    page.sign_in()
    form = page.client.post("/api/decisions", base_url=BASE, data=page.decision(record),
                            headers={"Origin": BASE, "X-CSRF-Token": page.guard.csrf_token})
    assert form.status_code == 415
    assert page.record(record.id) == record


def test_get_never_changes_anything(page: Page) -> None:
    record = page.judged("uploads/review.png", REVIEW)
    page.sign_in()
    writes = page.world.store.writes

    assert page.get("/api/decisions").status_code == 405
    for path in ("/", "/api/queue", f"/?key={page.guard.access_key}"):
        page.get(path)

    assert page.record(record.id) == record and page.world.store.writes == writes


def test_each_server_start_has_its_own_keys(page: Page) -> None:
    other = replace(page.guard)
    fresh = Guard(port=PORT)
    assert {fresh.access_key, fresh.session, fresh.csrf_token}.isdisjoint(
        {other.access_key, other.session, other.csrf_token})
