"""The ImageBudget contract: the in-memory fake (tests/fakes/image_budget.py) and the daily counters in
the verdict table on moto answer the same, so the spend guard tested on the fake holds on the table."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from fakes import FakeClock
from fakes.image_budget import InMemoryImageBudget
from greenlight.aws.image_budget import DynamoImageBudget
from greenlight.aws.verdict_table import DynamoVerdictStore
from greenlight.ports import ImageBudget
from greenlight_local.stack import LocalStack, all_records, create_stack


@pytest.fixture(scope="module")
def stack(moto_url: str) -> LocalStack:
    return create_stack(moto_url)


@pytest.fixture(params=["memory", pytest.param("dynamodb", marks=pytest.mark.integration)])
def budget(request: pytest.FixtureRequest) -> Iterator[ImageBudget]:
    if request.param == "memory":
        yield InMemoryImageBudget()
        return
    stack: LocalStack = request.getfixturevalue("stack")
    yield DynamoImageBudget(stack.client("dynamodb"), stack.table)


@pytest.fixture
def day() -> str:
    """A day no other test counts on (the table is shared by this module's tests)."""
    return f"2026-12-{uuid.uuid4().hex[:8]}"


def test_a_batch_that_fits_is_granted_whole_and_counted(budget: ImageBudget, day: str) -> None:
    assert budget.used(day) == 0

    assert budget.take(day, 40, limit=100) == 40
    assert budget.take(day, 60, limit=100) == 60

    assert budget.used(day) == 100


def test_a_batch_that_does_not_fit_gets_what_is_left_and_then_nothing(budget: ImageBudget, day: str) -> None:
    # Given 90 of 100 images taken
    assert budget.take(day, 90, limit=100) == 90

    # When a batch of 25 asks, and then another
    first, second = budget.take(day, 25, limit=100), budget.take(day, 5, limit=100)

    # Then the first gets the 10 left and the second none; the count stops at the limit
    assert (first, second) == (10, 0)
    assert budget.used(day) == 100


def test_a_batch_larger_than_the_whole_limit_gets_the_limit(budget: ImageBudget, day: str) -> None:
    assert budget.take(day, 250, limit=100) == 100
    assert budget.used(day) == 100


def test_nothing_asked_is_nothing_granted(budget: ImageBudget, day: str) -> None:
    assert budget.take(day, 0, limit=100) == 0
    assert budget.take(day, 5, limit=0) == 0
    assert budget.used(day) == 0


def test_images_given_back_can_be_taken_again_and_the_count_never_goes_below_zero(budget: ImageBudget,
                                                                                   day: str) -> None:
    assert budget.take(day, 100, limit=100) == 100

    budget.give_back(day, 30)
    assert budget.used(day) == 70
    assert budget.take(day, 50, limit=100) == 30

    budget.give_back(day, 500)  # more than was counted: refused, nothing changes
    assert budget.used(day) == 100
    budget.give_back(f"{day}-never-counted", 3)
    assert budget.used(f"{day}-never-counted") == 0


def test_days_are_counted_apart(budget: ImageBudget, day: str) -> None:
    assert budget.take(day, 100, limit=100) == 100
    assert budget.take(f"{day}-next", 100, limit=100) == 100
    assert budget.take(day, 1, limit=100) == 0


def test_concurrent_takes_never_grant_more_than_the_limit(budget: ImageBudget, day: str) -> None:
    # Given 12 batches of 10 images racing for a limit of 75
    with ThreadPoolExecutor(max_workers=6) as pool:
        granted = list(pool.map(lambda _: budget.take(day, 10, limit=75), range(12)))

    # Then at most 75 were granted in all (a batch that loses a race at the edge may get nothing: safe)
    assert sum(granted) == budget.used(day) <= 75
    assert sum(granted) >= 70  # at least every whole batch that fitted
    assert all(0 <= g <= 10 for g in granted)


@pytest.mark.integration
def test_the_counter_item_is_no_verdict_record_and_never_due(stack: LocalStack, day: str) -> None:
    # Given a day's counter in the verdict table
    DynamoImageBudget(stack.client("dynamodb"), stack.table).take(day, 3, limit=10)

    # Then the poller never sees it and nothing reads it as a version record
    store = DynamoVerdictStore(stack.client("dynamodb"), stack.table, clock=FakeClock())
    assert store.due(FakeClock()() + 10 * 365 * 86400, 1000) == []
    assert store.get(f"b-{day}") is None
    assert all(not record.id.startswith("b-") for record in all_records(stack))
