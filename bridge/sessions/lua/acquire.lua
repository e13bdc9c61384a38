-- KEYS: lease, fence. ARGV: node id, lease ms. Returns the fence, or nil if another node holds it.
local cur = redis.call('GET', KEYS[1])
if cur then
  local sp = string.find(cur, ' ', 1, true)
  if string.sub(cur, sp + 1) ~= ARGV[1] then return nil end
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return tonumber(string.sub(cur, 1, sp - 1))
end
if redis.call('EXISTS', KEYS[2]) == 0 then
  -- A new (or flushed) counter starts at Redis's clock in microseconds: fences
  -- stay above every one handed out before, which checkpoints still carry.
  local now = redis.call('TIME')
  redis.call('SET', KEYS[2], string.format('%d', tonumber(now[1]) * 1000000 + tonumber(now[2])))
end
local fence = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], string.format('%d %s', fence, ARGV[1]), 'PX', ARGV[2])
return fence
