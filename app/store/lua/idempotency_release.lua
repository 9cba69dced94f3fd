-- Gives an Idempotency-Key back after its submission failed (so a retry makes a new job),
-- only if it still names that job. Returns 1 when released.
local claim_key = KEYS[1]
local job_id = ARGV[1]

local current = redis.call('GET', claim_key)
if not current then return 0 end
local _, stored_job_id = string.match(current, '^([^|]*)|([^|]*)|')
if stored_job_id ~= job_id then return 0 end
redis.call('DEL', claim_key)
return 1
