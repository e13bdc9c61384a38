-- KEYS: stream, marks hash, last id[, lease]. ARGV: now, cutoff, max_events, idle_ttl_ms,
-- expected lease value, last-id ttl ms, max_bytes, then per event: event, data, its number
-- of mark pairs k, and k conversationID/seq pairs.
-- Returns {first id, entries removed by retention} (the batch has the ids that follow), or
-- {-1, 0} when the lease is not the writer's.
-- All or nothing: Redis rolls back neither a script nor a MULTI that fails half-way, so
-- everything that can fail (the fence, the arguments, the existing keys' types and values)
-- is checked before the first write; after that only XADD/XTRIM/HSET/SET/PEXPIRE run.
if #KEYS > 3 and redis.call('GET', KEYS[4]) ~= ARGV[5] then return {-1, 0} end
local key, t = KEYS[1], ARGV[1]
local events, best = {}, {}  -- {name, data} in order; conversationID -> highest seq (text)
local i = 8
while i <= #ARGV do
  local k = ARGV[i + 2]
  if not (k and string.match(k, '^%d+$')) or i + 2 + 2 * tonumber(k) > #ARGV then
    return redis.error_reply('ERR append: bad mark count for event ' .. (#events + 1))
  end
  events[#events + 1] = {ARGV[i], ARGV[i + 1]}
  for j = i + 3, i + 2 + 2 * tonumber(k), 2 do
    if not note_mark(best, j) then return redis.error_reply('ERR append: mark seq is not an integer: ' .. ARGV[j]) end
  end
  i = i + 3 + 2 * tonumber(k)
end
if #events == 0 then return redis.error_reply('ERR append: no events') end
local raise, err = marks_to_raise(KEYS[2], best)
if not raise then return err end
local stored_last = redis.call('GET', KEYS[3]) or '0'  -- survives an expired stream
if not int(stored_last) then return redis.error_reply('ERR append: stored last id is not an integer') end
local last = tonumber(stored_last)
local m = info(key)
local offset = 0  -- where the first event starts: the end of the previous one
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
-- Writes. Trimming once after the batch drops what trimming after each event would: the
-- bounds only move forward along the stream.
local first = last + 1
local size = 0
for n, ev in ipairs(events) do
  offset = offset + size
  size = #ev[1] + #ev[2]
  redis.call('XADD', key, string.format('%d-0', last + n), 'e', ev[1], 'd', ev[2], 't', t,
    'o', string.format('%d', offset))
end
-- Keep what fits in max_bytes, and the newest event whatever its size.
local min_off = math.min(offset + size - tonumber(ARGV[7]), offset)
local removed = redis.call('XTRIM', key, 'MAXLEN', ARGV[3]) + trim_head(key, tonumber(ARGV[2]), min_off)
redis.call('PEXPIRE', key, ARGV[4])
redis.call('SET', KEYS[3], last + #events, 'PX', ARGV[6])
write_marks(KEYS[2], best, raise, ARGV[4])
return {first, removed}
