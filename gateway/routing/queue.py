"""Requests waiting for a slot: FIFO per model, bounded, woken on release, timed out, left.

Invariants:

- A model's queue holds at most `depth` waiters; one more is refused at once (429).
- Order is arrival order. A wake-up goes to the first waiter that is waiting (not the ones
  already woken and trying for a slot), so k releases wake the k oldest waiters. A woken
  waiter that gets a slot wakes the next one (there may be more free slots); one that does
  not waits again in its place.
- Wake-ups come from: a release in this process (`notify`), a release in another process
  (bus message), and the tick: every `poll_s` the first waiter of each queue is woken anyway,
  which covers a lost message and a lease that expired without a release.
- `epoch` counts notifications, so a request that saw its channels full can tell whether a
  slot was freed while it was asking Redis (the wake-up would otherwise be lost).
- A waiter leaves in `finally`, whatever happened: slot, timeout, client gone, cancellation.
  Its deadline is a loop timer (no task per waiter); the tick also checks every waiting
  client's connection, so one that disconnects leaves within `tick_s` and takes no slot.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from enum import Enum

from gateway.errors import GatewayError, RateLimited

TICK_S = 0.1


class Woken(Enum):
    SLOT = "slot"  # maybe a free slot: try again
    TIMEOUT = "timeout"  # the max wait has passed
    GONE = "gone"  # the client disconnected


class ClientGone(GatewayError):
    status = 499
    type = "api_error"
    code = "client_closed"


class Waiter:
    __slots__ = ("_future", "_timer", "expired", "gone")

    def __init__(self, deadline: float, gone: Callable[[], bool]) -> None:
        loop = asyncio.get_running_loop()
        self.gone = gone
        self.expired = False
        self._future: asyncio.Future[Woken] | None = None
        self._timer = loop.call_at(deadline, self._expire)

    @property
    def waiting(self) -> bool:
        return self._future is not None and not self._future.done()

    async def wait(self) -> Woken:
        if self.expired:
            return Woken.TIMEOUT
        future: asyncio.Future[Woken] = asyncio.get_running_loop().create_future()
        self._future = future
        try:
            return await future
        finally:
            self._future = None

    def wake(self, why: Woken = Woken.SLOT) -> None:
        future = self._future
        if future is not None and not future.done():
            future.set_result(why)

    def close(self) -> None:
        self._timer.cancel()
        self.wake(Woken.GONE)

    def _expire(self) -> None:
        self.expired = True
        self.wake(Woken.TIMEOUT)


class ModelQueue:
    def __init__(self, model: str, depth: int) -> None:
        self.model = model
        self._depth = depth
        self._waiters: dict[int, Waiter] = {}
        self._ids = itertools.count()
        self.epoch = 0

    def __len__(self) -> int:
        return len(self._waiters)

    def join(self, deadline: float, gone: Callable[[], bool]) -> tuple[int, Waiter]:
        if len(self._waiters) >= self._depth:
            raise RateLimited(
                f"Too many requests are waiting for model '{self.model}'; try again later.",
                code="queue_full",
                retry_after=1.0,
            )
        ticket = next(self._ids)
        waiter = self._waiters[ticket] = Waiter(deadline, gone)
        return ticket, waiter

    def leave(self, ticket: int) -> None:
        waiter = self._waiters.pop(ticket, None)
        if waiter is not None:
            waiter.close()

    def notify(self) -> None:
        """A slot may be free: wake the first waiter that is waiting."""
        self.epoch += 1
        for waiter in self._waiters.values():
            if waiter.waiting:
                waiter.wake()
                return

    def sweep(self) -> None:
        for waiter in self._waiters.values():
            if waiter.waiting and waiter.gone():
                waiter.wake(Woken.GONE)


class Queues:
    """Every model's queue in this process, and the tick that sweeps and re-polls them."""

    def __init__(self, *, depth: int, poll_s: float, tick_s: float = TICK_S) -> None:
        self._depth = depth
        self._poll_s = poll_s
        self._tick_s = min(tick_s, poll_s)
        self._queues: dict[str, ModelQueue] = {}

    def get(self, model: str) -> ModelQueue:
        queue = self._queues.get(model)
        if queue is None:
            queue = self._queues[model] = ModelQueue(model, self._depth)
        return queue

    def notify(self, model: str) -> None:
        queue = self._queues.get(model)
        if queue is not None:
            queue.notify()

    def notify_all(self) -> None:
        for queue in list(self._queues.values()):
            queue.notify()

    def depths(self) -> dict[str, int]:
        return {name: len(q) for name, q in self._queues.items() if len(q)}

    async def tick_forever(self) -> None:
        ticks_per_poll = max(round(self._poll_s / self._tick_s), 1)
        for count in itertools.count(1):
            await asyncio.sleep(self._tick_s)
            self.tick(poll=count % ticks_per_poll == 0)

    def tick(self, *, poll: bool) -> None:
        for queue in list(self._queues.values()):  # one per model: bounded by the catalog
            if len(queue):
                queue.sweep()
                if poll:
                    queue.notify()
