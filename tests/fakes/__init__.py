"""In-memory fakes of greenlight's ports (greenlight.ports), for tests without any server.

tests/integration/test_verdict_store_contract.py and test_object_store_contract.py hold each fake
to the real adapter on moto, so a fake cannot drift from what it stands for.
"""

from fakes.clock import FakeClock
from fakes.green import FakeGreen, Request
from fakes.objects import InMemoryObjects
from fakes.verdict_store import InMemoryVerdictStore

__all__ = ["FakeClock", "FakeGreen", "InMemoryObjects", "InMemoryVerdictStore", "Request"]
