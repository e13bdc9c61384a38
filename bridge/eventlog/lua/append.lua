-- KEYS: stream, marks hash, last id[, lease]. ARGV: event, data, now, cutoff, max_events,
-- idle_ttl_ms, expected lease value, last-id ttl ms, max_bytes, then conversationID/seq mark pairs.
-- Returns {id, entries removed by retention}, or {-1, 0} when the lease is not the writer's.
if #KEYS > 3 and redis.call('GET', KEYS[4]) ~= ARGV[7] then return {-1, 0} end
local key, t = KEYS[1], ARGV[3]
local last = tonumber(redis.call('GET', KEYS[3]) or '0')  -- survives an expired stream
local m = info(key)
local offset = 0  -- where this event starts: the end of the previous one
if m then
  last = num(m['last-generated-id'])
  local tail = m['last-entry']
  if tail then
    local prev = field(tail[2], 't')
    if tonumber(prev) > tonumber(t) then t = prev end
    local prev_o = field(tail[2], 'o')
    if prev_o then offset = tonumber(prev_o) + #field(tail[2], 'e') + #field(tail[2], 'd') end
  end
end
local id = last + 1
redis.call('XADD', key, string.format('%d-0', id), 'e', ARGV[1], 'd', ARGV[2], 't', t,
  'o', string.format('%d', offset))
-- Keep what fits in max_bytes, and the new event whatever its size.
local min_off = math.min(offset + #ARGV[1] + #ARGV[2] - tonumber(ARGV[9]), offset)
local removed = redis.call('XTRIM', key, 'MAXLEN', ARGV[5]) + trim_head(key, tonumber(ARGV[4]), min_off)
redis.call('PEXPIRE', key, ARGV[6])
redis.call('SET', KEYS[3], id, 'PX', ARGV[8])
raise_marks(KEYS[2], 10, ARGV[6])
return {id, removed}
