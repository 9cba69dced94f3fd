-- Records a new job as IN_QUEUE, indexed as queued and in /requests.
-- uses: extend, index, tombstone
local job_key, queued_key, requests_key, expiry_key, tomb_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local waiting_key = KEYS[6]
local ttl_ms, deadline_ms, job_id, created_ms = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local prune_count, tomb_keep_ms, tomb_tag = tonumber(ARGV[5]), ARGV[6], ARGV[7]
local order_score = ARGV[8]
-- ARGV[9..]: the record's field, value pairs

redis.call('HSET', job_key, unpack(ARGV, 9))
redis.call('PEXPIRE', job_key, ttl_ms)
tombstone(tomb_key, tomb_tag, deadline_ms, 3, tomb_keep_ms, created_ms)
redis.call('ZADD', queued_key, deadline_ms, job_id)
extend(queued_key, ttl_ms)
redis.call('ZADD', waiting_key, order_score, job_id)
extend(waiting_key, ttl_ms)
prune(requests_key, expiry_key, created_ms, prune_count)
redis.call('ZADD', requests_key, created_ms, job_id)
redis.call('ZADD', expiry_key, deadline_ms, job_id)
extend(requests_key, ttl_ms)
extend(expiry_key, ttl_ms)
return 1
