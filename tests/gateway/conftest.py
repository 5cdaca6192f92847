from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.fakes.openai_upstream import FakeOpenAI


@pytest.fixture
async def upstream() -> AsyncIterator[FakeOpenAI]:
    """A fake OpenAI upstream on loopback, fresh for each test."""
    fake = FakeOpenAI()
    await fake.start()
    yield fake
    await fake.close()
