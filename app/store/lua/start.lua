-- Takes a delivered job for running: IN_QUEUE (or IN_PROGRESS, a redelivery) -> IN_PROGRESS.
-- Returns false when the job is gone, else {previous status, HGETALL...}. Nothing changes when
-- the previous status reads:
--   'HELD' (with the holder's id in the record): another worker is recorded as running it and
--          the caller has not yet named that holder's heartbeat key; call again with it;
--   'RUNNING': the holder's heartbeat says it still runs this job (a duplicate delivery);
--   'EXHAUSTED': the job has already had max_deliveries runs.
-- uses: extend
local job_key, queued_key, running_key, holder_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local waiting_key, stream_key = KEYS[5], KEYS[6]
local now_ms, worker_id, must_end_ms, job_id = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local index_ttl_ms, max_deliveries = ARGV[5], tonumber(ARGV[6])
local expected_holder = ARGV[7]

local status = redis.call('HGET', job_key, 'status')
if not status then return false end
local holder = redis.call('HGET', job_key, 'worker')
local live = status == 'IN_QUEUE' or status == 'IN_PROGRESS'
if status == 'IN_PROGRESS' and holder and holder ~= worker_id and holder ~= expected_holder then
  status = 'HELD'
elseif status == 'IN_PROGRESS' and holder and holder ~= worker_id
    and redis.call('HGET', holder_key, 'job') == job_id then
  status = 'RUNNING'
elseif live and max_deliveries > 0
    and tonumber(redis.call('HGET', job_key, 'deliveries') or '0') >= max_deliveries then
  status = 'EXHAUSTED'
elseif live then
  redis.call('HINCRBY', job_key, 'deliveries', 1)
  redis.call('HSET', job_key, 'status', 'IN_PROGRESS', 'started', now_ms, 'worker', worker_id)
  redis.call('HDEL', job_key, 'output')
  -- A run after an interrupted one: readers skip the chunks the interrupted run left.
  local left_over = redis.call('LLEN', stream_key)
  if left_over > 0 then redis.call('HSET', job_key, 'stream_from', left_over) end
  redis.call('ZREM', queued_key, job_id)
  redis.call('ZREM', waiting_key, job_id)
  redis.call('ZADD', running_key, must_end_ms, job_id)
  extend(running_key, index_ttl_ms)
end
local out = {status}
for _, v in ipairs(redis.call('HGETALL', job_key)) do out[#out + 1] = v end
return out
