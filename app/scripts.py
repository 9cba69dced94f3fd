"""Lua scripts: every job state transition is one atomic script.

A transition checks the state it starts from, so two actors racing (a worker
finishing while /cancel arrives, a late progress update) cannot both win.
"""
from __future__ import annotations

# Extends a key's expiry to at least ARGV-given milliseconds (Redis 6 has no EXPIRE GT).
_EXTEND = """
local function extend(key, ms)
  ms = tonumber(ms)
  if redis.call('PTTL', key) < ms then redis.call('PEXPIRE', key, ms) end
end
"""

# KEYS: job, queued   ARGV: ttl_ms, deadline_ms, job_id, field, value, ...
CREATE = _EXTEND + """
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
redis.call('PEXPIRE', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
extend(KEYS[2], ARGV[1])
return 1
"""

# KEYS: job, queued, running   ARGV: now_ms, worker_id, must_end_ms, job_id, index_ttl_ms,
#       max_deliveries (0: no bound), worker heartbeat key prefix
# Returns false when the job is gone, else {previous status, HGETALL...}. Nothing changes, and
# the previous status reads 'RUNNING', when the job's worker is alive and still running it (a
# duplicate delivery), or 'EXHAUSTED' when the job has already had max_deliveries runs.
START = _EXTEND + """
local st = redis.call('HGET', KEYS[1], 'status')
if not st then return false end
local holder = redis.call('HGET', KEYS[1], 'worker')
local bound = tonumber(ARGV[6] or '0')
if st == 'IN_PROGRESS' and holder and holder ~= ARGV[2] and ARGV[7]
    and redis.call('HGET', ARGV[7] .. holder, 'job') == ARGV[4] then
  st = 'RUNNING'
elseif (st == 'IN_QUEUE' or st == 'IN_PROGRESS') and bound > 0
    and tonumber(redis.call('HGET', KEYS[1], 'deliveries') or '0') >= bound then
  st = 'EXHAUSTED'
elseif st == 'IN_QUEUE' or st == 'IN_PROGRESS' then
  redis.call('HINCRBY', KEYS[1], 'deliveries', 1)
  redis.call('HSET', KEYS[1], 'status', 'IN_PROGRESS', 'started', ARGV[1], 'worker', ARGV[2])
  redis.call('HDEL', KEYS[1], 'output')
  redis.call('ZREM', KEYS[2], ARGV[4])
  redis.call('ZADD', KEYS[3], ARGV[3], ARGV[4])
  extend(KEYS[3], ARGV[5])
end
local out = {st}
for _, v in ipairs(redis.call('HGETALL', KEYS[1])) do out[#out + 1] = v end
return out
"""

# KEYS: job, queued, running, stats bucket, stream, cursor
# ARGV: status, now_ms, allowed-from (comma list), has_output, output, error,
#       stats_field, stats_ttl_s, channel, job_id
# Returns 'OK' when the transition happened, else the current status (false if gone).
FINISH = """
local st = redis.call('HGET', KEYS[1], 'status')
if not st then return false end
if not string.find(',' .. ARGV[3] .. ',', ',' .. st .. ',', 1, true) then return st end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'finished', ARGV[2])
if ARGV[4] == '1' then redis.call('HSET', KEYS[1], 'output', ARGV[5])
elseif ARGV[1] ~= 'CANCELLED' then redis.call('HDEL', KEYS[1], 'output') end
if ARGV[6] ~= '' then redis.call('HSET', KEYS[1], 'error', ARGV[6]) end
local keep = tonumber(redis.call('HGET', KEYS[1], 'retention_ms'))
for i = 1, 6 do
  if i == 1 or i >= 5 then
    if redis.call('EXISTS', KEYS[i]) == 1 then redis.call('PEXPIRE', KEYS[i], keep) end
  end
end
redis.call('ZREM', KEYS[2], ARGV[10])
redis.call('ZREM', KEYS[3], ARGV[10])
if ARGV[7] ~= '' then
  redis.call('HINCRBY', KEYS[4], ARGV[7], 1)
  redis.call('EXPIRE', KEYS[4], ARGV[8])
end
redis.call('PUBLISH', ARGV[9], ARGV[10])
return 'OK'
"""

