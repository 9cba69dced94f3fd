-- Where a queued job stands in its endpoint's waiting order: drops up to prune_limit entries of
-- jobs already past their ttl from the waiting order (and from the queued index those past it by
-- more than the grace the reaper has to send their EXPIRED webhook), then ranks the job.
-- Returns {rank or false, jobs in the normal lane, jobs waiting in all}. O(log n + prune_limit).
local waiting_key, queued_key = KEYS[1], KEYS[2]
local job_id, now_ms, prune_limit, low_lane = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local webhook_grace_ms = tonumber(ARGV[5])

local expired = redis.call('ZRANGEBYSCORE', queued_key, '-inf', now_ms, 'LIMIT', 0, prune_limit)
if #expired > 0 then redis.call('ZREM', waiting_key, unpack(expired)) end
redis.call('ZREMRANGEBYSCORE', queued_key, '-inf', tonumber(now_ms) - webhook_grace_ms)
local rank = redis.call('ZRANK', waiting_key, job_id)
local normal = redis.call('ZCOUNT', waiting_key, '-inf', '(' .. low_lane)
return {rank or false, normal, redis.call('ZCARD', waiting_key)}
