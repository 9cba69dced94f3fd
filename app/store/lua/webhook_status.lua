-- Records a webhook's delivery outcome, unless the job has been retried (or is gone) since
-- the run the webhook reported.
local job_key = KEYS[1]
local outcome, finished_ms = ARGV[1], ARGV[2]

if redis.call('HGET', job_key, 'finished') ~= finished_ms then return 0 end
redis.call('HSET', job_key, 'webhook_status', outcome)
return 1
