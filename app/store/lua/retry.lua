-- Puts a FAILED or TIMED_OUT job back to IN_QUEUE, with its output, error and stream cleared.
-- Returns 'OK', or the current status when it is not retryable (false if gone).
-- uses: extend, index, tombstone
local job_key, queued_key, stats_key, stream_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local cursor_key, requests_key, expiry_key, tomb_key = KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local waiting_key = KEYS[9]
local now_ms, job_id, stats_ttl_s, tomb_keep_ms, tomb_tag = tonumber(ARGV[1]), ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local lane_offset, webhook_grace_ms = tonumber(ARGV[6]), tonumber(ARGV[7])

local status = redis.call('HGET', job_key, 'status')
if not status then return false end
if status ~= 'FAILED' and status ~= 'TIMED_OUT' then return status end
local ttl = tonumber(redis.call('HGET', job_key, 'ttl_ms'))
redis.call('HDEL', job_key, 'output', 'error', 'started', 'finished', 'worker', 'webhook_status', 'stream_from')
redis.call('HSET', job_key, 'status', 'IN_QUEUE', 'queued', now_ms, 'deliveries', 0)
redis.call('HINCRBY', job_key, 'retries', 1)
-- A job with a webhook keeps its record a while past its ttl, for the reaper to send it EXPIRED.
local keep = ttl
if redis.call('HEXISTS', job_key, 'webhook') == 1 then keep = ttl + webhook_grace_ms end
redis.call('PEXPIRE', job_key, keep)
tombstone(tomb_key, tomb_tag, now_ms + ttl, 3, tomb_keep_ms, now_ms)
index_expiry(expiry_key, job_id, now_ms + ttl)
extend(requests_key, ttl)
extend(expiry_key, ttl)
redis.call('DEL', stream_key, cursor_key)
redis.call('ZADD', queued_key, now_ms + ttl, job_id)
extend(queued_key, ttl)
redis.call('ZADD', waiting_key, lane_offset + now_ms, job_id)
extend(waiting_key, ttl)
redis.call('HINCRBY', stats_key, 'retried', 1)
redis.call('EXPIRE', stats_key, stats_ttl_s)
return 'OK'
