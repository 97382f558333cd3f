"""The moderation policy (greenlight.domain.policy): what each rule decides, the reasons it records,
and every document it refuses, with the field named."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from typing import Any

import pytest

from greenlight.domain.policy import (
    DEFAULT_POLICY,
    Decision,
    Policy,
    PolicyError,
    Verdict,
    decide_scanned,
    decide_unscanned,
    initial_policy_json,
    parse_policy,
)
from greenlight.domain.states import State
from greenlight.green.wire import SceneResult

EXAMPLE: dict[str, Any] = {
    "version": "2026-12-03.1",
    "mode": "enforce",
    "scenes": {
        "porn": {"default": "green", "labels": {"porn": {"block": 90, "review": 50}, "sexy": {"review": 85},
                                                "*": {"block": 95}}},
        "terrorism": {"labels": {"bloody": {"block": 80, "review": 60}}},
        "ad": {"default": "review"},
    },
    "unscanned": {
        "skipped": {"default": "pass", "reasons": {"too_large": "review", "url_too_long": "review"}},
        "error": {"default": "review", "reasons": {"gave_up_after": "block", "gave_up_after_1": "pass"}},
        "superseded": "pass",
    },
    "known_content": {"block_identical": True, "pass_identical_sha256": False},
}
POLICY = parse_policy(json.dumps(EXAMPLE))


def scene(name: str, label: str, rate: float, suggestion: str = "pass") -> SceneResult:
    return SceneResult(name, label, suggestion, rate)


def decide(*scenes: SceneResult, policy: Policy = POLICY) -> tuple[str, tuple[str, ...]]:
    decision = decide_scanned(policy, scenes)
    return decision.value, decision.reasons


# -- scanned versions -------------------------------------------------------------------------------


@pytest.mark.parametrize(("rate", "expected", "reason"), [
    (99.6, "block", "porn/porn 99.6 >= block 90"),
    (90, "block", "porn/porn 90 >= block 90"),
    (89.99, "review", "porn/porn 89.99 >= review 50"),
    (50, "review", "porn/porn 50 >= review 50"),
    (49.9, "pass", "porn/porn 49.9 < review 50"),
])
def test_a_label_rule_blocks_reviews_or_passes_by_its_thresholds(rate: float, expected: str, reason: str) -> None:
    # Green's own suggestion plays no part once a rule applies
    assert decide(scene("porn", "porn", rate, suggestion="review")) == (expected, (reason,))


def test_a_rule_with_only_a_review_threshold_never_blocks() -> None:
    assert decide(scene("porn", "sexy", 100, "block")) == ("review", ("porn/sexy 100 >= review 85",))
    assert decide(scene("porn", "sexy", 84, "block")) == ("pass", ("porn/sexy 84 < review 85",))


def test_a_rule_with_only_a_block_threshold_passes_below_it() -> None:
    assert decide(scene("porn", "vulgar", 94.5, "review")) == ("pass", ("porn/vulgar 94.5 < block 95",))


def test_the_star_rule_covers_labels_not_listed_and_an_exact_label_wins_over_it() -> None:
    assert decide(scene("porn", "vulgar", 96)) == ("block", ("porn/vulgar 96 >= block 95",))
    # "sexy" has its own rule: 96 would block under "*", but sexy only ever reviews
    assert decide(scene("porn", "sexy", 96)) == ("review", ("porn/sexy 96 >= review 85",))


def test_without_a_rule_the_scene_default_decides() -> None:
    # terrorism has no default: Green's suggestion for the scene
    assert decide(scene("terrorism", "politics", 99, "review")) == (
        "review", ("terrorism/politics: Green suggests review",))
    assert decide(scene("terrorism", "politics", 99, "pass")) == ("pass", ("terrorism/politics: Green suggests pass",))
    # ad's default is review, whatever Green says
    assert decide(scene("ad", "spam", 99, "pass")) == ("review", ("ad/spam: scene default review",))


def test_normal_always_passes_even_where_a_star_rule_or_green_would_block() -> None:
    assert decide(scene("porn", "normal", 99.9, "block")) == ("pass", ("porn/normal: pass",))
    assert decide(scene("ad", "normal", 99.9, "block")) == ("pass", ("ad/normal: pass",))


def test_a_scene_the_policy_does_not_list_gets_greens_suggestion() -> None:
    assert decide(scene("qrcode", "qrcode", 99, "block")) == (
        "block", ("qrcode/qrcode: Green suggests block (scene not in policy)",))


def test_a_suggestion_green_should_not_give_is_reviewed() -> None:
    assert decide(scene("qrcode", "qrcode", 99, "maybe")) == (
        "review", ("qrcode/qrcode: Green suggests 'maybe', review (scene not in policy)",))


def test_a_rate_a_threshold_cannot_judge_is_reviewed() -> None:
    assert decide(scene("porn", "porn", float("nan"))) == ("review", ("porn/porn rate unknown",))
    assert decide(scene("porn", "porn", 101)) == ("review", ("porn/porn rate unknown",))


def test_the_most_severe_scene_decides_and_its_reason_comes_first() -> None:
    value, reasons = decide(scene("porn", "normal", 99), scene("terrorism", "bloody", 65),
                            scene("porn", "porn", 95), scene("qrcode", "qrcode", 99, "review"))
    assert value == "block"
    assert reasons == ("porn/porn 95 >= block 90", "terrorism/bloody 65 >= review 60",
                       "qrcode/qrcode: Green suggests review (scene not in policy)", "porn/normal: pass")
    assert decide(scene("porn", "normal", 99), scene("terrorism", "bloody", 65))[0] == "review"
    assert decide(scene("porn", "normal", 99), scene("terrorism", "bloody", 10))[0] == "pass"


def test_no_scene_results_are_reviewed() -> None:
    assert decide() == ("review", ("no scene results: review",))


def test_a_records_stored_scenes_decide_like_greens_results() -> None:
    # what DynamoVerdictStore.finish stores: scene -> {label, suggestion, rate}; rates may come back as Decimal
    stored = {"porn": {"label": "porn", "suggestion": "block", "rate": Decimal("99.6")},
              "terrorism": {"label": "bloody", "suggestion": "review", "rate": 61}}
    from_record = decide_scanned(POLICY, stored)
    from_green = decide_scanned(POLICY, [scene("porn", "porn", 99.6, "block"),
                                         scene("terrorism", "bloody", 61, "review")])
    assert from_record == from_green
    assert from_record.reasons == ("porn/porn 99.6 >= block 90", "terrorism/bloody 61 >= review 60")
    assert decide_scanned(POLICY, {"porn": {"label": "porn", "suggestion": "pass"}}).value == "review"  # no rate


def test_a_decision_carries_the_policy_and_what_a_record_stores() -> None:
    decision = decide_scanned(POLICY, [scene("porn", "porn", 99.6, "block")])
    assert decision == Decision("block", "2026-12-03.1", "enforce", ("porn/porn 99.6 >= block 90",))
    assert decision.enforced
    assert decision.to_record() == {"decision": "block", "policy_version": "2026-12-03.1",
                                    "decision_mode": "enforce", "decision_reasons": ["porn/porn 99.6 >= block 90"]}
    assert not decide_scanned(DEFAULT_POLICY, []).enforced


# -- unscanned versions -----------------------------------------------------------------------------


@pytest.mark.parametrize(("state", "reason", "expected", "text"), [
    (State.SKIPPED, "not_an_image", "pass", "skipped not_an_image: pass"),
    (State.SKIPPED, "too_large", "review", "skipped too_large: review"),
    (State.SKIPPED, "url_too_long", "review", "skipped url_too_long: review"),
    (State.SKIPPED, None, "pass", "skipped: pass"),
    (State.ERROR, "green_590_bad_format", "review", "error green_590_bad_format: review"),
    (State.ERROR, "gave_up_after_3_scans", "block", "error gave_up_after_3_scans: block (rule gave_up_after)"),
    # the longest matching key wins
    (State.ERROR, "gave_up_after_1_scans", "pass", "error gave_up_after_1_scans: pass (rule gave_up_after_1)"),
    (State.SUPERSEDED, "overwritten_before_scan", "pass", "superseded overwritten_before_scan: pass"),
])
def test_unscanned_versions_get_their_states_rule_and_reason_overrides(
        state: State, reason: str | None, expected: Verdict, text: str) -> None:
    assert decide_unscanned(POLICY, state, reason) == Decision(expected, "2026-12-03.1", "enforce", (text,))


@pytest.mark.parametrize("state", [State.SKIPPED, State.ERROR, State.SUPERSEDED])
@pytest.mark.parametrize("verdict", ["pass", "review", "block"])
def test_each_unscanned_state_can_fail_open_closed_or_to_review(state: State, verdict: str) -> None:
    document = copy.deepcopy(EXAMPLE)
    document["unscanned"][state.value.lower()] = verdict
    assert decide_unscanned(parse_policy(document), state, "too_large").value == verdict


@pytest.mark.parametrize("state", [State.RECEIVED, State.PENDING, State.FINAL])
def test_only_unscanned_states_are_decided_that_way(state: State) -> None:
    with pytest.raises(ValueError, match="not an unscanned state"):
        decide_unscanned(POLICY, state, None)


# -- the built-in and initial policies ----------------------------------------------------------------


def test_the_builtin_policy_follows_green_and_only_records() -> None:
    assert (DEFAULT_POLICY.version, DEFAULT_POLICY.mode) == ("builtin-1", "shadow")
    for suggestion in ("pass", "review", "block"):
        assert decide_scanned(DEFAULT_POLICY, [scene("porn", "porn", 1, suggestion)]).value == suggestion
    expected = {(State.SKIPPED, "not_an_image"): "pass", (State.SKIPPED, "too_large"): "review",
                (State.SKIPPED, "url_too_long"): "review", (State.ERROR, "green_590_bad_format"): "review",
                (State.SUPERSEDED, "newer_version_seen"): "pass"}
    assert {key: decide_unscanned(DEFAULT_POLICY, *key).value for key in expected} == expected
    assert DEFAULT_POLICY.known_content.block_identical and not DEFAULT_POLICY.known_content.pass_identical_sha256


@pytest.mark.parametrize("mode", ["enforce", "shadow"])
def test_the_initial_parameter_value_is_the_builtin_policy_in_a_chosen_mode(mode: str) -> None:
    parsed = parse_policy(initial_policy_json(mode))
    assert (parsed.version, parsed.mode) == ("default-1", mode)
    assert parsed.to_document() | {"version": "builtin-1", "mode": "shadow"} == DEFAULT_POLICY.to_document()
    with pytest.raises(PolicyError, match=r"^mode: must be one of enforce, shadow$"):
        initial_policy_json("dry-run")


def test_a_policy_reads_back_from_its_document() -> None:
    assert parse_policy(POLICY.to_document()) == POLICY
    assert parse_policy(json.dumps(POLICY.to_document()).encode()) == POLICY


def test_optional_parts_default_to_greens_suggestion_and_known_content_defaults() -> None:
    policy = parse_policy({"version": "v1", "mode": "shadow",
                           "unscanned": {"skipped": "pass", "error": "review", "superseded": "pass"}})
    assert policy.scenes == {}
    assert policy.known_content.block_identical and not policy.known_content.pass_identical_sha256
    assert decide_scanned(policy, [scene("porn", "porn", 99, "block")]).reasons == (
        "porn/porn: Green suggests block (scene not in policy)",)


# -- refused documents ------------------------------------------------------------------------------


def changed(path: str, value: Any) -> dict[str, Any]:
    """EXAMPLE with the dotted `path` set to `value` (DELETE removes it)."""
    document = copy.deepcopy(EXAMPLE)
    *parents, last = path.split(".")
    target = document
    for part in parents:
        target = target[part]
    if value is DELETE:
        del target[last]
    else:
        target[last] = value
    return document


DELETE = object()
REFUSED = [
    (changed("version", DELETE), "(document): missing 'version'"),
    (changed("mode", DELETE), "(document): missing 'mode'"),
    (changed("unscanned", DELETE), "(document): missing 'unscanned'"),
    (changed("colour", "green"), "colour: unknown field (allowed: version, mode, scenes, unscanned, known_content)"),
    (changed("version", ""), "version: must be 1 to 64 letters, digits, '.', '_' or '-'"),
    (changed("version", "v" * 65), "version: must be 1 to 64 letters, digits, '.', '_' or '-'"),
    (changed("version", "2026 12"), "version: must be 1 to 64 letters, digits, '.', '_' or '-'"),
    (changed("version", 7), "version: must be 1 to 64 letters, digits, '.', '_' or '-'"),
    (changed("mode", "dry-run"), "mode: must be one of enforce, shadow"),
    (changed("scenes", ["porn"]), "scenes: must be an object"),
    (changed("scenes.prn", {}), "scenes.prn: unknown scene (known: ad, live, logo, porn, qrcode, terrorism)"),
    (changed("scenes.porn", "strict"), "scenes.porn: must be an object"),
    (changed("scenes.porn.threshold", 90), "scenes.porn.threshold: unknown field (allowed: default, labels)"),
    (changed("scenes.porn.default", "allow"), "scenes.porn.default: must be one of green, pass, review, block"),
    (changed("scenes.porn.labels", [1]), "scenes.porn.labels: must be an object"),
    (changed("scenes.porn.labels.normal", {"block": 99}),
     "scenes.porn.labels.normal: the label 'normal' always passes; remove this rule"),
    (changed("scenes.porn.labels.porn", 90), "scenes.porn.labels.porn: must be an object"),
    (changed("scenes.porn.labels.porn", {}), "scenes.porn.labels.porn: needs a 'block' or a 'review' threshold"),
    (changed("scenes.porn.labels.porn.pass", 10),
     "scenes.porn.labels.porn.pass: unknown field (allowed: block, review)"),
    (changed("scenes.porn.labels.porn.block", 101), "scenes.porn.labels.porn.block: must be a number from 0 to 100"),
    (changed("scenes.porn.labels.porn.block", -1), "scenes.porn.labels.porn.block: must be a number from 0 to 100"),
    (changed("scenes.porn.labels.porn.block", "90"), "scenes.porn.labels.porn.block: must be a number from 0 to 100"),
    (changed("scenes.porn.labels.porn.block", True), "scenes.porn.labels.porn.block: must be a number from 0 to 100"),
    (changed("scenes.porn.labels.porn.block", float("nan")),
     "scenes.porn.labels.porn.block: must be a number from 0 to 100"),
    (changed("scenes.porn.labels.porn.review", 95), "scenes.porn.labels.porn.review: must not be above block (90)"),
    (changed("scenes.porn.labels." + "x" * 65, {"block": 1}),
     f"scenes.porn.labels.{'x' * 65}: a label must be 1 to 64 characters"),
    (changed("unscanned", "pass"), "unscanned: must be an object"),
    (changed("unscanned.error", DELETE), "unscanned: missing 'error'"),
    (changed("unscanned.failed", "pass"), "unscanned.failed: unknown field (allowed: skipped, error, superseded)"),
    (changed("unscanned.superseded", "allow"), "unscanned.superseded: must be one of pass, review, block"),
    (changed("unscanned.superseded", 1),
     "unscanned.superseded: must be one of pass, review, block, or an object with 'default' and 'reasons'"),
    (changed("unscanned.skipped.default", DELETE), "unscanned.skipped: missing 'default'"),
    (changed("unscanned.skipped.default", "ok"), "unscanned.skipped.default: must be one of pass, review, block"),
    (changed("unscanned.skipped.why", {}), "unscanned.skipped.why: unknown field (allowed: default, reasons)"),
    (changed("unscanned.skipped.reasons", "too_large"), "unscanned.skipped.reasons: must be an object"),
    (changed("unscanned.skipped.reasons.too_large", "drop"),
     "unscanned.skipped.reasons.too_large: must be one of pass, review, block"),
    (changed("unscanned.skipped.reasons.too large", "review"),
     "unscanned.skipped.reasons.too large: a reason must be 1 to 64 letters, digits, '_' or '-'"),
    (changed("unscanned.skipped.reasons.", "review"),
     "unscanned.skipped.reasons.: a reason must be 1 to 64 letters, digits, '_' or '-'"),
    (changed("known_content.block_identical", "yes"), "known_content.block_identical: must be true or false"),
    (changed("known_content.pass_identical_sha256", 1), "known_content.pass_identical_sha256: must be true or false"),
    (changed("known_content.trust", True),
     "known_content.trust: unknown field (allowed: block_identical, pass_identical_sha256)"),
    ([EXAMPLE], "(document): must be an object"),
]


@pytest.mark.parametrize(("document", "message"), REFUSED, ids=[message.split(":")[0] for _, message in REFUSED])
def test_an_invalid_policy_is_refused_naming_the_field(document: Any, message: str) -> None:
    with pytest.raises(PolicyError) as refused:
        parse_policy(document)
    assert str(refused.value) == message
    assert refused.value.field == message.split(": ", 1)[0]


@pytest.mark.parametrize(("text", "message"), [
    ('{"version": "v1", "mode": ', "(document): not valid JSON (Expecting value: line 1 column 27 (char 26))"),
    (b'{"version": "\xff"}', "(document): not valid JSON ("),
    ('{"version": "v1", "version": "v2"}', "(document): duplicate key 'version'"),
    ('{"version": "v1", "mode": "enforce", "scenes": {"porn": {"labels": {"porn": {"block": NaN}}}}}',
     "(document): NaN is not a number"),
    ("[" * 100_000 + "]" * 100_000, "(document): not valid JSON ("),
    ("", "(document): not valid JSON ("),
])
def test_text_that_is_not_a_json_policy_is_refused_as_the_document(text: str | bytes, message: str) -> None:
    with pytest.raises(PolicyError) as refused:
        parse_policy(text)
    assert str(refused.value).startswith(message)
    assert refused.value.field == "(document)"
