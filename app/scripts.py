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

# The /requests index: job ids by creation time, and the same ids by when their record
# expires, so expired entries are dropped without touching the keyspace (no KEYS/SCAN).
_INDEX = """
local function index_expiry(exp_key, id, at_ms)
  redis.call('ZADD', exp_key, 'XX', at_ms, id)
end
local function unindex(idx_key, exp_key, ids)
  for i = 1, #ids, 500 do
    local part = {unpack(ids, i, math.min(i + 499, #ids))}
    redis.call('ZREM', idx_key, unpack(part))
    redis.call('ZREM', exp_key, unpack(part))
  end
end
local function prune(idx_key, exp_key, now_ms, n)
  unindex(idx_key, exp_key, redis.call('ZRANGEBYSCORE', exp_key, '-inf', now_ms, 'LIMIT', 0, n))
end
"""

# Expired index entries dropped per CREATE: more than one per job keeps the index from growing.
PRUNE_ON_CREATE = 20

# KEYS: job, queued, requests, requests expiry
# ARGV: ttl_ms, deadline_ms, job_id, created_ms, field, value, ...
CREATE = _EXTEND + _INDEX + """
redis.call('HSET', KEYS[1], unpack(ARGV, 5))
redis.call('PEXPIRE', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
extend(KEYS[2], ARGV[1])
prune(KEYS[3], KEYS[4], ARGV[4], """ + str(PRUNE_ON_CREATE) + """)
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[3])
redis.call('ZADD', KEYS[4], ARGV[2], ARGV[3])
extend(KEYS[3], ARGV[1])
extend(KEYS[4], ARGV[1])
return 1
"""

# KEYS: job, queued, running   ARGV: now_ms, worker_id, must_end_ms, job_id, index_ttl_ms
# Returns false when the job is gone, else {previous status, HGETALL...}.
START = _EXTEND + """
local st = redis.call('HGET', KEYS[1], 'status')
if not st then return false end
if st == 'IN_QUEUE' or st == 'IN_PROGRESS' then
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

# KEYS: job, queued, running, stats bucket, stream, cursor, requests, requests expiry
# ARGV: status, now_ms, allowed-from (comma list), has_output, output, error,
#       stats_field, stats_ttl_s, channel, job_id
# Returns 'OK' when the transition happened, else the current status (false if gone).
FINISH = _EXTEND + _INDEX + """
local st = redis.call('HGET', KEYS[1], 'status')
if not st then return false end
if not string.find(',' .. ARGV[3] .. ',', ',' .. st .. ',', 1, true) then return st end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'finished', ARGV[2])
if redis.call('HEXISTS', KEYS[1], 'webhook') == 1 then
  redis.call('HSET', KEYS[1], 'webhook_status', 'pending')
end
if ARGV[4] == '1' then redis.call('HSET', KEYS[1], 'output', ARGV[5])
elseif ARGV[1] ~= 'CANCELLED' then redis.call('HDEL', KEYS[1], 'output') end
if ARGV[6] ~= '' then redis.call('HSET', KEYS[1], 'error', ARGV[6]) end
local keep = tonumber(redis.call('HGET', KEYS[1], 'retention_ms'))
for i = 1, 6 do
  if i == 1 or i >= 5 then
    if redis.call('EXISTS', KEYS[i]) == 1 then redis.call('PEXPIRE', KEYS[i], keep) end
  end
end
index_expiry(KEYS[8], ARGV[10], tonumber(ARGV[2]) + keep)
extend(KEYS[7], keep)
extend(KEYS[8], keep)
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

