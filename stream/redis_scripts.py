"""The Lua scripts of the Redis feature store (each touches the keys of one cluster slot only).

An event is applied in two parts, each atomic and each deduplicated on its own: the per-user part
(the user's items and history, hash tag ``{user}``, an expiring marker key per event) and the
global part (users, popularity, trending, stats, hash tag ``{global}``, the event in an expiring
set per event-time hour). A crash between the two parts leaves the second to the redelivery,
which the first part's marker alone would have skipped. Events come as one JSON argument (cjson
in Lua) because packing thousands of separate arguments costs more than the scripts themselves.
"""

from __future__ import annotations

# KEYS: the per-event seen markers and the per-user items and history keys (one slot)
# ARGV: dedup ttl, history length, JSON list of events:
#       [marker index, items index, history index, item_id, weight, replace 0/1, time ms, entry]
APPLY_USER_EVENTS = """
local ttl, keep = ARGV[1], tonumber(ARGV[2])
local histories = {}
for _, e in ipairs(cjson.decode(ARGV[3])) do
  if redis.call('SET', KEYS[e[1]], '1', 'NX', 'EX', ttl) then
    if e[6] == 1 then
      redis.call('HSET', KEYS[e[2]], e[4], e[5])
    else
      redis.call('HINCRBYFLOAT', KEYS[e[2]], e[4], e[5])
    end
    redis.call('ZADD', KEYS[e[3]], e[7], e[8])
    histories[e[3]] = true
  end
end
for history in pairs(histories) do
  redis.call('ZREMRANGEBYRANK', KEYS[history], 0, -keep - 1)
end
return 1
"""

# Forward decay as in stream/trending.py: score += w * 2^((t - landmark) / half_life), with a
# rebase (scale every score, move the landmark) before the exponent exceeds rebase_after.
# KEYS: users, popularity, trending, trending clock, stats, then the dedup sets
# ARGV: dedup ttl, half-life ms, rebase after (half-lives), prune below, JSON list of events:
#       [dedup set index, member, user_id, item_id, popularity weight, trending time ms]
APPLY_GLOBAL_EVENTS = """
local ttl, half_life = ARGV[1], tonumber(ARGV[2])
local rebase_after, prune_below = tonumber(ARGV[3]), ARGV[4]
local events = cjson.decode(ARGV[5])
local function num(x) return string.format('%.17g', x) end

local by_set, new = {}, {}
for i, e in ipairs(events) do
  by_set[e[1]] = by_set[e[1]] or {}
  table.insert(by_set[e[1]], i)
end
for set, indices in pairs(by_set) do
  local members, fresh, taken = {}, {}, {}
  for j, i in ipairs(indices) do members[j] = events[i][2] end
  local seen = redis.call('SMISMEMBER', KEYS[set], unpack(members))
  for j, i in ipairs(indices) do
    if seen[j] == 0 and not taken[members[j]] then
      taken[members[j]] = true
      table.insert(fresh, members[j])
      new[i] = true
    end
  end
  if #fresh > 0 then redis.call('SADD', KEYS[set], unpack(fresh)) end
  redis.call('EXPIRE', KEYS[set], ttl)
end

local clock = redis.call('HMGET', KEYS[4], 'landmark_ms', 'newest_ms')
local landmark, newest = tonumber(clock[1]), tonumber(clock[2])
local users, popularity, trending = {}, {}, {}
local applied = 0
local function flush_trending()
  for item, inc in pairs(trending) do redis.call('ZINCRBY', KEYS[3], num(inc), item) end
  trending = {}
end
for i, e in ipairs(events) do
  if new[i] then
    applied = applied + 1
    users[e[3]] = true
    local weight, t = tonumber(e[5]), tonumber(e[6])
    if not newest or t > newest then newest = t end
    if weight > 0 then
      popularity[e[4]] = (popularity[e[4]] or 0) + weight
      if not landmark then
        landmark = t
      elseif (t - landmark) / half_life > rebase_after then
        flush_trending()
        local factor = 2 ^ ((landmark - t) / half_life)
        redis.call('ZUNIONSTORE', KEYS[3], 1, KEYS[3], 'WEIGHTS', num(factor))
        redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', '(' .. prune_below)
        landmark = t
      end
      local inc = weight * 2 ^ ((t - landmark) / half_life)
      if inc > 0 then trending[e[4]] = (trending[e[4]] or 0) + inc end
    end
  end
end
flush_trending()
for item, weight in pairs(popularity) do redis.call('ZINCRBY', KEYS[2], num(weight), item) end
local user_ids = {}
for user in pairs(users) do table.insert(user_ids, user) end
if #user_ids > 0 then redis.call('SADD', KEYS[1], unpack(user_ids)) end
if newest then redis.call('HSET', KEYS[4], 'newest_ms', num(newest)) end
if landmark then redis.call('HSET', KEYS[4], 'landmark_ms', num(landmark)) end
if applied > 0 then redis.call('HINCRBY', KEYS[5], 'applied', applied) end
if #events > applied then redis.call('HINCRBY', KEYS[5], 'duplicates', #events - applied) end
return applied
"""

# KEYS: trending, trending clock; ARGV: k
READ_TRENDING = """
local clock = redis.call('HMGET', KEYS[2], 'landmark_ms', 'newest_ms')
local top = redis.call('ZREVRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1, 'WITHSCORES')
return {clock[1], clock[2], top}
"""
