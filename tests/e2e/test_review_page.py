"""The reviewer page in a real browser (Debian's headless Chromium, driven by Playwright) on the local
pipeline: a reviewer sees what awaits review with its thumbnail, approves one version with a click and
blocks another with the keyboard; the record, the object and Green all hear of it."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from greenlight.domain.record import VerdictRecord
from greenlight.domain.states import State
from greenlight_cli.stack import from_local
from greenlight_cli.web import ReviewBackend, ReviewServer
from greenlight_local.pipeline import LocalPipeline, PipelineOptions
from greenlight_local.processes import ROOT, wait_until
from greenlight_local.readback import DECISION_TAG, object_state
from greenlight_local.review_demo import enforced, review_samples

pytestmark = pytest.mark.e2e

SCREENSHOT = ROOT / ".local" / "screenshots" / "review-page.png"  # docs/review-page.png is a copy of one
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
APPROVED = "uploads/review.png"  # the demo's sample that ends in review
BLOCKED = "uploads/review/poster.jpg"


def chromium() -> str:
    path = os.environ.get("CHROMIUM") or shutil.which("chromium")
    if not path:
        pytest.fail("no chromium on PATH: `make e2e` installs Debian's package (apt-get install chromium)")
    return path


@pytest.fixture
def page(tmp_path: Path) -> Iterator[Page]:
    """A tab of headless Chromium with a fresh profile (Playwright drives the system's browser)."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=chromium(), headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1200, "height": 1000})
        try:
            yield browser.pages[0] if browser.pages else browser.new_page()
        finally:
            browser.close()


def loaded(page: Page, key: str) -> Any:
    """Wait for `key`'s thumbnail to have been fetched and decoded."""
    image = page.locator(f'article.item[data-key="{key}"] img.thumbnail')
    return page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle(),
                                  timeout=15_000)


def test_a_reviewer_approves_and_blocks_on_the_page_and_the_stack_acts_on_it(tmp_path: Path, page: Page) -> None:
    samples = review_samples()
    keys = {s.key for s in samples}
    waiting = sorted(s.key for s in samples if s.decision == "review")
    with LocalPipeline(PipelineOptions(workdir=tmp_path / "run")) as pipeline:
        assert pipeline.stack is not None and pipeline.emulator is not None
        stack, emulator = pipeline.stack, pipeline.emulator
        for sample in samples:
            pipeline.upload(sample.key, sample.body, sample.content_type)
        records = pipeline.wait_for(lambda rs: {r.key for r in rs if enforced(r)} >= keys, timeout=90,
                                    what="every sample decided and enforced")
        before = {r.key: r for r in records}
        assert sorted(k for k, r in before.items() if r.decision == "review") == waiting

        context = from_local(pipeline.state_file)
        requested: list[str] = []
        page.on("request", lambda request: requested.append(request.url))
        with ReviewServer(ReviewBackend.from_context(context)) as server:
            # Given the page, opened from the URL the command prints
            started = time.monotonic()
            response = page.goto(server.launch_url)
            assert response is not None and response.status == 200
            source = response.text()
            assert "X-Amz-" not in source and "testing" not in source and server.guard.access_key not in source
            assert urlsplit(page.url).query == ""  # the access key left the address bar

            # Then it lists what awaits review, oldest first, each with its thumbnail, scenes and reasons
            expect(page.locator("article.item")).to_have_count(len(waiting), timeout=15_000)
            card = page.locator(f'article.item[data-key="{APPROVED}"]')
            for key in waiting:
                loaded(page, key)
            review = before[APPROVED]
            expect(card).to_contain_text(review.decision_reasons[0])
            expect(card.locator("table.scenes")).to_contain_text("bloody")
            expect(card.locator("table.scenes")).to_contain_text("81.20")
            expect(card).to_contain_text(str(review.version_id))
            # the presigned URL is in the DOM the script built, never in the page's source
            assert "X-Amz-Signature=" in str(card.locator("img.thumbnail").get_attribute("src"))
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOT), full_page=True)

            # When the reviewer clicks Approve on the sample
            card.locator("button.approve").click()
            expect(card).to_have_count(0, timeout=15_000)
            expect(page.locator("#status")).to_contain_text(f"Approved {APPROVED}: now OVERRIDDEN, decision pass")

            # ... and blocks another with the keyboard: k to the top, j down to it, b to block
            expect(page.locator("article.item")).to_have_count(len(waiting) - 1)
            listed = page.locator("article.item").evaluate_all("nodes => nodes.map(node => node.dataset.key)")
            for _ in listed:
                page.keyboard.press("k")
            for _ in range(listed.index(BLOCKED)):
                page.keyboard.press("j")
            expect(page.locator("article.item.selected")).to_have_attribute("data-key", BLOCKED)
            page.keyboard.press("b")
            expect(page.locator(f'article.item[data-key="{BLOCKED}"]')).to_have_count(0, timeout=15_000)
            clicked = time.monotonic() - started

        # Then each record holds the person's override, and the stack acted on each
        approved = wait_until(lambda: done(pipeline, before[APPROVED].id), timeout=30, what="the approval enforced")
        assert approved.state is State.OVERRIDDEN and approved.decision == "pass"
        assert approved.override["by"] == context.caller() and approved.override["previous_decision"] == "review"
        assert approved.override["reason"] == "approved on the review page"
        wait_until(lambda: object_state(stack, approved).tags.get(DECISION_TAG) == "pass", timeout=30,
                   what="the object retagged pass")
        feedback = wait_until(lambda: [body for body in emulator.feedback() if body.get("taskId") == review.task_id],
                              timeout=30, what="Green's feedback request")
        assert feedback[0]["suggestion"] == "pass" and feedback[0]["dataId"] == review.id
        assert feedback[0]["note"] == "approved on the review page"
        told = wait_until(lambda: feedback_sent(pipeline, review.id), timeout=30, what="the feedback recorded")
        assert told.feedback["status"] == "accepted"

        blocked = wait_until(lambda: done(pipeline, before[BLOCKED].id), timeout=30, what="the block enforced")
        assert blocked.decision == "block" and blocked.override["reason"] == "blocked on the review page"
        quarantined = object_state(stack, blocked)
        assert not quarantined.at_key and quarantined.quarantined_at

    # Nothing the page loaded came from anywhere but this machine; thumbnails were presigned per version.
    assert requested and {urlsplit(url).hostname for url in requested} == {"127.0.0.1"}
    assert any(f"versionId={review.version_id}" in url and "X-Amz-Expires=300" in url for url in requested)
    print(f"\nreview page: listed, approved and blocked in {clicked:.1f}s; screenshot {SCREENSHOT}")


def done(pipeline: LocalPipeline, record_id: str) -> VerdictRecord | None:
    record = pipeline.store.get(record_id)
    return record if record is not None and record.state is State.OVERRIDDEN and enforced(record) else None


def feedback_sent(pipeline: LocalPipeline, record_id: str) -> VerdictRecord | None:
    record = pipeline.store.get(record_id)
    return record if record is not None and record.feedback.get("sent") else None