# KEYS: job   ARGV: output json
PROGRESS = """
if redis.call('HGET', KEYS[1], 'status') ~= 'IN_PROGRESS' then return 0 end
redis.call('HSET', KEYS[1], 'output', ARGV[1])
return 1
"""

# KEYS: job, queued, stats bucket, stream, cursor
# ARGV: now_ms, job_id, stats_ttl_s
# Returns 'OK', or the current status when it is not retryable (false if gone).
RETRY = _EXTEND + """
local st = redis.call('HGET', KEYS[1], 'status')
if not st then return false end
if st ~= 'FAILED' and st ~= 'TIMED_OUT' then return st end
local ttl = tonumber(redis.call('HGET', KEYS[1], 'ttl_ms'))
redis.call('HDEL', KEYS[1], 'output', 'error', 'started', 'finished', 'worker')
redis.call('HSET', KEYS[1], 'status', 'IN_QUEUE', 'queued', ARGV[1], 'deliveries', 0)
redis.call('HINCRBY', KEYS[1], 'retries', 1)
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('DEL', KEYS[4], KEYS[5])
redis.call('ZADD', KEYS[2], tonumber(ARGV[1]) + ttl, ARGV[2])
extend(KEYS[2], ttl)
redis.call('HINCRBY', KEYS[3], 'retried', 1)
redis.call('EXPIRE', KEYS[3], ARGV[3])
return 'OK'
"""

# KEYS: job, stream, cursor   ARGV: retention_ms
# Sets the job's retention; applies it now when the job has already ended.
RETAIN = """
local st = redis.call('HGET', KEYS[1], 'status')
if not st then return 0 end
redis.call('HSET', KEYS[1], 'retention_ms', ARGV[1])
if st ~= 'IN_QUEUE' and st ~= 'IN_PROGRESS' then
  for i = 1, 3 do
    if redis.call('EXISTS', KEYS[i]) == 1 then redis.call('PEXPIRE', KEYS[i], ARGV[1]) end
  end
end
return 1
"""

# KEYS: queued, broker list, broker list, ...   ARGV: job key prefix, stream key prefix
# Removes every queued job of one endpoint and its broker messages, in one step.
PURGE = """
local ids = redis.call('ZRANGE', KEYS[1], 0, -1)
local batch = {}
for i, id in ipairs(ids) do
  batch[#batch + 1] = ARGV[1] .. id
  batch[#batch + 1] = ARGV[2] .. id
  if #batch >= 2000 then redis.call('UNLINK', unpack(batch)); batch = {} end
end
if #batch > 0 then redis.call('UNLINK', unpack(batch)) end
for i = 1, #KEYS do redis.call('UNLINK', KEYS[i]) end
return #ids
"""

# KEYS: job, queued, running   ARGV: job_id, worker_id, started_ms, now_ms
# Takes back a job whose worker was lost: IN_PROGRESS on that worker since that start
# -> IN_QUEUE (its broker message has been put back). Returns 'OK', else the current
# status (false if gone); a job restarted elsewhere meanwhile is left alone.
REQUEUE = _EXTEND + """
local st = redis.call('HGET', KEYS[1], 'status')
if not st then return false end
local h = redis.call('HMGET', KEYS[1], 'worker', 'started')
if st ~= 'IN_PROGRESS' or h[1] ~= ARGV[2] or h[2] ~= ARGV[3] then return st end
redis.call('HDEL', KEYS[1], 'worker', 'started', 'output')
redis.call('HSET', KEYS[1], 'status', 'IN_QUEUE', 'queued', ARGV[4])
redis.call('ZREM', KEYS[3], ARGV[1])
local left = redis.call('PTTL', KEYS[1])
if left > 0 then
  redis.call('ZADD', KEYS[2], tonumber(ARGV[4]) + left, ARGV[1])
  extend(KEYS[2], left)
end
return 'OK'
"""
