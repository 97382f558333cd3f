"""The moderation policy: one versioned document that turns Green's per-scene labels and rates, or a
version that was never scanned, into one decision: pass, review or block.

    {"version": "2026-12-03.1", "mode": "enforce",
     "scenes": {"porn": {"default": "green", "labels": {"porn": {"block": 90, "review": 50}, "*": {"block": 95}}}},
     "unscanned": {"skipped": {"default": "pass", "reasons": {"too_large": "review"}},
                   "error": "review", "superseded": "pass"},
     "known_content": {"block_identical": true, "pass_identical_sha256": false}}

- A scene result is judged by the rule for its label, else the scene's "*" rule: block if rate >= block,
  else review if rate >= review, else pass (rates are Green's 0-100 confidence). With no rule, the scene's
  `default` decides ("green", the default: Green's own suggestion for that scene). A scene the policy
  does not list gets Green's suggestion; the label "normal" always passes.
- The object's decision is the most severe of its scenes' (block > review > pass); no scenes: review.
- SKIPPED, ERROR and SUPERSEDED versions get `unscanned.<state>`: a decision, or {"default": decision,
  "reasons": {reason: decision}}; a reason key matches the record's reason exactly or as a prefix
  ("gave_up_after" matches "gave_up_after_3_scans"), the longest matching key wins.
- `mode`: "shadow" decides and records only; "enforce" also acts on the object.
- `known_content` (optional): block_identical (default true), pass_identical_sha256 (default false), for the
  handling of versions identical to content already judged.
- A rate that is missing or outside 0-100 where a threshold applies: review ("rate unknown").
Anything else is refused: `parse_policy` raises PolicyError naming the bad field.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, cast

from greenlight.domain.states import State
from greenlight.green.wire import KNOWN_SCENES, SUGGESTION_RANK, SceneResult

Verdict = Literal["pass", "review", "block"]
VERDICTS: tuple[Verdict, ...] = ("pass", "review", "block")
MODES = ("enforce", "shadow")
GREEN = "green"  # a scene default: Green's own suggestion
ANY_LABEL = "*"
NORMAL = "normal"
VERSION_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
REASON_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
DOCUMENT = "(document)"


class PolicyError(ValueError):
    """A policy refused; str is "<dotted.field.path>: <what is wrong>"."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Thresholds:
    block: float | None = None
    review: float | None = None

    def judge(self, rate: float) -> tuple[Verdict, str]:
        """The decision for a rate, with the comparison that made it ("99.6 >= block 90")."""
        if not math.isfinite(rate) or not 0 <= rate <= 100:
            return "review", "rate unknown"
        if self.block is not None and rate >= self.block:
            return "block", f"{rate:g} >= block {self.block:g}"
        if self.review is not None and rate >= self.review:
            return "review", f"{rate:g} >= review {self.review:g}"
        name, bound = ("review", self.review) if self.review is not None else ("block", self.block)
        return "pass", f"{rate:g} < {name} {bound:g}"

    def to_document(self) -> dict[str, float]:
        return {name: value for name, value in (("block", self.block), ("review", self.review)) if value is not None}


@dataclass(frozen=True)
class ScenePolicy:
    default: str = GREEN  # "green" or a Verdict
    labels: Mapping[str, Thresholds] = field(default_factory=dict)

    def to_document(self) -> dict[str, Any]:
        return {"default": self.default, "labels": {k: v.to_document() for k, v in self.labels.items()}}


@dataclass(frozen=True)
class UnscannedRule:
    default: Verdict
    reasons: Mapping[str, Verdict] = field(default_factory=dict)

    def decide(self, reason: str | None) -> tuple[Verdict, str | None]:
        """The decision for a record's reason, and the reason key that matched (None: the default)."""
        matches = [key for key in self.reasons if reason and reason.startswith(key)]
        if not matches:
            return self.default, None
        key = max(matches, key=len)
        return self.reasons[key], key

    def to_document(self) -> str | dict[str, Any]:
        return {"default": self.default, "reasons": dict(self.reasons)} if self.reasons else self.default


@dataclass(frozen=True)
class KnownContent:
    block_identical: bool = True
    pass_identical_sha256: bool = False


@dataclass(frozen=True)
class Policy:
    version: str
    mode: str  # "enforce" | "shadow"
    skipped: UnscannedRule
    error: UnscannedRule
    superseded: UnscannedRule
    scenes: Mapping[str, ScenePolicy] = field(default_factory=dict)
    known_content: KnownContent = KnownContent()

    def to_document(self) -> dict[str, Any]:
        """The policy as a JSON document `parse_policy` reads back to an equal Policy."""
        return {"version": self.version, "mode": self.mode,
                "scenes": {name: scene.to_document() for name, scene in self.scenes.items()},
                "unscanned": {"skipped": self.skipped.to_document(), "error": self.error.to_document(),
                              "superseded": self.superseded.to_document()},
                "known_content": {"block_identical": self.known_content.block_identical,
                                  "pass_identical_sha256": self.known_content.pass_identical_sha256}}


