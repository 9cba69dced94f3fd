-- Moves a job to a terminal state, if it is in one of the allowed states; applies its
-- retention to the record and its stream, counts it, and wakes its waiters.
-- Returns 'OK' when the transition happened, else the current status (false if gone).
-- uses: extend, index, tombstone
local job_key, queued_key, running_key, stats_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local stream_key, cursor_key, requests_key, expiry_key = KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local tomb_key, waiting_key = KEYS[9], KEYS[10]
local status, now_ms, allowed_from = ARGV[1], ARGV[2], ARGV[3]
local has_output, output, error_text = ARGV[4], ARGV[5], ARGV[6]
local stats_field, stats_ttl_s, done_channel, job_id = ARGV[7], ARGV[8], ARGV[9], ARGV[10]
local tomb_keep_ms, tomb_tag = ARGV[11], ARGV[12]

local current = redis.call('HGET', job_key, 'status')
if not current then return false end
if not string.find(',' .. allowed_from .. ',', ',' .. current .. ',', 1, true) then return current end
redis.call('HSET', job_key, 'status', status, 'finished', now_ms)
if redis.call('HEXISTS', job_key, 'webhook') == 1 then
  redis.call('HSET', job_key, 'webhook_status', 'pending')
end
if has_output == '1' then redis.call('HSET', job_key, 'output', output)
elseif status ~= 'CANCELLED' then redis.call('HDEL', job_key, 'output') end
if error_text ~= '' then redis.call('HSET', job_key, 'error', error_text) end
local keep = tonumber(redis.call('HGET', job_key, 'retention_ms'))
for _, key in ipairs({job_key, stream_key, cursor_key}) do
  if redis.call('EXISTS', key) == 1 then redis.call('PEXPIRE', key, keep) end
end
index_expiry(expiry_key, job_id, tonumber(now_ms) + keep)
local kind = 1
if redis.call('HEXISTS', job_key, 'retained') == 1 then kind = 2 end
tombstone(tomb_key, tomb_tag, tonumber(now_ms) + keep, kind, tomb_keep_ms, now_ms)
extend(requests_key, keep)
extend(expiry_key, keep)
redis.call('ZREM', queued_key, job_id)
redis.call('ZREM', waiting_key, job_id)
redis.call('ZREM', running_key, job_id)
if stats_field ~= '' then
  redis.call('HINCRBY', stats_key, stats_field, 1)
  redis.call('EXPIRE', stats_key, stats_ttl_s)
end
redis.call('PUBLISH', done_channel, job_id)
return 'OK'
