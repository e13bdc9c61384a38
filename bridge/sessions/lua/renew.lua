-- KEYS: lease. ARGV: "{fence} {node_id}", lease ms (renew) - compare-and-set on the holder.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