# KEYS: job, queued, stats bucket, stream, cursor, requests, requests expiry
# ARGV: now_ms, job_id, stats_ttl_s
# Returns 'OK', or the current status when it is not retryable (false if gone).
RETRY = _EXTEND + _INDEX + """
local st = redis.call('HGET', KEYS[1], 'status')
if not st then return false end
if st ~= 'FAILED' and st ~= 'TIMED_OUT' then return st end
local ttl = tonumber(redis.call('HGET', KEYS[1], 'ttl_ms'))
redis.call('HDEL', KEYS[1], 'output', 'error', 'started', 'finished', 'worker', 'webhook_status')
redis.call('HSET', KEYS[1], 'status', 'IN_QUEUE', 'queued', ARGV[1], 'deliveries', 0)
redis.call('HINCRBY', KEYS[1], 'retries', 1)
redis.call('PEXPIRE', KEYS[1], ttl)
index_expiry(KEYS[7], ARGV[2], tonumber(ARGV[1]) + ttl)
extend(KEYS[6], ttl)
extend(KEYS[7], ttl)
redis.call('DEL', KEYS[4], KEYS[5])
redis.call('ZADD', KEYS[2], tonumber(ARGV[1]) + ttl, ARGV[2])
extend(KEYS[2], ttl)
redis.call('HINCRBY', KEYS[3], 'retried', 1)
redis.call('EXPIRE', KEYS[3], ARGV[3])
return 'OK'
"""

# KEYS: job, stream, cursor
# ARGV: retention_ms, now_ms, job_id, requests key prefix, requests expiry key prefix
# Sets the job's retention; applies it now when the job has already ended.
RETAIN = _EXTEND + _INDEX + """
local st = redis.call('HGET', KEYS[1], 'status')
if not st then return 0 end
redis.call('HSET', KEYS[1], 'retention_ms', ARGV[1])
if st ~= 'IN_QUEUE' and st ~= 'IN_PROGRESS' then
  for i = 1, 3 do
    if redis.call('EXISTS', KEYS[i]) == 1 then redis.call('PEXPIRE', KEYS[i], ARGV[1]) end
  end
  local ep = redis.call('HGET', KEYS[1], 'endpoint')
  if ep then
    index_expiry(ARGV[5] .. ep, ARGV[3], tonumber(ARGV[2]) + tonumber(ARGV[1]))
    extend(ARGV[4] .. ep, ARGV[1])
    extend(ARGV[5] .. ep, ARGV[1])
  end
end
return 1
"""

# KEYS: queued, requests, requests expiry, broker list, broker list, ...
# ARGV: job key prefix, stream key prefix, now_ms
# Removes every queued job of one endpoint and its broker messages, in one step; returns
# how many live jobs it removed (ids already past their ttl are dropped without counting).
PURGE = _INDEX + """
local live = redis.call('ZCOUNT', KEYS[1], ARGV[3], '+inf')
local ids = redis.call('ZRANGE', KEYS[1], 0, -1)
local batch = {}
for i, id in ipairs(ids) do
  batch[#batch + 1] = ARGV[1] .. id
  batch[#batch + 1] = ARGV[2] .. id
  if #batch >= 2000 then redis.call('UNLINK', unpack(batch)); batch = {} end
end
if #batch > 0 then redis.call('UNLINK', unpack(batch)) end
unindex(KEYS[2], KEYS[3], ids)
redis.call('UNLINK', KEYS[1])
for i = 4, #KEYS do redis.call('UNLINK', KEYS[i]) end
return live
"""

# KEYS: job, stream   ARGV: chunk json, chunk channel, job_id
# Appends a streamed chunk while the job runs (the list expires with the job) and wakes
# stream readers; returns the new length, or -1 when the job is no longer running
# (cancelled or removed), which tells the worker to stop the handler.
PUSH_CHUNK = """
if redis.call('HGET', KEYS[1], 'status') ~= 'IN_PROGRESS' then return -1 end
local n = redis.call('RPUSH', KEYS[2], ARGV[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 then redis.call('PEXPIRE', KEYS[2], ttl) end
redis.call('PUBLISH', ARGV[2], ARGV[3])
return n
"""

