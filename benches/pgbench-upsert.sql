\set k random(0, 999)
INSERT INTO counters (k, n) VALUES (:k, 1) ON CONFLICT (k) DO UPDATE SET n = counters.n + 1 RETURNING (xmax = 0);
