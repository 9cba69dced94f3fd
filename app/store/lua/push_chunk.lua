-- Appends a streamed chunk while the job runs (the list expires with the job) and wakes
-- stream readers. Returns the new length, or -1 when the job is no longer running
-- (cancelled or removed), which tells the worker to stop the handler.
local job_key, stream_key = KEYS[1], KEYS[2]
local chunk, chunk_channel, job_id = ARGV[1], ARGV[2], ARGV[3]

if redis.call('HGET', job_key, 'status') ~= 'IN_PROGRESS' then return -1 end
local length = redis.call('RPUSH', stream_key, chunk)
local ttl = redis.call('PTTL', job_key)
if ttl > 0 then redis.call('PEXPIRE', stream_key, ttl) end
redis.call('PUBLISH', chunk_channel, job_id)
return length
