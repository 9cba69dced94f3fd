-- Removes a job past its policy.ttl, wherever it is (its record may already have expired),
-- and wakes its waiters.
-- uses: tombstone
local job_key, stream_key, cursor_key, queued_key, running_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local tomb_key, waiting_key = KEYS[6], KEYS[7]
local job_id, done_channel, now_ms, tomb_keep_ms, tomb_tag = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]

redis.call('UNLINK', job_key, stream_key, cursor_key)
tombstone(tomb_key, tomb_tag, now_ms, 3, tomb_keep_ms, now_ms)
redis.call('ZREM', queued_key, job_id)
redis.call('ZREM', waiting_key, job_id)
redis.call('ZREM', running_key, job_id)
redis.call('PUBLISH', done_channel, job_id)
return 1
