-- Shows a progress value as a running job's output; ignored once the job has ended.
local job_key = KEYS[1]
local value = ARGV[1]

if redis.call('HGET', job_key, 'status') ~= 'IN_PROGRESS' then return 0 end
redis.call('HSET', job_key, 'output', value)
return 1
