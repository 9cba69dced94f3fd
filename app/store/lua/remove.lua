-- Removes a job past its policy.ttl, wherever it is (its record may already have expired),
-- and wakes its waiters.
local job_key, stream_key, cursor_key, queued_key, running_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local job_id, done_channel = ARGV[1], ARGV[2]

redis.call('UNLINK', job_key, stream_key, cursor_key)
redis.call('ZREM', queued_key, job_id)
redis.call('ZREM', running_key, job_id)
redis.call('PUBLISH', done_channel, job_id)
return 1
