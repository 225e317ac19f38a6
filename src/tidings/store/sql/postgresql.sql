-- PostgreSQL's own statements (see common.sql for the format and the markers).
--
-- Set-based batches. The shared scripts write batches as `executemany` of a one-row statement
-- (SQLite, in process, runs those fast). On PostgreSQL every row would be a statement of its own
-- on the server: a batch of 2 000 rows in five statements is 10 000 executions. So each statement
-- written in batches has a form here, named `<statement>.unnest`, that reads one array per
-- parameter through `unnest` and does the whole batch in one statement (store/postgres.py runs
-- it for batches of more than one row).
--
-- Set-based and row-by-row agree only when no target row is matched by two parameter rows (row
-- by row would apply both, in order; an INSERT ... ON CONFLICT DO UPDATE would fail). A
-- `-- distinct: $1, $2` line names the parameters that identify the target row; a batch in which
-- two rows repeat them runs row by row instead. (A DELETE needs none: deleting a row twice
-- deletes it once, as row by row does.)


-- ===== the clock, claims, wake-ups =====

-- now_us --
-- The reference clock: the database server's, in UTC microseconds.
SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint AS now_us

-- claim_due --
-- Lease up to $5 pending timers due by $4 to owner $1 under token $2 until $3: high priority
-- first, then by due time.
-- One sub-select per priority, each walking the partial index `timers_pending_due
-- (priority, due_us) WHERE state = 'pending'` in due order. Append runs them lazily under the
-- outer LIMIT, so lower priorities are read (and locked) only when the higher ones leave room. A
-- row another claimer holds is skipped, and a row that stopped being pending before we could lock
-- it is re-checked and dropped, so no row is ever claimed twice. (PostgreSQL refuses FOR UPDATE
-- directly in a UNION branch, hence the derived tables.) The update finds the claimed rows
-- through `= ANY(ARRAY(...))`, a primary-key probe each: a join `FROM c` lets the planner pick a
-- hash join over a sequential scan of the whole table when many rows are pending. There is
-- deliberately no index on due_us alone: the planner could prefer it for one branch and filter on
-- priority.
WITH c AS (
    SELECT id FROM (SELECT id FROM timers WHERE state = 'pending' AND priority = 2
        AND due_us <= $4 ORDER BY due_us LIMIT $5 FOR UPDATE SKIP LOCKED) p2
    UNION ALL SELECT id FROM (SELECT id FROM timers WHERE state = 'pending' AND priority = 1
        AND due_us <= $4 ORDER BY due_us LIMIT $5 FOR UPDATE SKIP LOCKED) p1
    UNION ALL SELECT id FROM (SELECT id FROM timers WHERE state = 'pending' AND priority = 0
        AND due_us <= $4 ORDER BY due_us LIMIT $5 FOR UPDATE SKIP LOCKED) p0
    LIMIT $5)
UPDATE timers t SET state = 'claimed', lease_owner = $1, lease_token = $2, lease_until_us = $3
WHERE t.id = ANY(ARRAY(SELECT id FROM c))
RETURNING t.id, t.kind, t.ref, t.due_us, t.priority

-- notify_due --
-- Wake the schedulers of other processes (LISTEN $1) for a new due time $2, on commit.
SELECT pg_notify($1, $2)

-- notify_due_checking --
-- notify_due, plus the ids of the expected (account id $3, version $4) pairs that no longer
-- hold: the accept path's account check at no round trip of its own.
SELECT (SELECT coalesce(array_agg(e.id), '{}') FROM unnest($3::bigint[], $4::bigint[])
        AS e(id, version) LEFT JOIN accounts a ON a.id = e.id
        WHERE a.version IS DISTINCT FROM e.version) AS stale,
    pg_notify($1, $2)

