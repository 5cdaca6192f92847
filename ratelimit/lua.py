"""Lua scripts of the Redis backend (sources only; ``ratelimit.redis`` registers them).

Invariants:

- Time is the Redis server's ``TIME`` in microseconds, read inside the script, so every
  gateway host agrees on it. Numbers are written with ``%.0f`` (Lua's ``tostring`` would
  round 16-digit microsecond stamps).
- Every script touches the keys of one key id only (``bella:{id}:…``, one cluster slot),
  except ``CHECK``/``UNDO``, whose callers pass only keys of one slot in cluster mode.
- Sliding log (``…:rl``): a list of accepted-hit stamps, oldest first, never decreasing
  (a stamp is ``max(now, newest)``, so a server clock step back cannot reorder it). Entries
  at or before ``now - window`` are popped before each decision, so ``LLEN`` is the live
  count; a hit passes iff ``LLEN < limit`` and is then pushed. Each entry is pushed and
  popped once: O(1) amortised, at most ``limit`` entries. PEXPIRE = window after the newest
  entry, so an idle log vanishes exactly when all its entries are stale.
- Leases (``…:lease``): a sorted set lease id -> expiry (µs). Expired members are removed
  before counting; PEXPIRE is raised to the longest lease ttl.
- Token budget (``…:tpm`` list of ``stamp:tokens``, ``…:tpm:sum`` running total): pruned
  like the sliding log; the total is reset whenever the list is empty.
"""

from __future__ import annotations

_PRELUDE = """
local function now_us()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end

local function fmt(n)
  return string.format('%.0f', n)
end

local function ttl_ms(us)
  return math.ceil(us / 1000) + 1
end

local function log_prune(key, cutoff)
  local n = redis.call('LLEN', key)
  if n == 0 then return 0 end
  if tonumber(redis.call('LINDEX', key, -1)) <= cutoff then
    redis.call('DEL', key)
    return 0
  end
  while tonumber(redis.call('LINDEX', key, 0)) <= cutoff do
    redis.call('LPOP', key)
    n = n - 1
  end
  return n
end

-- µs until one more hit passes (0: it passes now) with `pending` hits of this call on top.
local function log_wait(key, live, pending, limit, window, now)
  local blocking = live + pending - limit
  if blocking < 0 then return 0 end
  if blocking >= live then return window end
  return math.max(tonumber(redis.call('LINDEX', key, blocking)) + window - now, 1)
end

local function log_push(key, now, window)
  local newest = redis.call('LINDEX', key, -1)
  local stamp = now
  if newest and tonumber(newest) > now then stamp = tonumber(newest) end
  redis.call('RPUSH', key, fmt(stamp))
  redis.call('PEXPIRE', key, ttl_ms(stamp - now + window))
  return stamp
end

local function lease_fits(key, id, limit, now, pending)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', fmt(now))
  if redis.call('ZCARD', key) + pending < limit then return true end
  return redis.call('ZSCORE', key, id) ~= false
end

local function lease_wait(key, now, cap)
  local first = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  if not first[2] then return cap end
  return math.min(math.max(tonumber(first[2]) - now, 1000), cap)
end

local function lease_put(key, id, now, ttl)
  redis.call('ZADD', key, fmt(now + ttl), id)
  if redis.call('PTTL', key) < ttl_ms(ttl) then
    redis.call('PEXPIRE', key, ttl_ms(ttl))
  end
end
"""

#: KEYS: log. ARGV: limit, window_us. -> {allowed, wait_us, remaining}
HIT = (
    _PRELUDE
    + """
local key, limit, window = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2])
local now = now_us()
local live = log_prune(key, now - window)
local wait = log_wait(key, live, 0, limit, window, now)
if wait > 0 then return {0, wait, 0} end
log_push(key, now, window)
return {1, 0, limit - live - 1}
"""
)

#: KEYS: lease. ARGV: lease_id, limit, ttl_us. -> 1 taken (or already held), 0 full
ACQUIRE = (
    _PRELUDE
    + """
local now = now_us()
if not lease_fits(KEYS[1], ARGV[1], tonumber(ARGV[2]), now, 0) then return 0 end
lease_put(KEYS[1], ARGV[1], now, tonumber(ARGV[3]))
return 1
"""
)

#: KEYS: lease. ARGV: ttl_us, lease_id... -> number of live leases renewed
RENEW = (
    _PRELUDE
    + """
local key, ttl = KEYS[1], tonumber(ARGV[1])
local now = now_us()
local renewed = 0
for i = 2, #ARGV do
  local expiry = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if expiry and tonumber(expiry) > now then
    lease_put(key, ARGV[i], now, ttl)
    renewed = renewed + 1
  end
end
return renewed
"""
)

#: KEYS: lease. -> number of live leases
COUNT = (
    _PRELUDE
    + """
return redis.call('ZCOUNT', KEYS[1], '(' .. fmt(now_us()), '+inf')
"""
)

