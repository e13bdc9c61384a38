-- Shared helpers, prepended to each script of this folder but drop.lua. Inside Lua, replies
-- are RESP2: XINFO STREAM is a flat [name, value, ...] list and an empty first-entry is false.
local function info(key)
  if redis.call('EXISTS', key) == 0 then return nil end
  local raw = redis.call('XINFO', 'STREAM', key)
  local m = {}
  for i = 1, #raw, 2 do m[raw[i]] = raw[i + 1] end
  return m
end
local function num(id) return tonumber(string.match(id, '^(%d+)')) end
local function field(fields, name)
  for i = 1, #fields, 2 do if fields[i] == name then return fields[i + 1] end end
  return nil
end
-- Is `s` an integer as the bridge writes them (seqs, ids)? Checked before writing, since a
-- script that fails half-way keeps its writes (Redis has no rollback).
local function int(s) return type(s) == 'string' and string.match(s, '^%-?%d+$') ~= nil end
-- Note conversationID/seq pair ARGV[i], ARGV[i + 1] in `best` (conversationID -> highest seq);
-- false when the seq is no integer.
local function note_mark(best, i)
  local conv, seq = ARGV[i], ARGV[i + 1]
  if not int(seq) then return false end
  if not best[conv] or tonumber(seq) > tonumber(best[conv]) then best[conv] = seq end
  return true
end
-- The marks of `best` that raise hash `key` ({conversationID, seq, ...}), or nil and the error
-- reply to return. Reads only (WRONGTYPE fails here too), so a caller writes after it or not at all.
local function marks_to_raise(key, best)
  local raise = {}
  for conv, seq in pairs(best) do
    local have = redis.call('HGET', key, conv) or '0'
    if not int(have) then return nil, redis.error_reply('ERR stored mark is not an integer: ' .. conv) end
    if tonumber(seq) > tonumber(have) then raise[#raise + 1] = conv; raise[#raise + 1] = seq end
  end
  return raise
end
local function write_marks(key, best, raise, ttl)
  for j = 1, #raise, 2 do redis.call('HSET', key, raise[j], raise[j + 1]) end
  if next(best) then redis.call('PEXPIRE', key, ttl) end
end
-- An entry retention drops: appended before cutoff, or starting before byte offset
-- min_off (nil: no byte bound; an entry without 'o' has none).
local function stale(fields, cutoff, min_off)
  if tonumber(field(fields, 't')) < cutoff then return true end
  local o = min_off and field(fields, 'o')
  return o ~= nil and o ~= false and tonumber(o) < min_off
end
-- Drop stale entries from the head; t and o never decrease along the stream.
local function trim_head(key, cutoff, min_off)
  -- Usually the head stays: look at one entry before scanning batches.
  local first = redis.call('XRANGE', key, '-', '+', 'COUNT', 1)
  if #first == 0 or not stale(first[1][2], cutoff, min_off) then return 0 end
  local removed = 0
  while true do
    local head = redis.call('XRANGE', key, '-', '+', 'COUNT', 128)
    if #head == 0 then return removed end
    for _, entry in ipairs(head) do
      if not stale(entry[2], cutoff, min_off) then
        return removed + redis.call('XTRIM', key, 'MINID', entry[1])
      end
    end
    removed = removed + redis.call('XTRIM', key, 'MINID', string.format('%d-0', num(head[#head][1]) + 1))
  end
end
