-- KEYS: marks hash[, lease]. ARGV: expected lease value, ttl ms, then conversationID/seq pairs.
-- Returns 0, or -1 when the lease is not the writer's.
if #KEYS > 1 and redis.call('GET', KEYS[2]) ~= ARGV[1] then return -1 end
raise_marks(KEYS[1], 3, ARGV[2])
return 0