@dataclass(frozen=True)
class Decision:
    value: Verdict
    policy_version: str
    mode: str
    reasons: tuple[str, ...]

    @property
    def enforced(self) -> bool:
        return self.mode == "enforce"

    def to_record(self) -> dict[str, Any]:
        """The fields a verdict record stores about this decision."""
        return {"decision": self.value, "policy_version": self.policy_version, "decision_mode": self.mode,
                "decision_reasons": list(self.reasons)}


# -- deciding ------------------------------------------------------------------------------------------

SceneInput = Sequence[SceneResult] | Mapping[str, Mapping[str, Any]]


def scene_results(scenes: SceneInput) -> tuple[SceneResult, ...]:
    """Green's scene results, or a verdict record's stored `scenes` (scene -> {label, suggestion, rate})."""
    if not isinstance(scenes, Mapping):
        return tuple(scenes)

    def rate(value: Any) -> float:
        try:
            return float(value)
        except (TypeError, ValueError):
            return math.nan

    return tuple(SceneResult(scene=str(name), label=str(item.get("label", "")),
                             suggestion=str(item.get("suggestion", "")), rate=rate(item.get("rate")))
                 for name, item in scenes.items())


def _green(suggestion: str) -> tuple[Verdict, str]:
    if suggestion in VERDICTS:
        return suggestion, f"Green suggests {suggestion}"
    return "review", f"Green suggests {suggestion!r}, review"


def judge_scene(policy: Policy, result: SceneResult) -> tuple[Verdict, str]:
    """One scene result's decision and the reason for it ("porn/porn 99.6 >= block 90")."""
    where = f"{result.scene}/{result.label}"
    if result.label == NORMAL:
        return "pass", f"{where}: pass"
    scene = policy.scenes.get(result.scene)
    if scene is None:
        value, why = _green(result.suggestion)
        return value, f"{where}: {why} (scene not in policy)"
    rule = scene.labels[result.label] if result.label in scene.labels else scene.labels.get(ANY_LABEL)
    if rule is not None:
        value, why = rule.judge(result.rate)
        return value, f"{where} {why}"
    if scene.default == GREEN:
        value, why = _green(result.suggestion)
        return value, f"{where}: {why}"
    return cast(Verdict, scene.default), f"{where}: scene default {scene.default}"


def decide_scanned(policy: Policy, scenes: SceneInput) -> Decision:
    """The decision for a scanned version: the most severe of its scenes', reasons most severe first."""
    judged = [judge_scene(policy, result) for result in scene_results(scenes)]
    if not judged:
        return Decision("review", policy.version, policy.mode, ("no scene results: review",))
    judged.sort(key=lambda item: -SUGGESTION_RANK[item[0]])  # stable: scenes keep their order within a rank
    return Decision(judged[0][0], policy.version, policy.mode, tuple(reason for _, reason in judged))


def decide_unscanned(policy: Policy, state: State, reason: str | None) -> Decision:
    """The decision for a SKIPPED, ERROR or SUPERSEDED version ("skipped not_an_image: pass")."""
    rules = {State.SKIPPED: policy.skipped, State.ERROR: policy.error, State.SUPERSEDED: policy.superseded}
    if state not in rules:
        raise ValueError(f"{state.value} is not an unscanned state")
    value, matched = rules[state].decide(reason)
    text = f"{state.value.lower()} {reason}: {value}" if reason else f"{state.value.lower()}: {value}"
    if matched is not None and matched != reason:
        text += f" (rule {matched})"
    return Decision(value, policy.version, policy.mode, (text,))


# -- parsing -------------------------------------------------------------------------------------------


