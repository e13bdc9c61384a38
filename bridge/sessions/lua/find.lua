-- KEYS: live. ARGV: live field, record key prefix.
local sid = redis.call('HGET', KEYS[1], ARGV[1])
if not sid then return nil end
return redis.call('HGETALL', ARGV[2] .. sid)
