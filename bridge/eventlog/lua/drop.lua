-- KEYS: stream, control stream, marks hash, last id. ARGV: watcher instance.
-- Drops the log, tells other nodes.
redis.call('DEL', KEYS[3], KEYS[4])
if redis.call('DEL', KEYS[1]) == 1 then
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', 1000, '*', 'key', KEYS[1], 'by', ARGV[1])
end
return 0
