-- SQLite's own statements (see common.sql for the format and the markers).

-- claim_due --
-- Lease up to $5 pending timers due by $4 to owner $1 under token $2 until $3: high priority
-- first, then by due time. One sub-select per priority walks the partial index
-- timers_pending_due (priority, due_us) in due order. SQLite has one writer at a time, so no row
-- can be claimed twice.
UPDATE timers SET state = 'claimed', lease_owner = $1, lease_token = $2, lease_until_us = $3
WHERE id IN (
    SELECT id FROM (SELECT id FROM timers WHERE state = 'pending' AND priority = 2
        AND due_us <= $4 ORDER BY due_us LIMIT $5)
    UNION ALL SELECT id FROM (SELECT id FROM timers WHERE state = 'pending' AND priority = 1
        AND due_us <= $4 ORDER BY due_us LIMIT $5)
    UNION ALL SELECT id FROM (SELECT id FROM timers WHERE state = 'pending' AND priority = 0
        AND due_us <= $4 ORDER BY due_us LIMIT $5)
    LIMIT $5)
RETURNING id, kind, ref, due_us, priority