# KEYS: job, stream, cursor   ARGV: 'take' | 'peek', start index (peek), max chunks
# Returns false when the job is gone, else {status, chunk, chunk, ...}, read together so a
# terminal status always comes with every chunk the job produced. 'take' reads from the
# deliver-once cursor and moves it past what it returns; 'peek' reads from ``start`` and
# moves nothing (Server-Sent Events track their position in Last-Event-ID instead).
READ_STREAM = """
local st = redis.call('HGET', KEYS[1], 'status')
if not st then return false end
local from = tonumber(ARGV[2])
if ARGV[1] == 'take' then from = tonumber(redis.call('GET', KEYS[3]) or '0') end
local chunks = redis.call('LRANGE', KEYS[2], from, from + tonumber(ARGV[3]) - 1)
if ARGV[1] == 'take' and #chunks > 0 then
  local ttl = redis.call('PTTL', KEYS[1])
  if ttl < 1 then ttl = 1 end
  redis.call('SET', KEYS[3], from + #chunks, 'PX', ttl)
end
local out = {st}
for _, c in ipairs(chunks) do out[#out + 1] = c end
return out
"""

# KEYS: job, stream, cursor, queued, running   ARGV: job_id, done channel
# A job past its policy.ttl: gone wherever it is (its record may already have expired).
REMOVE = """
redis.call('UNLINK', KEYS[1], KEYS[2], KEYS[3])
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('ZREM', KEYS[5], ARGV[1])
redis.call('PUBLISH', ARGV[2], ARGV[1])
return 1
"""

# KEYS: job   ARGV: outcome, finished_ms of the run the webhook reported
# Records a webhook's delivery outcome, unless the job has been retried (or is gone) since.
WEBHOOK_STATUS = """
if redis.call('HGET', KEYS[1], 'finished') ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], 'webhook_status', ARGV[1])
return 1
"""

# KEYS: requests, requests expiry
# ARGV: now_ms, job key prefix, max score ('+inf', or the cursor's), cursor id ('' for none),
#       limit, statuses (',A,B,' or '' for any), scan budget
# Lists jobs newest first, strictly after the cursor (score desc, then id desc, as Redis orders
# them), dropping entries whose record is gone. Returns {rows, next score, next id}; each row is
# {id, status, created, queued, started, finished, worker, retries}; next is false at the end.
LIST = _INDEX + """
prune(KEYS[1], KEYS[2], ARGV[1], 1000)
local function before(a, b)
  -- Redis orders equal scores by member bytes; Lua's < follows the locale, so compare bytes.
  for i = 1, math.min(#a, #b) do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y end
  end
  return #a < #b
end
local cursor_score, cursor_id = tonumber(ARGV[3]), ARGV[4]
local limit, budget = tonumber(ARGV[5]), tonumber(ARGV[7])
local batch = math.max(limit + 1, 100)
local rows, gone = {}, {}
local scanned, offset = 0, 0
local next_score, next_id = false, false
local stop = false
while not stop do
  local page = redis.call('ZREVRANGEBYSCORE', KEYS[1], ARGV[3], '-inf', 'WITHSCORES', 'LIMIT', offset, batch)
  offset = offset + #page / 2
  for i = 1, #page, 2 do
    local id, score = page[i], page[i + 1]
    if cursor_id == '' or tonumber(score) < cursor_score or before(id, cursor_id) then
      local h = redis.call('HMGET', ARGV[2] .. id,
                           'status', 'created', 'queued', 'started', 'finished', 'worker', 'retries')
      if not h[1] then
        gone[#gone + 1] = id
      elseif ARGV[6] == '' or string.find(ARGV[6], ',' .. h[1] .. ',', 1, true) then
        if #rows == limit then stop = true; break end
        rows[#rows + 1] = {id, h[1], h[2], h[3], h[4], h[5], h[6], h[7]}
        next_score, next_id = score, id
      end
      scanned = scanned + 1
      if scanned >= budget then
        -- Out of budget: the caller goes on from here with the cursor.
        next_score, next_id, stop = score, id, true
        break
      end
    end
  end
  if #page < 2 * batch and not stop then
    next_score, next_id, stop = false, false, true
  end
end
unindex(KEYS[1], KEYS[2], gone)
return {rows, next_score, next_id}
"""

# KEYS: in-flight set   ARGV: now_ms, lease_ms, limit, token
# Takes a concurrency slot unless `limit` are held. Each slot lapses on its own after
# lease_ms, so a process that dies holding slots cannot leak them for longer than that.
ACQUIRE_SLOT = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], tonumber(ARGV[1]) + tonumber(ARGV[2]), ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
"""
