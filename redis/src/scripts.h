// The Lua scripts the store runs with EVAL. Each names only one document's
// keys (KEYS share the document's hash tag), so each is legal on a Redis
// Cluster, and each runs atomically: nothing else happens to those keys
// while it runs. Sent whole every time (Redis caches the compiled script by
// its hash), so a restarted Redis, whose script cache is empty, needs
// nothing loaded first.
#pragma once

#include <string_view>

namespace weft::redis::detail {

// One page of a document. KEYS: snap, ops. ARGV: after (an id, exclusive;
// "" for the first page, which starts after what the snapshot covers and
// also returns the snapshot), count, the largest field to return, the
// largest snapshot to return.
// Returns {covers or nil, snapshot or nil, entries}: covers is the `id`
// field of the snapshot hash now (the reader checks nothing was trimmed
// under it); snapshot is {v, id, c, size of s, s or nil if over the cap};
// entries as XRANGE returns them, except that an entry with a field over
// the cap, or with more than 8 fields, comes back as {"!oversize",
// "<n> bytes"} or {"!oversize", "<n> fields"} instead of its fields.
inline constexpr std::string_view kPageScript = R"lua(
local covers = redis.call('HGET', KEYS[1], 'id')
local snap = false
local start = '-'
if ARGV[1] == '' then
  if redis.call('EXISTS', KEYS[1]) == 1 then
    local f = redis.call('HMGET', KEYS[1], 'v', 'id', 'c')
    local n = redis.call('HSTRLEN', KEYS[1], 's')
    local s = false
    if n <= tonumber(ARGV[4]) then s = redis.call('HGET', KEYS[1], 's') end
    snap = {f[1], f[2], f[3], n, s}
  end
  if covers then start = '(' .. covers end
else
  start = '(' .. ARGV[1]
end
local entries = redis.call('XRANGE', KEYS[2], start, '+', 'COUNT', ARGV[2])
local max = tonumber(ARGV[3])
for i = 1, #entries do
  local f = entries[i][2]
  if #f > 16 then
    entries[i][2] = {'!oversize', tostring(#f / 2) .. ' fields'}
  else
    for j = 1, #f do
      if #f[j] > max then
        entries[i][2] = {'!oversize', tostring(#f[j]) .. ' bytes'}
        break
      end
    end
  end
end
return {covers, snap, entries}
)lua";

// What a trim may have taken. KEYS: snap, ops. Returns {first, covers}:
// the id of the stream's first entry (nil if it is empty) and the `id`
// field of the snapshot hash (nil if none). A trim removes a prefix of the
// stream and never passes what the snapshot covers, so an entry after
// position P can be gone only if covers > P and nothing at or before P is
// left (the stream is empty or starts after P).
inline constexpr std::string_view kTrimmedScript = R"lua(
local covers = redis.call('HGET', KEYS[1], 'id')
local first = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 1)
if #first > 0 then return {first[1][1], covers} end
return {false, covers}
)lua";

// Store a snapshot and trim. KEYS: snap, ops, lease. ARGV: token, covers,
// the id after covers, snapshot bytes, its CRC-32C (8 hex digits), the
// minimum age in ms of a trimmed entry (0: none).
// Returns {1, trimmed} when stored, {0, reason} when not: "lease" (not
// held by `token`), "stale" (the stored snapshot covers as much or more),
// "beyond" (covers is past the stream's last entry).
inline constexpr std::string_view kCompactScript = R"lua(
local function cmp(a, b)
  local am, as = string.match(a, '^(%d+)-(%d+)$')
  local bm, bs = string.match(b, '^(%d+)-(%d+)$')
  if not am or not bm then return nil end
  if #am ~= #bm then return #am < #bm and -1 or 1 end
  if am ~= bm then return am < bm and -1 or 1 end
  if #as ~= #bs then return #as < #bs and -1 or 1 end
  if as ~= bs then return as < bs and -1 or 1 end
  return 0
end
if redis.call('GET', KEYS[3]) ~= ARGV[1] then return {0, 'lease'} end
local last = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)
local c = #last > 0 and cmp(ARGV[2], last[1][1])
if not c or c > 0 then return {0, 'beyond'} end
local prev = redis.call('HGET', KEYS[1], 'id')
if prev then
  local p = cmp(prev, ARGV[2])
  if p == nil or p >= 0 then return {0, 'stale'} end
end
redis.call('HSET', KEYS[1], 'v', '1', 'id', ARGV[2], 's', ARGV[4], 'c', ARGV[5])
local minid = ARGV[3]
local age = tonumber(ARGV[6])
if age > 0 then
  local t = redis.call('TIME')
  local cut = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) - age
  if cut < 0 then cut = 0 end
  local cutid = string.format('%d', cut) .. '-0'
  if cmp(cutid, minid) == -1 then minid = cutid end
end
return {1, redis.call('XTRIM', KEYS[2], 'MINID', minid)}
)lua";

// Renew the lease if held. KEYS: lease. ARGV: token, ttl ms. Returns 1 if held.
inline constexpr std::string_view kRenewScript = R"lua(
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
)lua";

// Release the lease if held. KEYS: lease. ARGV: token. Returns 1 if it was.
inline constexpr std::string_view kReleaseScript = R"lua(
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
)lua";

}  // namespace weft::redis::detail
