-- Shows a progress value as a running job's output, and tells the job's followers (status
-- events); ignored once the job has ended.
local job_key = KEYS[1]
local value, progress_channel, job_id = ARGV[1], ARGV[2], ARGV[3]

if redis.call('HGET', job_key, 'status') ~= 'IN_PROGRESS' then return 0 end
redis.call('HSET', job_key, 'output', value)
redis.call('PUBLISH', progress_channel, job_id)
return 1
