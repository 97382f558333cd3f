"""Run the local pipeline with DEBUG logs, forged callbacks included, and look for secrets everywhere
they must not be: every function log line, and every item in the verdict table."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import requests

from green_emulator import make_image
from greenlight.domain.states import TERMINAL
from greenlight_local.pipeline import LocalPipeline, PipelineOptions

pytestmark = pytest.mark.e2e
PRESIGNED_SECRET = re.compile(r"X-Amz-(Signature|Security-Token|Credential)=(?!REDACTED)", re.IGNORECASE)


def test_no_secret_reaches_a_log_line_or_the_table(tmp_path: Path) -> None:
    options = PipelineOptions(workdir=tmp_path / "run", extra_env={"LOG_LEVEL": "DEBUG"})
    with LocalPipeline(options) as pipeline:
        assert pipeline.stack is not None
        keys = [f"leak/{i}.png" for i in range(4)] + ["leak/notes.txt"]
        for index, key in enumerate(keys):
            pipeline.upload(key, make_image(seed=index) if key.endswith(".png") else b"text", "image/png")
        records = pipeline.wait_for(lambda rs: {r.key for r in rs if r.state in TERMINAL} >= set(keys),
                                    timeout=60, what="verdicts")
        # Forged and misdirected callbacks are logged as rejections: those lines must be clean too.
        base = f"http://127.0.0.1:{pipeline.callback_port}/callback"
        token = pipeline.secret_values["callback_token"]
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        assert requests.post(f"{base}/{token}", data={"checksum": "0" * 64, "content": "{}"}, headers=form,
                             timeout=10).status_code == 403
        assert requests.post(f"{base}/guess", data={"checksum": "1", "content": "{}"}, headers=form,
                             timeout=10).status_code == 404
        state = json.loads(pipeline.state_file.read_text(encoding="utf-8"))
        session_token = state["functions"]["submit"]["environment"]["AWS_SESSION_TOKEN"]
        secrets = {name: value for name, value in pipeline.secret_values.items()
                   if name in ("access_key_secret", "uid", "seed", "callback_token") and value}
        secrets["session_token"] = session_token
        raw_items = pipeline.stack.client("dynamodb").scan(TableName=pipeline.stack.table)["Items"]
        lines = list(pipeline.logs())

    assert len(records) >= len(keys)
    assert any('"level":"DEBUG"' in line and "X-Amz-Signature=REDACTED" in line for _, line in lines), \
        "the DEBUG run should have logged redacted presigned URLs"
    assert any("callback rejected" in line for _, line in lines)
    for name, line in lines:
        for secret_name, value in secrets.items():
            assert value not in line, f"{secret_name} leaked into {name}: {line[:200]}"
        assert not PRESIGNED_SECRET.search(line), f"a presigned URL's secret part leaked into {name}: {line[:200]}"
    table_dump = json.dumps(raw_items)
    for secret_name, value in secrets.items():
        assert value not in table_dump, f"{secret_name} leaked into the verdict table"
    assert not PRESIGNED_SECRET.search(table_dump)
