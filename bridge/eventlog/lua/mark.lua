-- KEYS: marks hash[, lease]. ARGV: expected lease value, ttl ms, then conversationID/seq pairs.
-- Returns 0, or -1 when the lease is not the writer's; all pairs or none (checked before writing).
if #KEYS > 1 and redis.call('GET', KEYS[2]) ~= ARGV[1] then return -1 end
local best = {}
for i = 3, #ARGV, 2 do
  if not note_mark(best, i) then return redis.error_reply('ERR mark: seq is not an integer: ' .. ARGV[i]) end
end
local raise, err = marks_to_raise(KEYS[1], best)
if not raise then return err end
write_marks(KEYS[1], best, raise, ARGV[2])
return 0
