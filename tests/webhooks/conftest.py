import pytest

from tests.config.test_resilience import broker_down  # noqa: F401  (the Celery broker at a closed port)
from tests.webhooks.receiver import Receiver


@pytest.fixture
def receiver():
    running = Receiver().start()
    yield running
    running.stop()