def _at(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _object(value: Any, path: str, allowed: Sequence[str] | None = None,
            required: Sequence[str] = ()) -> Mapping[str, Any]:
    """`value` as an object; `allowed` None: any keys."""
    if not isinstance(value, Mapping):
        raise PolicyError(path or DOCUMENT, "must be an object")
    for key in value:
        if allowed is not None and key not in allowed:
            raise PolicyError(_at(path, str(key)), f"unknown field (allowed: {', '.join(allowed)})")
    for key in required:
        if key not in value:
            raise PolicyError(path or DOCUMENT, f"missing {key!r}")
    return value


def _choice(value: Any, path: str, choices: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise PolicyError(path, f"must be one of {', '.join(choices)}")
    return value


def _rate(value: Any, path: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 100:  # NaN fails too
        raise PolicyError(path, "must be a number from 0 to 100")
    return float(value)


def _thresholds(value: Any, path: str) -> Thresholds:
    raw = _object(value, path, ("block", "review"))
    rule = Thresholds(block=_rate(raw.get("block"), _at(path, "block")),
                      review=_rate(raw.get("review"), _at(path, "review")))
    if rule.block is None and rule.review is None:
        raise PolicyError(path, "needs a 'block' or a 'review' threshold")
    if rule.block is not None and rule.review is not None and rule.review > rule.block:
        raise PolicyError(_at(path, "review"), f"must not be above block ({rule.block:g})")
    return rule


def _scene(value: Any, path: str) -> ScenePolicy:
    raw = _object(value, path, ("default", "labels"))
    default = _choice(raw.get("default", GREEN), _at(path, "default"), (GREEN, *VERDICTS))
    labels: dict[str, Thresholds] = {}
    for label, rule in _object(raw.get("labels", {}), _at(path, "labels")).items():
        where = _at(_at(path, "labels"), str(label))
        if label == NORMAL:
            raise PolicyError(where, "the label 'normal' always passes; remove this rule")
        if not isinstance(label, str) or not 1 <= len(label) <= 64:
            raise PolicyError(where, "a label must be 1 to 64 characters")
        labels[label] = _thresholds(rule, where)
    return ScenePolicy(default=default, labels=labels)


def _unscanned(value: Any, path: str) -> UnscannedRule:
    if isinstance(value, str):
        return UnscannedRule(cast(Verdict, _choice(value, path, VERDICTS)))
    if not isinstance(value, Mapping):
        raise PolicyError(path, f"must be one of {', '.join(VERDICTS)}, or an object with 'default' and 'reasons'")
    raw = _object(value, path, ("default", "reasons"), ("default",))
    default = cast(Verdict, _choice(raw["default"], _at(path, "default"), VERDICTS))
    reasons: dict[str, Verdict] = {}
    for reason, verdict in _object(raw.get("reasons", {}), _at(path, "reasons")).items():
        where = _at(_at(path, "reasons"), str(reason))
        if not isinstance(reason, str) or not REASON_PATTERN.match(reason):
            raise PolicyError(where, "a reason must be 1 to 64 letters, digits, '_' or '-'")
        reasons[reason] = cast(Verdict, _choice(verdict, where, VERDICTS))
    return UnscannedRule(default, reasons)


def _flag(raw: Mapping[str, Any], name: str, default: bool, path: str) -> bool:
    value = raw.get(name, default)
    if not isinstance(value, bool):
        raise PolicyError(_at(path, name), "must be true or false")
    return value


def _json(text: str | bytes) -> Any:
    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        unique = dict(pairs)
        if len(unique) != len(pairs):
            duplicate = next(key for i, (key, _) in enumerate(pairs) if key in dict(pairs[:i]))
            raise PolicyError(DOCUMENT, f"duplicate key {duplicate!r}")
        return unique

    def no_constant(name: str) -> Any:
        raise PolicyError(DOCUMENT, f"{name} is not a number")

    try:
        return json.loads(text, object_pairs_hook=no_duplicates, parse_constant=no_constant)
    except PolicyError:
        raise
    except (ValueError, RecursionError) as exc:  # bad JSON, bad UTF-8, absurd nesting
        raise PolicyError(DOCUMENT, f"not valid JSON ({exc})") from None


def parse_policy(document: str | bytes | Mapping[str, Any]) -> Policy:
    """A validated Policy from its JSON text (or the parsed object); raises PolicyError naming the field."""
    raw = _object(_json(document) if isinstance(document, str | bytes) else document, "",
                  ("version", "mode", "scenes", "unscanned", "known_content"), ("version", "mode", "unscanned"))
    version = raw["version"]
    if not isinstance(version, str) or not VERSION_PATTERN.match(version):
        raise PolicyError("version", "must be 1 to 64 letters, digits, '.', '_' or '-'")
    scenes: dict[str, ScenePolicy] = {}
    for name, scene in _object(raw.get("scenes", {}), "scenes").items():
        if name not in KNOWN_SCENES:
            raise PolicyError(_at("scenes", str(name)), f"unknown scene (known: {', '.join(sorted(KNOWN_SCENES))})")
        scenes[name] = _scene(scene, _at("scenes", name))
    unscanned = _object(raw["unscanned"], "unscanned", ("skipped", "error", "superseded"),
                        ("skipped", "error", "superseded"))
    known = _object(raw.get("known_content", {}), "known_content", ("block_identical", "pass_identical_sha256"))
    return Policy(version=version, mode=_choice(raw["mode"], "mode", MODES),
                  skipped=_unscanned(unscanned["skipped"], "unscanned.skipped"),
                  error=_unscanned(unscanned["error"], "unscanned.error"),
                  superseded=_unscanned(unscanned["superseded"], "unscanned.superseded"),
                  scenes=scenes,
                  known_content=KnownContent(_flag(known, "block_identical", True, "known_content"),
                                             _flag(known, "pass_identical_sha256", False, "known_content")))


DEFAULT_POLICY = Policy(
    version="builtin-1", mode="shadow",  # used only when no valid policy was ever loaded: decide, don't act
    skipped=UnscannedRule("pass", {"too_large": "review", "url_too_long": "review"}),
    error=UnscannedRule("review"), superseded=UnscannedRule("pass"))


def initial_policy_json(mode: str = "enforce", version: str = "default-1") -> str:
    """DEFAULT_POLICY's rules as the JSON document the stack's policy parameter starts with."""
    document = replace(DEFAULT_POLICY, mode=mode, version=version).to_document()
    return json.dumps(parse_policy(document).to_document(), indent=2)
