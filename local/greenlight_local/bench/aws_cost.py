"""AWS: requests per image by service, DynamoDB capacity from real item sizes, Lambda invocations and
GB-seconds, the AWS cost of 1,000 images from list prices, and the verdict record's size (with the
history bound). Read from the metered pipeline runs (pipeline_runs), async + callbacks being the
default; the other two modes are the same run's comparison.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from greenlight_local.bench import costs
from greenlight_local.bench.aws_usage import TYPICAL_IMAGE_BYTES, Usage, usage_of
from greenlight_local.bench.harness import Figure
from greenlight_local.bench.pipeline_runs import CALLBACKS, POLL_ONLY, SYNC, PipelineRun
from greenlight_local.bench.report import Row, Section
from greenlight_local.bench.sizing import item_size
from greenlight_local.bench.stats import percentile

if TYPE_CHECKING:
    from greenlight_local.bench.harness import Bench

HISTORY_CHANGES = 100  # state changes the history-bound probe makes to one record
MODES = (("async + callbacks", CALLBACKS), ("callbacks dropped", POLL_ONLY), ("sync", SYNC))


def usage_for(run: PipelineRun) -> Usage:
    """The usage of the run's trickle waves (the poll-only run's bursts come after them and are left
    out: batch sizes differ, so only trickles compare across modes)."""
    waves = run.waves_named("w")
    images = sum(len(w.images) for w in waves)
    later = [w.started for w in run.waves if w not in waves]
    end = min(later) if later else float("inf")
    meter = [m for m in run.meter if float(m.get("t", m.get("start", 0))) < end]
    stream = [r for r in run.stream if _stream_time(r) < end]
    counts = Counter[str]()
    for wave in waves:
        counts.update(wave.green)
    green = {"downloads": counts["downloads"], "callbacks": {"sent": counts["callbacks_sent"]}}
    return usage_of(images=images, meter=meter, stream=stream, items=run.items, indexes=run.indexes,
                    log_bytes=sum(run.log_bytes.values()) * images // max(1, run.images), green=green,
                    scan_queue=run.scan_queue)


def _stream_time(record: Mapping[str, Any]) -> float:
    """A stream record's creation time (epoch); 0 when it carries none (then it is counted)."""
    created = (record.get("dynamodb") or {}).get("ApproximateCreationDateTime")
    if created is not None and hasattr(created, "timestamp"):
        return float(created.timestamp())
    try:
        return float(created or 0)
    except (TypeError, ValueError):
        return 0.0


def history_bound(bench: Bench) -> tuple[list[int], int]:
    """One record driven through HISTORY_CHANGES state changes by the production store on moto: its
    size after each change, and how many history entries were folded."""
    import time

    from greenlight.aws.dynamo_writes import record_from_item
    from greenlight.aws.verdict_table import DynamoVerdictStore
    from greenlight.domain.identity import ObjectRef
    from greenlight_local.stack import create_stack

    stack = create_stack(bench.services.moto())
    client = stack.client("dynamodb")
    store = DynamoVerdictStore(client, stack.table)
    obj = ObjectRef(stack.bucket, "uploads/2026/12/a-typical-user-upload-name.jpg", 812_345,
                    "9b2cf535f27731c974343645a3985328", "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY", "0055AED6DCD90281E5",
                    "2026-12-03T10:00:00Z")
    claim = store.claim(obj, lease_seconds=90, max_attempts=3, by="submit")
    assert claim.lease_token is not None
    task = "img4wlJcb7p4wH4lAP3Dh9n9Y-1tW1Mn"
    store.mark_pending(obj.data_id, lease_token=claim.lease_token, task_id=task, due_at=time.time() + 60,
                       url_expires_at=time.time() + 3600, details={"image_format": "jpeg"}, by="submit")
    sizes = []
    for _ in range(HISTORY_CHANGES):
        # The same task id each time: the history alone grows (a real rescan adds its new task id to
        # task_ids too, at most MaxScanAttempts of them).
        store.resubmitted(obj.data_id, task_id=task, due_at=time.time() + 60,
                          url_expires_at=time.time() + 3600, reason="result_missing", by="poll")
        item = client.get_item(TableName=stack.table, Key={"id": {"S": obj.data_id}})["Item"]
        sizes.append(item_size(item))
    final = record_from_item(item)
    return sizes, final.history_folded


def bounded(sizes: list[int], window: int = 32, slack: int = 8) -> bool:
    """The size stops growing: its maximum over the last `window` changes (each window holds a whole
    fold cycle) is no higher than over the window before, but for a few bytes (the folded count
    gains digits)."""
    if len(sizes) < 2 * window:
        raise ValueError(f"need at least {2 * window} sizes")
    return max(sizes[-window:]) <= max(sizes[-2 * window:-window]) + slack


