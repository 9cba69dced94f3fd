-- Extends a key's expiry to at least ms milliseconds (Redis 6 has no PEXPIRE GT).
local function extend(key, ms)
  ms = tonumber(ms)
  if redis.call('PTTL', key) < ms then redis.call('PEXPIRE', key, ms) end
end
