-- Removes every queued job of one endpoint, with its broker messages, in one step.
-- The caller read the queued ids just before and passes each one's record and stream keys;
-- when the queued set no longer holds exactly those ids (a job arrived or started since),
-- nothing changes and -1 tells the caller to read again. Else returns how many live jobs
-- were removed (ids already past their ttl are dropped without counting).
-- Each purged job leaves a tombstone (kind 4, purged now) so that its id reads "purged", not unknown.
-- uses: index, tombstone
local queued_key, requests_key, expiry_key, waiting_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local now_ms, lane_count, tomb_keep_ms, tomb_tag = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4]
-- KEYS[5 .. 4 + lane_count]: the broker lists of the endpoint's priority lanes
-- KEYS[5 + lane_count ..]: record key, stream key, tombstone key of each id in ARGV[5..], in that order
local first_job_key = 5 + lane_count

local ids = {}
for i = 5, #ARGV do ids[#ids + 1] = ARGV[i] end
if redis.call('ZCARD', queued_key) ~= #ids then return -1 end
for _, id in ipairs(ids) do
  if not redis.call('ZSCORE', queued_key, id) then return -1 end
end
local live = redis.call('ZCOUNT', queued_key, now_ms, '+inf')
local batch = {}
for i = first_job_key, #KEYS, 3 do
  batch[#batch + 1] = KEYS[i]
  batch[#batch + 1] = KEYS[i + 1]
  if #batch >= 2000 then redis.call('UNLINK', unpack(batch)); batch = {} end
  tombstone(KEYS[i + 2], tomb_tag, now_ms, 4, tomb_keep_ms, now_ms)
end
if #batch > 0 then redis.call('UNLINK', unpack(batch)) end
unindex(requests_key, expiry_key, ids)
redis.call('UNLINK', queued_key, waiting_key)
for i = 5, 4 + lane_count do redis.call('UNLINK', KEYS[i]) end
return live