-- accept_omnimessages --
-- The accept path as one statement, so one round trip (each statement of a transaction is one,
-- and BEGIN and COMMIT are two more: six made a lone POST wait 1.4 ms). When every expected
-- (account id $21, version $22) pair still holds: insert the omnimessages ($1-$13, as
-- insert_omnimessage.unnest), their channel messages ($14-$20, as
-- insert_channel_message.unnest) and their send timers (from $1, $6, $4), and wake the other
-- processes' schedulers (channel $23, the earliest due time $24) on commit. Otherwise insert
-- nothing. Returns the ids of the accounts that changed. The channel messages' foreign key is
-- checked at the end of the statement, when the omnimessages are in. It runs with a generic plan
-- (store/postgres.py), so each account is read by a primary-key probe whatever the plan.
WITH stale AS (
    SELECT coalesce(array_agg(e.id), '{}') AS ids
    FROM unnest($21::bigint[], $22::bigint[]) AS e(id, version)
    WHERE e.version IS DISTINCT FROM (SELECT a.version FROM accounts a WHERE a.id = e.id)
), go AS (
    SELECT cardinality(ids) = 0 AS ok FROM stale
), omni AS (
    INSERT INTO omnimessages (id, account_id, to_number, state, priority, time_to_send_us, due_us,
        dlr_url, text_store, position, created_us, updated_us, moved_by, batch, quiet_hours,
        purpose)
    SELECT v.id, v.account_id, v.to_number, 'scheduled', v.priority, v.time_to_send_us, v.due_us,
        v.dlr_url, v.text_store, 0, v.created_us, v.created_us, v.moved_by, v.batch,
        v.quiet_hours, v.purpose
    FROM unnest($1::text[], $2::int4[], $3::text[], $4::int2[], $5::int8[], $6::int8[],
        $7::text[], $8::text[], $9::int8[], $10::text[], $11::text[], $12::text[], $13::text[])
        AS v(id, account_id, to_number, priority, time_to_send_us, due_us, dlr_url, text_store,
            created_us, moved_by, batch, quiet_hours, purpose)
    WHERE (SELECT ok FROM go)
), channels AS (
    INSERT INTO channel_messages (id, omnimessage_id, position, channel, sender, validity_s,
        content, state)
    SELECT v.id, v.omnimessage_id, v.position, v.channel, v.sender, v.validity_s, v.content,
        'pending'
    FROM unnest($14::text[], $15::text[], $16::int2[], $17::text[], $18::text[], $19::int4[],
        $20::text[]) AS v(id, omnimessage_id, position, channel, sender, validity_s, content)
    WHERE (SELECT ok FROM go)
), send_timers AS (
    INSERT INTO timers (kind, ref, due_us, priority, state)
    SELECT 'send', v.ref, v.due_us, v.priority, 'pending'
    FROM unnest($1::text[], $6::int8[], $4::int2[]) AS v(ref, due_us, priority)
    WHERE (SELECT ok FROM go)
)
SELECT stale.ids AS stale, CASE WHEN go.ok THEN pg_notify($23, $24) END AS notified
FROM stale, go

