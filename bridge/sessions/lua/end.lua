-- KEYS: record, tokens (sorted set), live. ARGV: sid, code (JSON), ended_at, ttl ms, token key prefix.
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local user = cjson.decode(redis.call('HGET', KEYS[1], 'user_id'))
local platform = cjson.decode(redis.call('HGET', KEYS[1], 'platform_id'))
local live_field = string.format('%d:%s', platform, user)
redis.call('HSET', KEYS[1], 'ended_code', ARGV[2], 'upstream_token', '""', '_ended_at', ARGV[3])
if redis.call('HGET', KEYS[3], live_field) == ARGV[1] then redis.call('HDEL', KEYS[3], live_field) end
for _, h in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do redis.call('PEXPIRE', ARGV[5] .. h, ARGV[4]) end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
return 1
