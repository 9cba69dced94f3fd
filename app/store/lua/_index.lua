-- The /requests index: job ids by creation time, and the same ids by when their record
-- expires, so expired entries are dropped without touching the keyspace (no KEYS/SCAN).
local function index_expiry(expiry_key, job_id, at_ms)
  redis.call('ZADD', expiry_key, 'XX', at_ms, job_id)
end
local function unindex(index_key, expiry_key, ids)
  for i = 1, #ids, 500 do
    local part = {unpack(ids, i, math.min(i + 499, #ids))}
    redis.call('ZREM', index_key, unpack(part))
    redis.call('ZREM', expiry_key, unpack(part))
  end
end
local function prune(index_key, expiry_key, now_ms, n)
  unindex(index_key, expiry_key, redis.call('ZRANGEBYSCORE', expiry_key, '-inf', now_ms, 'LIMIT', 0, n))
end