#: KEYS: (log, lease) per check. ARGV: (rate_limit, window_us, concurrency, lease_id, ttl_us)
#: per check. -> {1, 0, 0, 0, remaining, (stamp, new_lease) per check} when all pass,
#: {0, failed_check (1-based), reason (1 rate, 2 concurrency), wait_us, 0} when one fails.
CHECK = (
    _PRELUDE
    + """
local now = now_us()
local n = #KEYS / 2
local hits, taken = {}, {}
local remaining = -1
local cap = tonumber(ARGV[5 * n + 1])
for i = 1, n do
  local log, lease, a = KEYS[2 * i - 1], KEYS[2 * i], 5 * (i - 1)
  local limit, window = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
  if limit > 0 then
    local pending = hits[log] or 0
    local live = log_prune(log, now - window)
    local wait = log_wait(log, live, pending, limit, window, now)
    if wait > 0 then return {0, i, 1, wait, 0} end
    hits[log] = pending + 1
    local left = limit - live - pending - 1
    if remaining < 0 or left < remaining then remaining = left end
  end
  if tonumber(ARGV[a + 3]) > 0 then
    local pending = taken[lease] or 0
    if not lease_fits(lease, ARGV[a + 4], tonumber(ARGV[a + 3]), now, pending) then
      return {0, i, 2, lease_wait(lease, now, cap), 0}
    end
    taken[lease] = pending + 1
  end
end
local out = {1, 0, 0, 0, remaining}
for i = 1, n do
  local log, lease, a = KEYS[2 * i - 1], KEYS[2 * i], 5 * (i - 1)
  local stamp, new = 0, 0
  if tonumber(ARGV[a + 1]) > 0 then stamp = log_push(log, now, tonumber(ARGV[a + 2])) end
  if tonumber(ARGV[a + 3]) > 0 then
    if not redis.call('ZSCORE', lease, ARGV[a + 4]) then new = 1 end
    lease_put(lease, ARGV[a + 4], now, tonumber(ARGV[a + 5]))
  end
  out[#out + 1] = stamp
  out[#out + 1] = new
end
return out
"""
)

#: Takes back what a CHECK recorded. KEYS: (log, lease) per check.
#: ARGV: (stamp or 0, lease_id, new_lease 1/0) per check.
UNDO = """
for i = 1, #KEYS / 2 do
  local a = 3 * (i - 1)
  if ARGV[a + 1] ~= '0' then redis.call('LREM', KEYS[2 * i - 1], -1, ARGV[a + 1]) end
  if ARGV[a + 3] == '1' then redis.call('ZREM', KEYS[2 * i], ARGV[a + 2]) end
end
return 1
"""

_TOKENS = """
local function tok_parse(entry)
  local stamp, tokens = string.match(entry, '^(%d+):(%d+)$')
  return tonumber(stamp), tonumber(tokens)
end

local function tok_prune(key, sum, cutoff)
  if redis.call('LLEN', key) == 0 then
    redis.call('DEL', sum)
    return 0
  end
  local total = tonumber(redis.call('GET', sum) or '0')
  local dropped = 0
  while true do
    local head = redis.call('LINDEX', key, 0)
    if not head then break end
    local stamp, tokens = tok_parse(head)
    if stamp > cutoff then break end
    redis.call('LPOP', key)
    dropped = dropped + tokens
  end
  if dropped > 0 then
    total = total - dropped
    redis.call('DECRBY', sum, dropped)
  end
  return total
end

local function tok_push(key, sum, now, tokens, window)
  local stamp = now
  local newest = redis.call('LINDEX', key, -1)
  if newest then
    local newest_stamp = tok_parse(newest)
    stamp = math.max(now, newest_stamp)
  end
  redis.call('RPUSH', key, fmt(stamp) .. ':' .. fmt(tokens))
  redis.call('INCRBY', sum, tokens)
  redis.call('PEXPIRE', key, ttl_ms(stamp - now + window))
  redis.call('PEXPIRE', sum, ttl_ms(stamp - now + window))
end
"""

#: KEYS: tpm list, tpm sum. ARGV: tokens, limit, window_us. -> {allowed, wait_us, remaining}
RESERVE = (
    _PRELUDE
    + _TOKENS
    + """
local tokens, limit, window = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local now = now_us()
local total = tok_prune(KEYS[1], KEYS[2], now - window)
if total + tokens <= limit then
  tok_push(KEYS[1], KEYS[2], now, tokens, window)
  return {1, 0, limit - total - tokens}
end
if tokens > limit then return {0, window, math.max(limit - total, 0)} end
local left = total
for _, entry in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
  local stamp, used = tok_parse(entry)
  left = left - used
  if left <= limit - tokens then return {0, math.max(stamp + window - now, 1), limit - total} end
end
return {0, window, limit - total}
"""
)

#: KEYS: tpm list, tpm sum. ARGV: reserved, actual, window_us, scan_chunk. -> 1 rewritten, 0
RECONCILE = (
    _PRELUDE
    + _TOKENS
    + """
local reserved, actual, window = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local chunk = tonumber(ARGV[4])
local now = now_us()
tok_prune(KEYS[1], KEYS[2], now - window)
local n = redis.call('LLEN', KEYS[1])
local stop = n - 1
while stop >= 0 do
  local start = math.max(stop - chunk + 1, 0)
  local entries = redis.call('LRANGE', KEYS[1], start, stop)
  for j = #entries, 1, -1 do
    local stamp, tokens = tok_parse(entries[j])
    if tokens == reserved then
      redis.call('LSET', KEYS[1], start + j - 1, fmt(stamp) .. ':' .. fmt(actual))
      redis.call('INCRBY', KEYS[2], actual - reserved)
      return 1
    end
  end
  stop = start - 1
end
if actual > reserved then tok_push(KEYS[1], KEYS[2], now, actual - reserved, window) end
return 0
"""
)
