-- A job's tombstone: why and when its record goes, and of which endpoint, as one integer
-- (the digits of at_ms * 10 + kind, then the endpoint's 5-digit tag), kept keep_ms after that
-- moment; written whenever the record's expiry is set, since Redis tells no one when a key
-- expires. kind: 1 expired after it ended, 2 the same with a retention set by ?ttl, 3 its
-- policy.ttl passed, 4 purged from its queue. keep_ms 0: no tombstones. Built as a string:
-- the whole number is beyond a Lua double's exact range.
local function tombstone(key, tag, at_ms, kind, keep_ms, now_ms)
  keep_ms = tonumber(keep_ms)
  if keep_ms <= 0 then return end
  local px = tonumber(at_ms) - tonumber(now_ms) + keep_ms
  if px < 1 then px = 1 end
  redis.call('SET', key, string.format('%d%05d', tonumber(at_ms) * 10 + kind, tonumber(tag)), 'PX', px)
end
