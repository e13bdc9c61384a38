-- KEYS: stream, last id. ARGV: after, limit, cutoff. Returns {removed, reset (0/1), entries}.
local key, after = KEYS[1], tonumber(ARGV[1])
if redis.call('EXISTS', key) == 0 then
  -- Expired or never written: only a cursor at the last id missed nothing.
  local gone = tonumber(redis.call('GET', KEYS[2]) or '0')
  return {0, after ~= gone and 1 or 0, {}}
end
local removed = trim_head(key, tonumber(ARGV[3]), nil)
local m = info(key)
local last = num(m['last-generated-id'])
local floor = last  -- newest id retention dropped
if m['first-entry'] then floor = num(m['first-entry'][1]) - 1 end
local reset, start = 0, after
if after > last or after < floor then reset, start = 1, floor end
local entries = redis.call('XRANGE', key, string.format('%d-0', start + 1), '+', 'COUNT', ARGV[2])
return {removed, reset, entries}
