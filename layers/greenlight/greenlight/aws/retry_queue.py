"""A queue of work to try again later (SQS): enforcement steps that failed go here, so one failing
object never holds up the verdict table's stream for the others."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


class SqsRetryQueue:
    def __init__(self, client: Any, queue_url: str) -> None:
        self._client = client
        self.queue_url = queue_url

    def later(self, message: Mapping[str, Any], delay_seconds: int) -> None:
        self._client.send_message(QueueUrl=self.queue_url, MessageBody=json.dumps(dict(message)),
                                  DelaySeconds=max(0, min(900, delay_seconds)))
