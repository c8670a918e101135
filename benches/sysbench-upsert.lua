-- benches/compare.sh: sysbench's side of the MariaDB cell. One prepared
-- INSERT ... ON DUPLICATE KEY UPDATE per event (autocommit), keys uniform in 0..999,
-- the same statement keyrace's on-duplicate-key-update built-in runs.
function thread_init()
   drv = sysbench.sql.driver()
   con = drv:connect()
   stmt = con:prepare("INSERT INTO counters (k, n) VALUES (?, 1) ON DUPLICATE KEY UPDATE n = n + 1")
   param = stmt:bind_create(sysbench.sql.type.BIGINT)
   stmt:bind_param(param)
end

function event()
   param:set(sysbench.rand.uniform(0, 999))
   stmt:execute()
end

function thread_done()
   stmt:close()
   con:disconnect()
end
