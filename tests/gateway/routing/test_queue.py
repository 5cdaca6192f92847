"""The wait queue on its own: order, depth, deadlines, clients that leave."""

from __future__ import annotations

import asyncio

import pytest

from gateway.errors import RateLimited
from gateway.routing.queue import ModelQueue, Queues, Woken


def deadline(seconds: float) -> float:
    return asyncio.get_running_loop().time() + seconds


def never_gone() -> bool:
    return False


async def test_notifications_wake_waiters_in_arrival_order() -> None:
    queue = ModelQueue("m", depth=10)
    joined = [queue.join(deadline(5), never_gone) for _ in range(3)]
    waits = [asyncio.ensure_future(waiter.wait()) for _, waiter in joined]
    await asyncio.sleep(0)
    queue.notify()
    await asyncio.sleep(0)
    assert [w.done() for w in waits] == [True, False, False]
    queue.notify()  # the first is no longer waiting: the second is next
    await asyncio.sleep(0)
    assert [w.done() for w in waits] == [True, True, False]
    for number, _ in joined:
        queue.leave(number)
    assert await asyncio.gather(*waits) == [Woken.SLOT, Woken.SLOT, Woken.GONE]
    assert len(queue) == 0


async def test_depth_is_bounded() -> None:
    queue = ModelQueue("m", depth=2)
    queue.join(deadline(5), never_gone)
    queue.join(deadline(5), never_gone)
    with pytest.raises(RateLimited) as caught:
        queue.join(deadline(5), never_gone)
    assert caught.value.code == "queue_full"


async def test_the_deadline_ends_the_wait() -> None:
    queue = ModelQueue("m", depth=2)
    number, waiter = queue.join(deadline(0.05), never_gone)
    assert await waiter.wait() is Woken.TIMEOUT
    assert await waiter.wait() is Woken.TIMEOUT  # stays expired
    queue.leave(number)


async def test_the_tick_finds_clients_that_left_and_polls_the_head() -> None:
    queues = Queues(depth=10, poll_s=0.5)
    queue = queues.get("m")
    gone = {"flag": False}
    _, first = queue.join(deadline(5), never_gone)
    _, second = queue.join(deadline(5), lambda: gone["flag"])
    waits = [asyncio.ensure_future(first.wait()), asyncio.ensure_future(second.wait())]
    await asyncio.sleep(0)
    queues.tick(poll=False)
    assert not any(w.done() for w in waits)
    gone["flag"] = True
    queues.tick(poll=False)
    assert await waits[1] is Woken.GONE
    queues.tick(poll=True)
    assert await waits[0] is Woken.SLOT
    assert queues.depths() == {"m": 2}
