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

-- The dispatcher's reads below drop the ORDER BY of their common forms: that order is the lock
-- order other PostgreSQL transactions must agree on, and SQLite, with one writer at a time,
-- takes no row locks. Sorting the batch cost a third of each read (measured on 2 000 rows).

-- load_omnis --
-- Read these omnimessages (the writer holds the database: nothing to lock).
SELECT id, account_id, to_number, state, position, dlr_url FROM omnimessages
WHERE id IN_TEXT($1)

-- load_omnis_to_fire --
-- load_omnis, with the fire-time blacklist rule's answer for each (as in common.sql).
SELECT o.id, o.account_id, o.to_number, o.state, o.position, o.dlr_url,
    (o.purpose IS NULL AND EXISTS (SELECT 1 FROM blacklist b
        WHERE b.account_id = o.account_id AND b.phone = o.to_number)) AS blacklisted
FROM omnimessages o
WHERE o.id IN_TEXT($1)

-- load_channels --
-- Read their channel messages.
SELECT id, omnimessage_id, position, channel, sender, validity_s, content, state, status,
    started_us
FROM channel_messages WHERE omnimessage_id IN_TEXT($1)

-- held_timers --
-- Of these timers, the ones still claimed, with their lease token.
SELECT id, lease_token FROM timers WHERE id IN_BIGINT($1) AND state = 'claimed'

-- lock_timers_of --
-- Nothing to lock: the one writer already holds the whole database (on PostgreSQL this locks
-- the timers of these omnimessages in id order). Reads no row.
SELECT id FROM timers WHERE 0 AND ref IN_TEXT($1)

-- lock_batch_timers --
-- Nothing to lock (as lock_timers_of): takes the account, batch and states and reads no row.
SELECT $1 AS account_id, $2 AS batch, $3 AS states WHERE 0

-- The lease reads below drop `ORDER BY id` for the same reason, and more: SQLite's planner
-- (without statistics) serves an ORDER BY on the rowid by walking the whole table in rowid
-- order instead of the small partial index timers_claimed_lease. With 1 000 000 scheduled
-- messages that walk took 235 ms on the writer thread at every recovery pass, stalling every
-- other transaction behind it (immediate sends' p99 +790 ms in `bench run pending`); on the
-- partial index it takes 0.1 ms. tests/integration/test_sqlite_plans.py keeps every statement
-- off such walks.

-- expired_leases --
-- Claimed timers whose lease ran out before $1 (the common form, without the lock order).
SELECT id, kind, ref, due_us, priority FROM timers
WHERE state = 'claimed' AND lease_until_us < $1
LIMIT $2

-- release_owned --
-- On shutdown: give back the send timers this process claimed but did not fire.
UPDATE timers SET state = 'pending', lease_owner = NULL, lease_token = NULL,
    lease_until_us = NULL
WHERE state = 'claimed' AND lease_owner = $1 AND kind = 'send'

-- extend_leases --
-- Renew, until $2, this process's leases taken under the tokens $3 that run out before $4.
UPDATE timers SET lease_until_us = $2
WHERE state = 'claimed' AND lease_owner = $1 AND lease_token IN_BIGINT($3)
    AND lease_until_us < $4
