-- KEYS: record, tokens (sorted set), token key, live. ARGV: sid, token hash, live field, then record field/value pairs.
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
redis.call('SET', KEYS[3], ARGV[1])
redis.call('DEL', KEYS[2])
redis.call('ZADD', KEYS[2], 0, ARGV[2])
redis.call('HSET', KEYS[4], ARGV[3], ARGV[1])
return 1
