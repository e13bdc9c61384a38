-- KEYS: record. ARGV: record field/value pairs. An ended session stays ended.
if redis.call('EXISTS', KEYS[1]) == 0 or redis.call('HEXISTS', KEYS[1], '_ended_at') == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
