-- KEYS: stream, last id. Returns the last id handed out, 0 for no log.
local m = info(KEYS[1])
if not m then return tonumber(redis.call('GET', KEYS[2]) or '0') end
return num(m['last-generated-id'])
