-- Reads a job's status and streamed chunks together, so a terminal status always comes with
-- every chunk the job produced. Returns false when the job is gone, else {status, first index,
-- chunk...}. Chunks of an interrupted run (before the record's stream_from) are never handed
-- out: a reader that had some of them goes on with the chunks of the run that counts.
-- 'take' reads from the deliver-once cursor and moves it past what it returns; 'peek' reads
-- from start and moves nothing (Server-Sent Events track their position in Last-Event-ID).
local job_key, stream_key, cursor_key = KEYS[1], KEYS[2], KEYS[3]
local mode, start, limit = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])

local status = redis.call('HGET', job_key, 'status')
if not status then return false end
local from = start
if mode == 'take' then from = tonumber(redis.call('GET', cursor_key) or '0') end
local run_start = tonumber(redis.call('HGET', job_key, 'stream_from') or '0')
if from < run_start then from = run_start end
local chunks = redis.call('LRANGE', stream_key, from, from + limit - 1)
if mode == 'take' and #chunks > 0 then
  local ttl = redis.call('PTTL', job_key)
  if ttl < 1 then ttl = 1 end
  redis.call('SET', cursor_key, from + #chunks, 'PX', ttl)
end
local out = {status, from}
for _, chunk in ipairs(chunks) do out[#out + 1] = chunk end
return out
