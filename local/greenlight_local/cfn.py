"""Read template.yaml and evaluate its intrinsic functions, so local resources come from the template.

Supports what a SAM template like ours uses: Ref, Fn::Sub, Fn::GetAtt, Fn::If, Fn::Equals,
Fn::Not, Fn::And, Fn::Or, Fn::Join, Fn::Select, Fn::Split, Condition, pseudo parameters and
AWS::NoValue. An intrinsic it cannot evaluate raises instead of guessing.
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

NO_VALUE = object()
_SHORT_TAGS = {
    "Ref": "Ref",
    "Condition": "Condition",
    **{name: f"Fn::{name}" for name in ("Sub", "GetAtt", "If", "Equals", "Not", "And", "Or", "Join", "Select",
                                         "Split", "FindInMap", "Base64", "GetAZs", "ImportValue")},
}


class _Loader(yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader):  # type: ignore[misc]
    """Safe loading plus CloudFormation's short tags (libyaml's parser when present: 20x the pure one)."""


def _construct(tag: str) -> Any:
    long_name = _SHORT_TAGS[tag]

    def construct(loader: yaml.constructor.SafeConstructor, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if long_name == "Fn::GetAtt":
                value = str(value).split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
        return {long_name: value}

    return construct


for _tag in _SHORT_TAGS:
    _Loader.add_constructor(f"!{_tag}", _construct(_tag))


def load_template(path: str | Path) -> dict[str, Any]:
    """The template as data: the caller's own copy (every local stack resolves one)."""
    resolved = Path(path).resolve()
    return copy.deepcopy(_parsed(resolved, resolved.stat().st_mtime_ns))


@functools.lru_cache(maxsize=4)
def _parsed(path: Path, mtime_ns: int) -> dict[str, Any]:  # the file's mtime in the key: an edit is read again
    with open(path, encoding="utf-8") as handle:
        document: dict[str, Any] = yaml.load(handle, Loader=_Loader)  # noqa: S506 - SafeLoader + CFN tags only
    return document


class Resolver:
    """Evaluates intrinsics against parameter values, pseudo parameters and known resource ids."""

    def __init__(self, template: Mapping[str, Any], parameters: Mapping[str, str] | None = None, *,
                 region: str = "us-east-1", account_id: str = "123456789012", stack_name: str = "greenlight-local"):
        self.template = template
        self.values: dict[str, Any] = {}
        for name, spec in (template.get("Parameters") or {}).items():
            self.values[name] = str(spec.get("Default", ""))
        for name, value in (parameters or {}).items():
            if name not in self.values:
                raise KeyError(f"template has no parameter {name}")
            self.values[name] = str(value)
        self.values.update({
            "AWS::Region": region,
            "AWS::AccountId": account_id,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": stack_name,
            "AWS::NoValue": NO_VALUE,
        })
        self.attributes: dict[tuple[str, str], Any] = {}
        self.conditions: dict[str, bool] = {}
        for name, expr in (template.get("Conditions") or {}).items():  # in order: a condition may name earlier ones
            self.conditions[name] = bool(self.resolve(expr))

    def set_resource(self, logical_id: str, ref: str, **attributes: Any) -> None:
        self.values[logical_id] = ref
        for name, value in attributes.items():
            self.attributes[(logical_id, name)] = value

    def condition(self, name: str | None) -> bool:
        return True if name is None else self.conditions[name]

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            items = [self.resolve(v) for v in value]
            return [v for v in items if v is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, arg), = value.items()
            handler = getattr(self, "_" + key.replace("Fn::", "fn_").replace("::", "_"), None)
            if key == "Ref" or key.startswith("Fn::") or key == "Condition":
                if handler is None:
                    raise NotImplementedError(f"intrinsic {key} is not supported locally")
                return handler(arg)
        resolved = {k: self.resolve(v) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not NO_VALUE}

    def _Ref(self, name: str) -> Any:
        if name not in self.values:
            raise KeyError(f"Ref {name}: unknown (resource not created locally?)")
        return self.values[name]

    def _Condition(self, name: str) -> bool:
        return self.conditions[name]

    def _fn_Sub(self, arg: Any) -> str:
        text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in extra:
                return str(extra[name])
            if "." in name:
                logical, attribute = name.split(".", 1)
                return str(self._fn_GetAtt([logical, attribute]))
            return str(self._Ref(name))

        return re.sub(r"\$\{([^}!]+)\}", replace, text)

    def _fn_GetAtt(self, arg: list[str]) -> Any:
        key = (arg[0], arg[1])
        if key not in self.attributes:
            raise KeyError(f"GetAtt {arg[0]}.{arg[1]}: unknown locally")
        return self.attributes[key]

    def _fn_If(self, arg: list[Any]) -> Any:
        name, when_true, when_false = arg
        return self.resolve(when_true if self.conditions[name] else when_false)

    def _fn_Equals(self, arg: list[Any]) -> bool:
        left, right = (self.resolve(a) for a in arg)
        return str(left) == str(right)

    def _fn_Not(self, arg: list[Any]) -> bool:
        return not self.resolve(arg[0])

    def _fn_And(self, arg: list[Any]) -> bool:
        return all(self.resolve(a) for a in arg)

    def _fn_Or(self, arg: list[Any]) -> bool:
        return any(self.resolve(a) for a in arg)

    def _fn_Join(self, arg: list[Any]) -> str:
        return str(arg[0]).join(str(v) for v in self.resolve(arg[1]))

    def _fn_Select(self, arg: list[Any]) -> Any:
        return self.resolve(arg[1])[int(self.resolve(arg[0]))]

    def _fn_Split(self, arg: list[Any]) -> list[str]:
        return str(self.resolve(arg[1])).split(str(arg[0]))
