"""The shared behaviour tests again, with the scripts run by the lean client on one Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from ratelimit import FastRedis, RedisKeyChecks, RedisLeases, RedisLimiter
from tests.ratelimit.conftest import REDIS_WINDOW_S, Backend
from tests.ratelimit.test_behaviour import (  # noqa: F401 (collected here with `backend` below)
    test_an_expired_lease_frees_its_slot,
    test_check_is_all_or_nothing_across_keys,
    test_check_records_the_hit_and_takes_the_lease,
    test_check_without_limits_passes_unlimited,
    test_leases_respect_the_limit_and_release_is_idempotent,
    test_limit_per_window_and_no_double_burst_at_a_boundary,
    test_limit_zero_is_unlimited,
    test_negative_limits_are_refused,
    test_reacquiring_a_held_lease_counts_once,
    test_rejected_hits_consume_nothing,
    test_renew_keeps_a_lease_alive_but_never_revives_one,
    test_retry_after_says_when_a_hit_passes,
    test_token_budget_reserve_and_reconcile,
    test_unlimited_leases_record_nothing,
)

pytestmark = pytest.mark.redis


@pytest.fixture
async def backend(redis_clean: str) -> AsyncIterator[Backend]:
    client = FastRedis.from_url(redis_clean)
    try:
        leases = RedisLeases(client)
        checks = RedisKeyChecks(client, leases=leases)
        limiter = RedisLimiter(client)
        yield Backend("fastredis", limiter, leases, checks, REDIS_WINDOW_S, asyncio.sleep)
    finally:
        await client.aclose()