def measure(bench: Bench) -> Section:
    runs = [(name, shared.get(bench)) for name, shared in MODES]
    usages = [(name, usage_for(run)) for name, run in runs]
    default = usages[0][1]
    section = Section()
    lines = {name: costs.cost_lines(u.usage_per_1000(TYPICAL_IMAGE_BYTES)) for name, u in usages}
    measured_bytes = {name: u.usage_per_1000(int(percentile(
        [i.size for w in run.waves_named("w") for i in w.images], 50))) for (name, u), (_, run) in
        zip(usages, runs, strict=True)}
    ours_lines = lines[usages[0][0]]
    biggest = ours_lines[0]

    def per_image(u: Usage) -> float:
        return (sum(u.requests.values()) + u.scan_messages + u.callbacks) / u.images

    others = "; ".join(f"{name} {per_image(u):.1f}" for name, u in usages[1:])
    section.rows += [
        Row("AWS requests per image (every service, idle polling apart)", f"{per_image(default):.1f}",
            f"{others}; SDK loop: 1 PutItem", "-", "-", "-"),
        Row("DynamoDB write request units per image (table + indexes + refused + deletes of absent items)",
            f"{wru(default):.1f} ({default.wru_table / default.images:.1f} + "
            f"{sum(default.wru_indexes.values()) / default.images:.1f} + {default.wru_failed / default.images:.1f} + "
            f"{default.wru_unseen / default.images:.1f})",
            "; ".join(f"{name} {wru(u):.1f}" for name, u in usages[1:]) + "; SDK loop: 1", "-"),
        Row("DynamoDB read request units per image", f"{default.rru / default.images:.1f}",
            "; ".join(f"{name} {u.rru / u.images:.1f}" for name, u in usages[1:]) + "; SDK loop: 0"),
        Row("Lambda invocations / GB-s per 1,000 images",
            f"{1000 * sum(default.invocations.values()) / default.images:.0f} / "
            f"{1000 * sum(default.gb_seconds.values()) / default.images:.1f}",
            "; ".join(f"{name} {1000 * sum(u.invocations.values()) / u.images:.0f} / "
                      f"{1000 * sum(u.gb_seconds.values()) / u.images:.1f}" for name, u in usages[1:])),
        Row(f"AWS cost per 1,000 images, USD ({TYPICAL_IMAGE_BYTES / 1e6:g} MB uploads)",
            f"{costs.total(ours_lines):.4f}",
            "; ".join(f"{name} {costs.total(lines[name]):.4f}" for name, _ in usages[1:]), "-", "-", "-"),
        Row("Biggest AWS line per 1,000 images", f"{biggest.service} {biggest.what}: ${biggest.usd:.4f}", "-"),
    ]
    sizes = default.item_sizes
    history, folded = history_bound(bench)
    section.rows += [
        Row("Verdict record size p50 / max (bytes, DynamoDB's count)",
            f"{percentile(sizes, 50):.0f} / {max(sizes)}" if sizes else "-", "-"),
        Row(f"Record size after {HISTORY_CHANGES} state changes (bytes): after 32 / {HISTORY_CHANGES}",
            f"{history[31]} / {history[-1]} (max {max(history)}; {folded} entries folded)", "-", "-",
            "bounded", "PASS" if bounded(history) else "MISS"),
    ]
    section.details += usage_table(usages)
    section.details += cost_table(lines, measured_bytes, usages)
    section.details += [recommendation(default, ours_lines), ""]
    section.settings.append(
        "AWS usage: every AWS request the functions' code and their local event sources made, counted by "
        "botocore hooks in the function hosts (greenlight_local.bench.metered_handler, loaded as each host's "
        "handler by the bench only), over the trickle waves of each pipeline run (per upload); DynamoDB write "
        "units from the verdict table's stream (the old and new image of every successful write, sized as "
        "DynamoDB sizes items, each global secondary index's writes from its projection), refused conditional "
        "writes at the size of their item at the end, read units from the bytes each read returned; Lambda "
        "GB-seconds = measured invocation wall time (1 ms billing) x 0.5 GB (MemorySize 512). Not per image, so "
        "left out: the event sources' empty receives and stream reads (free), and per-container reads of the "
        "secrets and the policy (cached for SECRET_MAX_AGE 300 s / POLICY_MAX_AGE 60 s: a few calls an hour "
        "per warm container). Derived, not measured: one SQS SendMessage per upload (EventBridge to the queue), "
        "one API Gateway request per callback attempt, Lambda's START/END/REPORT log lines and the API's access "
        "log line. Prices: " + "; ".join(p.describe() for p in costs.PRICES) + f"; free: {', '.join(costs.FREE)}. "
        "No free tier applied. Green's own bill is not included: it charges per image and scene (2 scenes by "
        "default, porn and terrorism), daily volume tiers "
        "(https://www.alibabacloud.com/help/en/content-moderation/latest/billing-description, "
        "https://help.aliyun.com/en/document_detail/71546.html, read in stored copies on "
        f"{costs.PRICES_CHECKED}); it dwarfs the AWS figure. Record size: every version record of the async + "
        "callbacks run at the end; the history bound: one record pushed through "
        f"{HISTORY_CHANGES} PENDING->PENDING rescans by DynamoVerdictStore on moto (HISTORY_LIMIT=32: the older "
        "half is folded into a count).")
    for name, u in usages:
        section.settings.extend(f"AWS usage note ({name}): {note}." for note in u.notes)
    return section


