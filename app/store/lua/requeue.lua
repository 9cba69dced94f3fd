-- Takes back a job whose worker was lost: IN_PROGRESS on that worker since that start
-- -> IN_QUEUE (its broker message has been put back). Returns 'OK', else the current
-- status (false if gone); a job restarted elsewhere meanwhile is left alone. Its message went back
-- to the head of its lane, so in the waiting order it goes first in its lane too.
-- uses: extend
local job_key, queued_key, running_key, waiting_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local job_id, worker_id, started_ms, now_ms = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local low_lane = tonumber(ARGV[5])

local status = redis.call('HGET', job_key, 'status')
if not status then return false end
local run = redis.call('HMGET', job_key, 'worker', 'started')
if status ~= 'IN_PROGRESS' or run[1] ~= worker_id or run[2] ~= started_ms then return status end
redis.call('HDEL', job_key, 'worker', 'started', 'output')
redis.call('HSET', job_key, 'status', 'IN_QUEUE', 'queued', now_ms)
redis.call('ZREM', running_key, job_id)
local left = redis.call('PTTL', job_key)
if left > 0 then
  redis.call('ZADD', queued_key, now_ms + left, job_id)
  extend(queued_key, left)
  local lane_offset = 0
  if redis.call('HGET', job_key, 'low_priority') == '1' then lane_offset = low_lane end
  local first = redis.call('ZRANGEBYSCORE', waiting_key, lane_offset, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
  local head = lane_offset
  if #first > 0 and tonumber(first[2]) < lane_offset + now_ms then head = tonumber(first[2]) - 1 end
  if head < lane_offset then head = lane_offset end
  redis.call('ZADD', waiting_key, head, job_id)
  extend(waiting_key, left)
end
return 'OK'
