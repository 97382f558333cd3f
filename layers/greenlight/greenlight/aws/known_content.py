"""Content already judged, remembered by hash in the verdict table: the production `KnownContentStore`.

Items with id "h-<key>" (greenlight.domain.record.KnownContent): the enforcement function writes
them when a decision is made, submit looks them up before paying Green for a scan.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from greenlight.aws.dynamo_writes import client_error, condition_failed, deserialize, serialize
from greenlight.domain.record import KnownContent, iso

BATCH_GET_LIMIT = 100


class DynamoKnownContent:
    def __init__(self, client: Any, table_name: str, *, clock: Callable[[], float]) -> None:
        self._client = client
        self.table_name = table_name
        self._clock = clock

    def put(self, entry: KnownContent) -> None:
        item = {"id": "h-" + entry.key, "decision": entry.decision, "record_id": entry.record_id,
                "policy_version": entry.policy_version, "scenes": entry.scenes or None,
                "created_at": iso(self._clock())}
        self._client.put_item(TableName=self.table_name, Item=serialize(item))

    def forget(self, key: str, *, record_id: str) -> bool:
        """Forget `key`, unless another record has made it its own since."""
        try:
            self._client.delete_item(TableName=self.table_name, Key={"id": {"S": "h-" + key}},
                                     ConditionExpression="attribute_not_exists(#r) OR #r = :r",
                                     ExpressionAttributeNames={"#r": "record_id"},
                                     ExpressionAttributeValues={":r": {"S": record_id}})
            return True
        except client_error() as exc:
            if condition_failed(exc):
                return False
            raise

    def find(self, keys: Sequence[str]) -> dict[str, KnownContent]:
        """The entries there are for `keys` (one BatchGetItem per 100 keys)."""
        found: dict[str, KnownContent] = {}
        wanted = list(dict.fromkeys(keys))
        for start in range(0, len(wanted), BATCH_GET_LIMIT):
            request: dict[str, Any] = {self.table_name: {
                "Keys": [{"id": {"S": "h-" + k}} for k in wanted[start:start + BATCH_GET_LIMIT]],
                "ConsistentRead": True}}
            for _ in range(5):  # keys left unprocessed (throttling) are asked for again, a bounded number of times
                response = self._client.batch_get_item(RequestItems=request)
                for item in response.get("Responses", {}).get(self.table_name, []):
                    entry = _entry(deserialize(item))
                    found[entry.key] = entry
                request = response.get("UnprocessedKeys") or {}
                if not request:
                    break
        return found


def _entry(data: dict[str, Any]) -> KnownContent:
    return KnownContent(key=str(data["id"])[2:], decision=str(data["decision"]), record_id=str(data["record_id"]),
                        policy_version=data.get("policy_version"), scenes=data.get("scenes") or {})
