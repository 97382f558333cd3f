"""The daily image counters in the verdict table: the production `ImageBudget` (greenlight.ports).

One item per UTC day, id "b-<date>" with `images`, the count taken so far. It is in no index (it has
none of their keys) and the enforce function's stream filter passes only version records, so it costs
one small write per submitted batch and nothing else.
"""

from __future__ import annotations

from typing import Any

from greenlight.aws.dynamo_writes import client_error, condition_failed

ITEM_PREFIX = "b-"


class DynamoImageBudget:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self.table_name = table_name

    def take(self, day: str, images: int, *, limit: int) -> int:
        wanted = min(images, limit)
        if wanted <= 0:
            return 0
        # The whole batch if it fits: ADD only while the count leaves room for it.
        granted = self._add(day, wanted, "attribute_not_exists(#n) OR #n <= :room", {":room": limit - wanted})
        if granted:
            return wanted
        # It does not: take what is left, only if nobody took any meanwhile (else take nothing: safe).
        used = self.used(day)
        left = limit - used
        if left <= 0:
            return 0
        condition = "#n = :used" if used else "attribute_not_exists(#n) OR #n = :used"
        return left if self._add(day, left, condition, {":used": used}) else 0

    def give_back(self, day: str, images: int) -> None:
        if images <= 0:
            return
        self._add(day, -images, "#n >= :back", {":back": images})  # never below zero

    def used(self, day: str) -> int:
        response = self._client.get_item(TableName=self.table_name, Key=self._key(day), ConsistentRead=True,
                                         ProjectionExpression="#n", ExpressionAttributeNames={"#n": "images"})
        return int((response.get("Item") or {}).get("images", {}).get("N", 0))

    def _add(self, day: str, images: int, condition: str, values: dict[str, int]) -> bool:
        try:
            self._client.update_item(
                TableName=self.table_name, Key=self._key(day), UpdateExpression="ADD #n :n",
                ConditionExpression=condition, ExpressionAttributeNames={"#n": "images"},
                ExpressionAttributeValues={name: {"N": str(value)} for name, value in {":n": images, **values}.items()})
            return True
        except client_error() as exc:
            if condition_failed(exc):
                return False
            raise

    @staticmethod
    def _key(day: str) -> dict[str, Any]:
        return {"id": {"S": ITEM_PREFIX + day}}
