"""Routing, slots and the queue (DESIGN §3); `gateway.router` composes them for the handlers.

- `wrr`: smooth weighted round-robin (sans-I/O).
- `health`: channel cooldowns and error-rate windows (sans-I/O).
- `slots`: per-channel concurrency leases, global through Redis, with a fail-open fallback.
- `queue`: FIFO waiters per model, woken on release, by pub/sub, by a periodic re-poll.
- `bus`: the Redis pub/sub that carries slot releases and cooldowns between processes.
- `outbox`: Redis writes done off the request path by one task.
- `plan`: one request's way through tiers, weights, slots and the queue.
"""
