"""AWS list prices (us-east-1) and the cost of 1,000 images from measured usage.

Every price carries where it comes from. This machine has no internet: no price was read live.
"stored copy" prices were checked on 2026-12-03 against stored copies of public pages (the search
tool's corpus), whose own dates are given; "as published" prices are AWS's list prices as known to
the author of this module, not re-read: check both at the URL before relying on them. No free tier
is applied (it is per account, not per image).

Stdlib only, pure: unit-tested in tests/unit/test_bench_costs.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

PRICES_CHECKED = "2026-12-03"
REGION = "us-east-1"


@dataclass(frozen=True)
class Price:
    usage: str  # the usage key it prices (see `cost_lines`)
    service: str
    what: str
    usd: float  # per `per` units of usage
    per: float
    source: str
    status: str  # where the figure was checked

    @property
    def unit_usd(self) -> float:
        return self.usd / self.per

    def describe(self) -> str:
        per = f"{self.per:,.0f} " if self.per != 1 else ""
        return f"{self.service} {self.what}: ${self.usd:g} per {per}({self.status}; {self.source})"


STORED_DDB = "stored copy of airbyte.com/data-engineering-resources/dynamodb-pricing, US East, after AWS's Nov 2024 cut"
STORED_LAMBDA = "stored copies of cloudchipr.com/blog/aws-lambda-pricing (2024) and a 2025 Lambda cost guide"
AS_PUBLISHED = "as published, not re-read"

PRICES: tuple[Price, ...] = (
    Price("lambda_requests", "Lambda", "requests", 0.20, 1e6, "https://aws.amazon.com/lambda/pricing/", STORED_LAMBDA),
    Price("lambda_gb_seconds", "Lambda", "arm64 duration (GB-s, first 7.5 billion a month)", 0.0000133334, 1,
          "https://aws.amazon.com/lambda/pricing/", STORED_LAMBDA),
    Price("dynamodb_wru", "DynamoDB", "on-demand write request units", 0.625, 1e6,
          "https://aws.amazon.com/dynamodb/pricing/on-demand/", STORED_DDB),
    Price("dynamodb_rru", "DynamoDB", "on-demand read request units", 0.125, 1e6,
          "https://aws.amazon.com/dynamodb/pricing/on-demand/", STORED_DDB),
    Price("s3_put_requests", "S3", "PUT, COPY, POST, LIST requests (tagging included)", 0.005, 1000,
          "https://aws.amazon.com/s3/pricing/", AS_PUBLISHED),
    Price("s3_get_requests", "S3", "GET, HEAD and other requests", 0.0004, 1000, "https://aws.amazon.com/s3/pricing/",
          AS_PUBLISHED),
    Price("s3_egress_gb", "S3", "data transfer out to the internet (first 10 TB a month)", 0.09, 1,
          "https://aws.amazon.com/s3/pricing/ (Data transfer)", AS_PUBLISHED),
    Price("sqs_requests", "SQS", "standard queue requests (per 64 KB chunk)", 0.40, 1e6,
          "https://aws.amazon.com/sqs/pricing/", AS_PUBLISHED),
    Price("eventbridge_events", "EventBridge", "custom events published (per 64 KB chunk); AWS service events "
          "such as S3's are free", 1.00, 1e6, "https://aws.amazon.com/eventbridge/pricing/", AS_PUBLISHED),
    Price("apigw_requests", "API Gateway", "HTTP API requests (first 300 million a month)", 1.00, 1e6,
          "https://aws.amazon.com/api-gateway/pricing/", AS_PUBLISHED),
    Price("secrets_calls", "Secrets Manager", "API calls", 0.05, 10_000,
          "https://aws.amazon.com/secrets-manager/pricing/", AS_PUBLISHED),
    Price("logs_gb", "CloudWatch Logs", "ingestion (Standard log class)", 0.50, 1,
          "https://aws.amazon.com/cloudwatch/pricing/", AS_PUBLISHED),
)
PRICE_BY_USAGE = {price.usage: price for price in PRICES}
FREE = ("DynamoDB Streams reads by Lambda's event source mapping", "S3 events to EventBridge's default bus",
        "EventBridge deliveries to the SQS target", "SSM Parameter Store standard parameters (GetParameter)")


@dataclass(frozen=True)
class CostLine:
    service: str
    what: str
    quantity: float  # per 1,000 images
    usd: float  # per 1,000 images


def cost_lines(usage_per_1000: Mapping[str, float]) -> list[CostLine]:
    """One line per priced usage, dearest first. Unknown usage keys are an error (a typo would
    silently drop a cost)."""
    unknown = sorted(set(usage_per_1000) - set(PRICE_BY_USAGE))
    if unknown:
        raise KeyError(f"no price for {', '.join(unknown)}")
    lines = [CostLine(price.service, price.what, usage_per_1000[price.usage],
                      usage_per_1000[price.usage] * price.unit_usd)
             for price in PRICES if price.usage in usage_per_1000]
    return sorted(lines, key=lambda line: -line.usd)


def total(lines: list[CostLine]) -> float:
    return sum(line.usd for line in lines)


def by_service(lines: list[CostLine]) -> dict[str, float]:
    found: dict[str, float] = {}
    for line in lines:
        found[line.service] = found.get(line.service, 0.0) + line.usd
    return dict(sorted(found.items(), key=lambda item: -item[1]))
