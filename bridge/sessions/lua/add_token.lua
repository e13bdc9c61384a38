-- KEYS: record, tokens (sorted set), token key. ARGV: sid, token hash, max tokens, token key prefix.
-- Scores count up, so the oldest tokens come first; past the cap they are revoked.
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('SET', KEYS[3], ARGV[1])
local newest = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
local score = 0
if newest[2] then score = tonumber(newest[2]) + 1 end
redis.call('ZADD', KEYS[2], score, ARGV[2])
local extra = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[3])
if extra > 0 then
  for i, h in ipairs(redis.call('ZPOPMIN', KEYS[2], extra)) do
    if i % 2 == 1 then redis.call('DEL', ARGV[4] .. h) end
  end
end
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 then
  redis.call('PEXPIRE', KEYS[3], ttl)
  redis.call('PEXPIRE', KEYS[2], ttl)
end
return 1