def wru(u: Usage) -> float:
    return u.wru_total / u.images


def usage_table(usages: list[tuple[str, Usage]]) -> list[str]:
    keys = sorted({key for _, u in usages for key in u.requests}, key=lambda k: (k[1], k[0], k[2]))
    lines = ["### AWS requests per image, by function, service and operation", "",
             "| Function | Service | Operation | " + " | ".join(name for name, _ in usages) + " |",
             "|---|---|---|" + "---|" * len(usages)]
    for fn, svc, op in keys:
        lines.append(f"| {fn} | {svc} | {op} | " + " | ".join(
            f"{u.requests[(fn, svc, op)] / u.images:.2f}" for _, u in usages) + " |")
    lines.append("| (EventBridge) | sqs | SendMessage, derived | " + " | ".join(
        f"{u.scan_messages / u.images:.2f}" for _, u in usages) + " |")
    lines.append("| (Green) | s3 | GetObject of the presigned URL | " + " | ".join(
        f"{u.green_downloads / u.images:.2f}" for _, u in usages) + " |")
    lines.append("| (Green) | API Gateway | callback requests | " + " | ".join(
        f"{u.callbacks / u.images:.2f}" for _, u in usages) + " |")
    lines.append("| all | DynamoDB | index write units by index | " + " | ".join(
        ", ".join(f"{name} {n / u.images:.2f}" for name, n in u.wru_indexes.most_common()) or "-"
        for _, u in usages) + " |")
    lines.append("| all | Lambda | invocations per image by function | " + " | ".join(
        ", ".join(f"{fn} {n / u.images:.2f}" for fn, n in sorted(u.invocations.items())) for _, u in usages) + " |")
    lines.append("| all | Lambda | GB-s per image by function | " + " | ".join(
        ", ".join(f"{fn} {s / u.images:.3f}" for fn, s in sorted(u.gb_seconds.items())) for _, u in usages) + " |")
    idle = Counter[tuple[str, str, str]]()
    for _, u in usages:
        idle.update(u.idle)
    lines += ["", "Not per image (left out above), whole runs: " + ", ".join(
        f"{fn} {svc} {op} {n}" for (fn, svc, op), n in idle.most_common()) + ".", ""]
    return lines


def cost_table(lines: dict[str, list[costs.CostLine]], measured: dict[str, dict[str, float]],
               usages: list[tuple[str, Usage]]) -> list[str]:
    names = [name for name, _ in usages]
    table = [f"### AWS cost per 1,000 images (USD, {costs.REGION} list prices; uploads of "
             f"{TYPICAL_IMAGE_BYTES / 1e6:g} MB, an assumption, for S3 egress to Green)", "",
             "| Service | Usage | " + " | ".join(f"{name}: quantity / USD" for name in names) + " |",
             "|---|---|" + "---|" * len(names)]
    order = [(line.service, line.what) for line in lines[names[0]]]
    for service, what in order:
        cells = []
        for name in names:
            found = next((x for x in lines[name] if (x.service, x.what) == (service, what)), None)
            cells.append(f"{found.quantity:,.4g} / {found.usd:.4f}" if found else "-")
        table.append(f"| {service} | {what} | " + " | ".join(cells) + " |")
    table.append("| **Total** | | " + " | ".join(f"**{costs.total(lines[name]):.4f}**" for name in names) + " |")
    egress = {name: measured[name]["s3_egress_gb"] * costs.PRICE_BY_USAGE["s3_egress_gb"].unit_usd for name in names}
    table += ["", "With the bench's own tiny PNGs instead, S3 egress would cost " + ", ".join(
        f"{name} ${egress[name]:.6f}" for name in names) + " per 1,000.", ""]
    return table


def recommendation(u: Usage, lines: list[costs.CostLine]) -> str:
    biggest = lines[0]
    total = costs.total(lines)
    indexes = sum(u.wru_indexes.values())
    ddb_writes = u.wru_total
    text = (f"Biggest line: {biggest.service} {biggest.what}, ${biggest.usd:.4f} of ${total:.4f} per 1,000 images "
            f"({biggest.usd / total:.0%}). ")
    if biggest.service == "S3":
        text += ("It is the bytes Green downloads, which no code change here removes: it scales with the upload "
                 "size, so a smaller rendition (a thumbnail presigned for Green instead of the original) or Green's "
                 "own region closer to the bucket is what cuts it. ")
    by_index = ", ".join(f"{name} {n / u.images:.2f}" for name, n in u.wru_indexes.most_common())
    text += (f"Among what greenlight itself does, DynamoDB writes cost {ddb_writes / u.images:.1f} write units per "
             f"image, {indexes / max(ddb_writes, 1):.0%} of them in the global secondary indexes ({by_index} per "
             "image): an index projecting ALL attributes is written again on every change of the record.")
    return text


FIGURE = Figure("aws", "AWS requests per image by service, capacity units, Lambda GB-s, cost per 1,000 images, "
                "record size", measure)