-- cancel_omnimessages --
-- A group of cancels (omnimessage $1[i] asked for by account $2[i], whose caller was checked at
-- account version $4[i], or NULL: unchecked) as one statement: the
-- shared script's nine statements were nine round trips, and a cancel alone took 2.3 ms. The
-- order of its locks is the shared script's: the messages' timers first, in id order (the
-- owners' sub-select waits for them), then the messages, read as they are once the timers are
-- held (FOR UPDATE reads the latest version, not the statement's snapshot). Every message its
-- own account asked for, still in one of the states $3, is cancelled unless that account's
-- version is no longer the one expected; its channel messages become DELETED (each once), with
-- their events, and its send timers go. Returns one row per message found (`owner`), per
-- message cancelled (`won`), per channel written out (`chan`) and per account whose expected
-- version no longer holds (`stale`), each with the statement's clock (`now_us`). Webhooks are
-- queued by the caller, in the same transaction.
WITH now AS MATERIALIZED (
    SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint AS us
), asked AS MATERIALIZED (
    SELECT r.id, r.account_id, r.version
    FROM unnest($1::text[], $2::int4[], $4::int8[]) AS r(id, account_id, version)
), stale AS MATERIALIZED (
    SELECT DISTINCT r.account_id FROM asked r
    WHERE r.version IS NOT NULL
        AND r.version IS DISTINCT FROM (SELECT a.version FROM accounts a WHERE a.id = r.account_id)
), locked AS MATERIALIZED (
    SELECT id FROM timers WHERE ref = ANY($1::text[]) ORDER BY id FOR UPDATE
), owners AS MATERIALIZED (
    SELECT o.id, o.account_id, o.state FROM omnimessages o
    WHERE o.id = ANY($1::text[]) AND (SELECT count(*) FROM locked) >= 0
    ORDER BY o.id FOR UPDATE
), won AS (
    UPDATE omnimessages o SET state = 'cancelled', updated_us = (SELECT us FROM now)
    WHERE o.id IN (SELECT w.id FROM owners w
            JOIN asked r ON r.id = w.id AND r.account_id = w.account_id
            WHERE r.version IS NULL OR r.account_id NOT IN (SELECT account_id FROM stale))
        AND o.state = ANY($3::text[])
    RETURNING o.id, o.account_id, o.to_number, o.dlr_url
), chans AS (
    UPDATE channel_messages c SET state = 'cancelled', status = 'DELETED',
        status_us = (SELECT us FROM now)
    WHERE c.omnimessage_id IN (SELECT id FROM won) AND c.state <> 'cancelled'
    RETURNING c.id, c.omnimessage_id, c.channel, c.sender
), dropped AS (
    DELETE FROM timers t WHERE t.ref IN (SELECT id FROM won) AND t.kind = 'send'
), logged AS (
    INSERT INTO message_events (omnimessage_id, message_id, kind, status, at_us)
    SELECT c.omnimessage_id, c.id, 'status', 'DELETED', (SELECT us FROM now) FROM chans c
)
SELECT 'owner' AS row_kind, id, account_id, state, NULL AS to_number, NULL AS dlr_url,
    NULL AS omnimessage_id, NULL AS channel, NULL AS sender, (SELECT us FROM now) AS now_us
FROM owners
UNION ALL
SELECT 'won', id, account_id, NULL, to_number, dlr_url, NULL, NULL, NULL, (SELECT us FROM now)
FROM won
UNION ALL
SELECT 'chan', id, NULL, NULL, NULL, NULL, omnimessage_id, channel, sender, (SELECT us FROM now)
FROM chans
UNION ALL
SELECT 'stale', NULL, account_id, NULL, NULL, NULL, NULL, NULL, NULL, (SELECT us FROM now)
FROM stale

-- ping --
-- Is the LISTEN connection still alive?
SELECT 1


-- ===== set-based batches =====

-- throttle_seed.unnest --
-- throttle_seed for a batch.
-- distinct: $1
INSERT INTO auth_throttle (key, failures, blocked_until_us, expires_us)
SELECT v.key, 0, 0, 0 FROM unnest($1::text[]) AS v(key)
ON CONFLICT (key) DO NOTHING

-- throttle_store.unnest --
-- throttle_store for a batch.
-- distinct: $1
INSERT INTO auth_throttle (key, failures, blocked_until_us, expires_us)
SELECT v.key, v.failures, v.blocked_until_us, v.expires_us
FROM unnest($1::text[], $2::int4[], $3::int8[], $4::int8[])
    AS v(key, failures, blocked_until_us, expires_us)
ON CONFLICT (key) DO UPDATE SET failures = excluded.failures,
    blocked_until_us = excluded.blocked_until_us, expires_us = excluded.expires_us

-- insert_omnimessage.unnest --
-- insert_omnimessage for a batch.
INSERT INTO omnimessages (id, account_id, to_number, state, priority, time_to_send_us, due_us,
    dlr_url, text_store, position, created_us, updated_us, moved_by, batch, quiet_hours,
    purpose)
SELECT v.id, v.account_id, v.to_number, 'scheduled', v.priority, v.time_to_send_us, v.due_us,
    v.dlr_url, v.text_store, 0, v.created_us, v.created_us, v.moved_by, v.batch, v.quiet_hours,
    v.purpose
FROM unnest($1::text[], $2::int4[], $3::text[], $4::int2[], $5::int8[], $6::int8[], $7::text[],
    $8::text[], $9::int8[], $10::text[], $11::text[], $12::text[], $13::text[])
    AS v(id, account_id, to_number, priority, time_to_send_us, due_us, dlr_url, text_store,
        created_us, moved_by, batch, quiet_hours, purpose)

-- insert_channel_message.unnest --
-- insert_channel_message for a batch.
INSERT INTO channel_messages (id, omnimessage_id, position, channel, sender, validity_s, content,
    state)
SELECT v.id, v.omnimessage_id, v.position, v.channel, v.sender, v.validity_s, v.content, 'pending'
FROM unnest($1::text[], $2::text[], $3::int2[], $4::text[], $5::text[], $6::int4[], $7::text[])
    AS v(id, omnimessage_id, position, channel, sender, validity_s, content)

-- insert_send_timer.unnest --
-- insert_send_timer for a batch.
INSERT INTO timers (kind, ref, due_us, priority, state)
SELECT 'send', v.ref, v.due_us, v.priority, 'pending'
FROM unnest($1::text[], $2::int8[], $3::int2[]) AS v(ref, due_us, priority)

-- insert_sandbox_message.unnest --
-- insert_sandbox_message for a batch.
-- distinct: $1
INSERT INTO sandbox_messages (message_id, omnimessage_id, account_id, channel, to_number, sender,
    text, content, delivered_us)
SELECT v.message_id, v.omnimessage_id, v.account_id, v.channel, v.to_number, v.sender, v.text,
    v.content, v.delivered_us
FROM unnest($1::text[], $2::text[], $3::int4[], $4::text[], $5::text[], $6::text[], $7::text[],
    $8::text[], $9::int8[])
    AS v(message_id, omnimessage_id, account_id, channel, to_number, sender, text, content,
        delivered_us)
ON CONFLICT (message_id) DO UPDATE SET handovers = sandbox_messages.handovers + 1

-- set_omni.unnest --
-- set_omni for a batch.
-- distinct: $1
UPDATE omnimessages SET state = v.state, position = v.position, updated_us = v.updated_us
FROM unnest($1::text[], $2::text[], $3::int2[], $4::int8[]) AS v(id, state, position, updated_us)
WHERE omnimessages.id = v.id

-- set_channel.unnest --
-- set_channel for a batch.
-- distinct: $1
UPDATE channel_messages SET state = v.state, status = v.status, err = v.err, error = v.error,
    status_us = v.status_us, part_price = COALESCE(v.part_price, channel_messages.part_price),
    parts_count = CASE WHEN v.answered
        THEN COALESCE(v.answer_parts, v.parts_count, channel_messages.parts_count)
        ELSE COALESCE(v.parts_count, channel_messages.parts_count) END,
    connector = CASE WHEN v.answered THEN v.connector ELSE channel_messages.connector END,
    provider_ref = CASE WHEN v.answered THEN v.provider_ref ELSE channel_messages.provider_ref END,
    sent_us = CASE WHEN v.answered THEN COALESCE(v.sent_us, channel_messages.sent_us)
        ELSE channel_messages.sent_us END,
    started_us = COALESCE(v.started_us, channel_messages.started_us)
FROM unnest($1::text[], $2::text[], $3::text[], $4::int4[], $5::text[], $6::int8[], $7::int4[],
    $8::text[], $9::bool[], $10::text[], $11::text[], $12::int4[], $13::int8[], $14::int8[])
    AS v(id, state, status, err, error, status_us, parts_count, part_price, answered, connector,
        provider_ref, answer_parts, sent_us, started_us)
WHERE channel_messages.id = v.id

-- set_channel_state.unnest --
-- set_channel_state for a batch.
-- distinct: $1
UPDATE channel_messages SET state = COALESCE(v.state, channel_messages.state),
    started_us = COALESCE(v.started_us, channel_messages.started_us)
FROM unnest($1::text[], $2::text[], $3::int8[]) AS v(id, state, started_us)
WHERE channel_messages.id = v.id

-- set_channel_answer.unnest --
-- set_channel_answer for a batch.
-- distinct: $1
UPDATE channel_messages SET connector = v.connector, provider_ref = v.provider_ref,
    parts_count = COALESCE(v.parts_count, channel_messages.parts_count),
    sent_us = COALESCE(v.sent_us, channel_messages.sent_us)
FROM unnest($1::text[], $2::text[], $3::text[], $4::int4[], $5::int8[])
    AS v(id, connector, provider_ref, parts_count, sent_us)
WHERE channel_messages.id = v.id

-- hold_timer.unnest --
-- hold_timer for a batch.
-- distinct: $1
UPDATE timers SET kind = 'attempt', lease_until_us = COALESCE(v.lease_until_us, timers.lease_until_us)
FROM unnest($1::text[], $2::int8[]) AS v(ref, lease_until_us)
WHERE timers.ref = v.ref AND timers.kind IN ('send', 'attempt')

-- arm_timer.unnest --
-- arm_timer for a batch.
-- distinct: $1
UPDATE timers SET kind = v.kind, due_us = v.due_us, state = 'pending', lease_owner = NULL,
    lease_token = NULL, lease_until_us = NULL, attempts = timers.attempts + v.sends
FROM unnest($1::text[], $2::text[], $3::int8[], $4::int4[]) AS v(ref, kind, due_us, sends)
WHERE timers.ref = v.ref AND timers.kind IN ('send', 'attempt')

-- drop_timer.unnest --
-- drop_timer for a batch.
DELETE FROM timers USING unnest($1::text[]) AS v(ref)
WHERE timers.ref = v.ref AND timers.kind IN ('send', 'attempt')

-- release_timer.unnest --
-- release_timer for a batch.
-- distinct: $1
UPDATE timers SET state = 'pending', lease_owner = NULL, lease_token = NULL,
    lease_until_us = NULL
FROM unnest($1::int8[]) AS v(id)
WHERE timers.id = v.id

-- relet_timer.unnest --
-- relet_timer for a batch.
-- distinct: $1
UPDATE timers SET lease_owner = v.lease_owner, lease_token = v.lease_token,
    lease_until_us = v.lease_until_us
FROM unnest($1::int8[], $2::text[], $3::int8[], $4::int8[])
    AS v(id, lease_owner, lease_token, lease_until_us)
WHERE timers.id = v.id

-- append_status.unnest --
-- append_status for a batch.
INSERT INTO message_events (omnimessage_id, message_id, kind, status, err, error, parts_count,
    part_price, at_us)
SELECT v.omnimessage_id, v.message_id, 'status', v.status, v.err, v.error, v.parts_count,
    v.part_price, v.at_us
FROM unnest($1::text[], $2::text[], $3::text[], $4::int4[], $5::text[], $6::int4[], $7::text[],
    $8::int8[])
    AS v(omnimessage_id, message_id, status, err, error, parts_count, part_price, at_us)

-- append_attempt.unnest --
-- append_attempt for a batch.
INSERT INTO message_events (omnimessage_id, message_id, kind, outcome, connector, provider_ref,
    err, error, at_us)
SELECT v.omnimessage_id, v.message_id, 'attempt', v.outcome, v.connector, v.provider_ref, v.err,
    v.error, v.at_us
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int4[], $7::text[],
    $8::int8[])
    AS v(omnimessage_id, message_id, outcome, connector, provider_ref, err, error, at_us)

-- append_answered.unnest --
-- append_answered for a batch.
INSERT INTO message_events (omnimessage_id, message_id, kind, status, err, outcome, connector,
    provider_ref, parts_count, part_price, at_us)
SELECT v.omnimessage_id, v.message_id, 'answered', v.status, v.err, v.outcome, v.connector,
    v.provider_ref, v.parts_count, v.part_price, v.at_us
FROM unnest($1::text[], $2::text[], $3::text[], $4::int4[], $5::text[], $6::text[], $7::text[],
    $8::int4[], $9::text[], $10::int8[])
    AS v(omnimessage_id, message_id, status, err, outcome, connector, provider_ref, parts_count,
        part_price, at_us)

-- append_lifecycle.unnest --
-- append_lifecycle for a batch.
INSERT INTO message_events (omnimessage_id, message_id, kind, outcome, due_us, at_us)
SELECT v.omnimessage_id, v.omnimessage_id, 'lifecycle', v.outcome, v.due_us, v.at_us
FROM unnest($1::text[], $2::text[], $3::int8[], $4::int8[])
    AS v(omnimessage_id, outcome, due_us, at_us)

-- enqueue_webhook.unnest --
-- enqueue_webhook for a batch.
INSERT INTO webhooks (account_id, omnimessage_id, message_id, url, body, state, attempts, next_us,
    created_us)
SELECT v.account_id, v.omnimessage_id, v.message_id, v.url, v.body, 'pending', 0, v.now_us,
    v.now_us
FROM unnest($1::int4[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int8[])
    AS v(account_id, omnimessage_id, message_id, url, body, now_us)

-- record_webhook_attempt.unnest --
-- record_webhook_attempt for a batch.
INSERT INTO webhook_attempts (webhook_id, attempt, at_us, status_code, error, duration_ms)
SELECT v.webhook_id, v.attempt, v.at_us, v.status_code, v.error, v.duration_ms
FROM unnest($1::int8[], $2::int4[], $3::int8[], $4::int4[], $5::text[], $6::float8[])
    AS v(webhook_id, attempt, at_us, status_code, error, duration_ms)

-- finish_webhook.unnest --
-- finish_webhook for a batch.
-- distinct: $1, $2
UPDATE webhooks SET state = v.state, attempts = webhooks.attempts + 1,
    next_us = COALESCE(v.next_us, webhooks.next_us), last_status = v.last_status,
    last_error = v.last_error,
    finished_us = CASE WHEN v.state = 'pending' THEN NULL ELSE v.at_us END,
    lease_owner = NULL, lease_until_us = NULL
FROM unnest($1::int8[], $2::text[], $3::text[], $4::int8[], $5::int4[], $6::text[], $7::int8[])
    AS v(id, owner, state, next_us, last_status, last_error, at_us)
WHERE webhooks.id = v.id AND webhooks.state = 'claimed' AND webhooks.lease_owner = v.owner

-- drop_gone.unnest --
-- drop_gone for a batch.
-- distinct: $1, $2
UPDATE webhooks SET state = 'gone', finished_us = v.at_us
FROM unnest($1::int4[], $2::text[], $3::int8[]) AS v(account_id, url, at_us)
WHERE webhooks.account_id = v.account_id AND webhooks.url = v.url AND webhooks.state = 'pending'
