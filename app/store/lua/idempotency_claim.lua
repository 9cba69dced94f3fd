-- Claims an Idempotency-Key for a new job, unless it is claimed already.
-- The value is "<body sha256>|<job id>|<claimed ms>". Returns false when this call claimed it
-- (the caller submits job_id now), else the stored value. With replace_job_id, a claim whose job
-- never came to exist (its gateway died between claim and submission) is taken over.
local claim_key = KEYS[1]
local body_hash, job_id, now_ms, ttl_ms, replace_job_id = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]

local current = redis.call('GET', claim_key)
if current then
  local _, stored_job_id = string.match(current, '^([^|]*)|([^|]*)|')
  if replace_job_id == '' or stored_job_id ~= replace_job_id then return current end
end
redis.call('SET', claim_key, body_hash .. '|' .. job_id .. '|' .. now_ms, 'PX', ttl_ms)
return false
