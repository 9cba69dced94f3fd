-- Takes a concurrency slot unless `limit` are held. Each slot lapses on its own after
-- lease_ms, so a process that dies holding slots cannot leak them for longer than that.
local slots_key = KEYS[1]
local now_ms, lease_ms, limit, token = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]

redis.call('ZREMRANGEBYSCORE', slots_key, '-inf', now_ms)
if redis.call('ZCARD', slots_key) >= limit then return 0 end
redis.call('ZADD', slots_key, now_ms + lease_ms, token)
redis.call('PEXPIRE', slots_key, lease_ms)
return 1
