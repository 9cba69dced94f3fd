-- Sets a job's retention; applies it now when the job has already ended.
-- uses: extend, index, tombstone
local job_key, stream_key, cursor_key, requests_key, expiry_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local tomb_key = KEYS[6]
local retention_ms, now_ms, job_id, tomb_keep_ms, tomb_tag = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4], ARGV[5]

local status = redis.call('HGET', job_key, 'status')
if not status then return 0 end
redis.call('HSET', job_key, 'retention_ms', retention_ms, 'retained', 1)
if status ~= 'IN_QUEUE' and status ~= 'IN_PROGRESS' then
  for _, key in ipairs({job_key, stream_key, cursor_key}) do
    if redis.call('EXISTS', key) == 1 then redis.call('PEXPIRE', key, retention_ms) end
  end
  index_expiry(expiry_key, job_id, now_ms + tonumber(retention_ms))
  tombstone(tomb_key, tomb_tag, now_ms + tonumber(retention_ms), 2, tomb_keep_ms, now_ms)
  extend(requests_key, retention_ms)
  extend(expiry_key, retention_ms)
end
return 1
