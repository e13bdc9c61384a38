-- KEYS: token key. ARGV: record key prefix. Returns the record hash (flat), or nil.
local sid = redis.call('GET', KEYS[1])
if not sid then return nil end
return redis.call('HGETALL', ARGV[1] .. sid)
