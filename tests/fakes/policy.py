"""A policy source tests set by hand (greenlight.aws.policy_source.SsmPolicySource without SSM)."""

from __future__ import annotations

from greenlight.domain.policy import DEFAULT_POLICY, Policy


class StaticPolicySource:
    """Returns `policy`; `problem` is what a refused update would report (None: the policy is current)."""

    def __init__(self, policy: Policy = DEFAULT_POLICY, problem: str | None = None) -> None:
        self.policy = policy
        self.problem = problem
        self.reads = 0

    def current(self) -> Policy:
        self.reads += 1
        return self.policy
