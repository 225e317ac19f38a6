-- Every statement of the store, written once for both backends.
--
-- Each statement is introduced by a `-- name --` line and a comment saying what it does, and is
-- loaded by name (store/queries.py). Parameters are PostgreSQL-style `$n`; the adapters rewrite
-- three small markers (store/tx.py):
--   IN_TEXT($n), IN_BIGINT($n)  membership in a list parameter
--                               (SQLite: IN (SELECT value FROM json_each(?n));
--                                PostgreSQL: = ANY($n::text[]) / = ANY($n::bigint[]))
--   FOR_UPDATE                  lock the rows read (PostgreSQL: FOR UPDATE; SQLite, whose
--                               single writer serialises transactions: nothing)
--   FOR_UPDATE_SKIP             lock them, passing over rows another transaction holds
--                               (PostgreSQL: FOR UPDATE SKIP LOCKED; SQLite: nothing)
-- A statement that one backend needs in another form is overridden in sqlite.sql or
-- postgresql.sql under the same name; postgresql.sql also holds the set-based (`unnest`) form of
-- the statements written in batches, as `name.unnest`.


-- ===== accounts =====

-- create_account --
-- A new account, returned as stored.
INSERT INTO accounts (username, password_hash, default_sender, signing_secret, created_us)
VALUES ($1, $2, $3, $4, $5)
RETURNING id, username, password_hash, default_sender, dlr_url, signing_secret, created_us, version,
    quiet_hours

-- create_first_account --
-- The first account of an empty database, unless another process created it meanwhile (then
-- nothing): several `serve` processes may start at once on a new database.
INSERT INTO accounts (username, password_hash, default_sender, signing_secret, created_us)
SELECT $1, $2, $3, $4, $5 WHERE NOT EXISTS (SELECT 1 FROM accounts)
ON CONFLICT (username) DO NOTHING
RETURNING id, username, password_hash, default_sender, dlr_url, signing_secret, created_us, version,
    quiet_hours

-- get_account --
-- One account by username.
SELECT id, username, password_hash, default_sender, dlr_url, signing_secret, created_us, version,
    quiet_hours
FROM accounts WHERE username = $1

-- get_account_by_id --
-- One account by id.
SELECT id, username, password_hash, default_sender, dlr_url, signing_secret, created_us, version,
    quiet_hours
FROM accounts WHERE id = $1

-- account_version --
-- The version of one account (the usual case on the request path: a plain key lookup).
SELECT id, version FROM accounts WHERE id = $1

-- account_versions --
-- The versions of several accounts.
SELECT id, version FROM accounts WHERE id IN_BIGINT($1)

-- list_accounts --
-- Every account, in creation order.
SELECT id, username, password_hash, default_sender, dlr_url, signing_secret, created_us, version,
    quiet_hours
FROM accounts ORDER BY id

-- remove_account --
-- Delete an account; its id, to end its sessions.
DELETE FROM accounts WHERE username = $1 RETURNING id

-- update_account --
-- Change the given fields (NULL keeps one; $5 clears the DLR URL, $7 the quiet hours) and bump
-- the version.
UPDATE accounts SET password_hash = COALESCE($2, password_hash),
    default_sender = COALESCE($3, default_sender),
    dlr_url = CASE WHEN $5 THEN NULL ELSE COALESCE($4, dlr_url) END,
    quiet_hours = CASE WHEN $7 THEN NULL ELSE COALESCE($6, quiet_hours) END,
    version = version + 1
WHERE username = $1
RETURNING id, username, password_hash, default_sender, dlr_url, signing_secret, created_us, version,
    quiet_hours


-- account_opt_out --
-- An account's opt-out keywords and confirmation texts (NULL: the defaults).
SELECT opt_out_words, opt_in_words, opt_out_reply, opt_in_reply FROM accounts WHERE id = $1

-- set_account_opt_out --
-- Replace an account's opt-out keywords and confirmation texts; its id when it exists.
UPDATE accounts SET opt_out_words = $2, opt_in_words = $3, opt_out_reply = $4, opt_in_reply = $5
WHERE username = $1
RETURNING id, opt_out_words, opt_in_words, opt_out_reply, opt_in_reply

-- remove_account_blacklist --
-- Forget a removed account's blacklist (a later account could be given the same id).
DELETE FROM blacklist WHERE account_id = $1

-- ===== console sessions =====

-- end_account_sessions --
-- End every console session of an account (password change, removal).
DELETE FROM console_sessions WHERE account_id = $1

-- prune_sessions --
-- Forget expired console sessions.
DELETE FROM console_sessions WHERE expires_us <= $1

-- create_session --
-- A new console session.
INSERT INTO console_sessions (token_hash, account_id, created_us, expires_us)
VALUES ($1, $2, $3, $4)

-- session_account --
-- The account signed in with a session that still exists and has not expired.
SELECT a.id, a.username, a.password_hash, a.default_sender, a.dlr_url, a.signing_secret,
    a.created_us, a.version, a.quiet_hours
FROM console_sessions s JOIN accounts a ON a.id = s.account_id
WHERE s.token_hash = $1 AND s.expires_us > $2

-- end_session --
-- Sign one session out.
DELETE FROM console_sessions WHERE token_hash = $1


-- ===== limiter state =====

-- throttle_rows --
-- The sign-in back-off rows of these keys.
SELECT key, failures, blocked_until_us, expires_us FROM auth_throttle WHERE key IN_TEXT($1)

-- throttle_seed --
-- An expired row for a key that has none, so that concurrent first updates wait for each other.
INSERT INTO auth_throttle (key, failures, blocked_until_us, expires_us) VALUES ($1, 0, 0, 0)
ON CONFLICT (key) DO NOTHING

-- throttle_lock --
-- Read and lock the rows of these keys, in key order.
SELECT key, failures, blocked_until_us, expires_us FROM auth_throttle WHERE key IN_TEXT($1)
ORDER BY key FOR_UPDATE

-- throttle_store --
-- Store one key's new back-off state.
INSERT INTO auth_throttle (key, failures, blocked_until_us, expires_us) VALUES ($1, $2, $3, $4)
ON CONFLICT (key) DO UPDATE SET failures = excluded.failures,
    blocked_until_us = excluded.blocked_until_us, expires_us = excluded.expires_us

-- throttle_prune --
-- Forget back-off rows past their expiry.
DELETE FROM auth_throttle WHERE expires_us < $1

-- take_tokens --
-- Refill an account's bucket ($2 now, $3 rate per second, capped at the burst $4) and take up to
-- $5 tokens: all of them, or what is there when that is less but at least one, else nothing.
-- SET expressions all read the old row, so the sub-expressions are repeated rather than chained.
UPDATE rate_buckets SET
    granted = (CASE
        WHEN (CASE WHEN (tokens + CASE WHEN $2 > updated_us
                THEN ($2 - updated_us) * CAST($3 AS DOUBLE PRECISION) / 1000000.0 ELSE 0 END) > $4
            THEN CAST($4 AS DOUBLE PRECISION)
            ELSE (tokens + CASE WHEN $2 > updated_us
                THEN ($2 - updated_us) * CAST($3 AS DOUBLE PRECISION) / 1000000.0 ELSE 0 END) END) >= $5
        THEN CAST($5 AS DOUBLE PRECISION)
        WHEN (CASE WHEN (tokens + CASE WHEN $2 > updated_us
                THEN ($2 - updated_us) * CAST($3 AS DOUBLE PRECISION) / 1000000.0 ELSE 0 END) > $4
            THEN CAST($4 AS DOUBLE PRECISION)
            ELSE (tokens + CASE WHEN $2 > updated_us
                THEN ($2 - updated_us) * CAST($3 AS DOUBLE PRECISION) / 1000000.0 ELSE 0 END) END) >= 1
        THEN (CASE WHEN (tokens + CASE WHEN $2 > updated_us
                THEN ($2 - updated_us) * CAST($3 AS DOUBLE PRECISION) / 1000000.0 ELSE 0 END) > $4
            THEN CAST($4 AS DOUBLE PRECISION)
            ELSE (tokens + CASE WHEN $2 > updated_us
                THEN ($2 - updated_us) * CAST($3 AS DOUBLE PRECISION) / 1000000.0 ELSE 0 END) END)
        ELSE 0 END),
    tokens = (CASE WHEN (tokens + CASE WHEN $2 > updated_us
                THEN ($2 - updated_us) * CAST($3 AS DOUBLE PRECISION) / 1000000.0 ELSE 0 END) > $4
            THEN CAST($4 AS DOUBLE PRECISION)
            ELSE (tokens + CASE WHEN $2 > updated_us
                THEN ($2 - updated_us) * CAST($3 AS DOUBLE PRECISION) / 1000000.0 ELSE 0 END) END)
        - (CASE
        WHEN (CASE WHEN (tokens + CASE WHEN $2 > updated_us
                THEN ($2 - updated_us) * CAST($3 AS DOUBLE PRECISION) / 1000000.0 ELSE 0 END) > $4
            THEN CAST($4 AS DOUBLE PRECISION)
            ELSE (tokens + CASE WHEN $2 > updated_us
                THEN ($2 - updated_us) * CAST($3 AS DOUBLE PRECISION) / 1000000.0 ELSE 0 END) END) >= $5
        THEN CAST($5 AS DOUBLE PRECISION)
        WHEN (CASE WHEN (tokens + CASE WHEN $2 > updated_us
                THEN ($2 - updated_us) * CAST($3 AS DOUBLE PRECISION) / 1000000.0 ELSE 0 END) > $4
            THEN CAST($4 AS DOUBLE PRECISION)
            ELSE (tokens + CASE WHEN $2 > updated_us
                THEN ($2 - updated_us) * CAST($3 AS DOUBLE PRECISION) / 1000000.0 ELSE 0 END) END) >= 1
        THEN (CASE WHEN (tokens + CASE WHEN $2 > updated_us
                THEN ($2 - updated_us) * CAST($3 AS DOUBLE PRECISION) / 1000000.0 ELSE 0 END) > $4
            THEN CAST($4 AS DOUBLE PRECISION)
            ELSE (tokens + CASE WHEN $2 > updated_us
                THEN ($2 - updated_us) * CAST($3 AS DOUBLE PRECISION) / 1000000.0 ELSE 0 END) END)
        ELSE 0 END),
    updated_us = CASE WHEN $2 > updated_us THEN $2 ELSE updated_us END
WHERE account_id = $1
RETURNING granted, tokens

-- create_bucket --
-- A full bucket for an account that has none yet ($2 the burst).
INSERT INTO rate_buckets (account_id, tokens, updated_us, granted)
VALUES ($1, CAST($2 AS DOUBLE PRECISION), $3, 0) ON CONFLICT (account_id) DO NOTHING


-- ===== omnimessages (accept, read, cancel) =====

-- insert_omnimessage --
-- One accepted omnimessage, scheduled at its first channel.
INSERT INTO omnimessages (id, account_id, to_number, state, priority, time_to_send_us, due_us,
    dlr_url, text_store, position, created_us, updated_us, moved_by, batch, quiet_hours,
    purpose)
VALUES ($1, $2, $3, 'scheduled', $4, $5, $6, $7, $8, 0, $9, $9, $10, $11, $12, $13)

-- insert_channel_message --
-- One channel message of an accepted omnimessage, at its place in the fallback chain.
INSERT INTO channel_messages (id, omnimessage_id, position, channel, sender, validity_s, content,
    state)
VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending')

-- insert_send_timer --
-- The timer that fires an accepted omnimessage's first attempt at its due time.
INSERT INTO timers (kind, ref, due_us, priority, state) VALUES ('send', $1, $2, $3, 'pending')

-- get_omnimessage --
-- One omnimessage of an account.
SELECT id, account_id, to_number, state, priority, time_to_send_us, due_us, dlr_url, text_store,
    position, created_us, moved_by, batch
FROM omnimessages WHERE id = $1 AND account_id = $2

-- omnimessage_channels --
-- The channel messages of one omnimessage, in fallback order.
SELECT id, position, channel, sender, validity_s, content, state, status, err, error, status_us,
    sent_us, parts_count, part_price
FROM channel_messages WHERE omnimessage_id = $1 ORDER BY position

-- lock_timers_of --
-- Lock the timers of these omnimessages, in id order (the lock order everywhere: timers, then
-- omnimessages, then channel messages).
SELECT id FROM timers WHERE ref IN_TEXT($1) ORDER BY id FOR_UPDATE

-- omnimessage_owners --
-- The account and state of each of these omnimessages.
SELECT id, account_id, state FROM omnimessages WHERE id IN_TEXT($1)



-- ===== the scheduling lifecycle: list, reschedule, pause, resume, batches (store/schedule.py) =====

-- list_new --
-- One page of an account's omnimessages, newest first, after the position ($2, $3)
-- (exclusive), on omnimessages_account_created_id; due between $4 and $5 (exclusive), to a
-- number ($6) and in a batch ($7) when given.
SELECT id, to_number, state, priority, time_to_send_us, due_us, created_us, batch, moved_by
FROM omnimessages
WHERE account_id = $1 AND (created_us, id) < ($2, $3)
    AND due_us >= $4 AND due_us < $5
    AND (CAST($6 AS TEXT) IS NULL OR to_number = $6)
    AND (CAST($7 AS TEXT) IS NULL OR batch = $7)
ORDER BY created_us DESC, id DESC LIMIT $8

-- list_new_final --
-- list_new for the omnimessages in the final state $8, on the partial index
-- omnimessages_final_created (its predicate written out, so that the planner can match it).
SELECT id, to_number, state, priority, time_to_send_us, due_us, created_us, batch, moved_by
FROM omnimessages
WHERE account_id = $1 AND state = $8
    AND state IN ('delivered', 'failed', 'expired', 'cancelled')
    AND (created_us, id) < ($2, $3)
    AND due_us >= $4 AND due_us < $5
    AND (CAST($6 AS TEXT) IS NULL OR to_number = $6)
    AND (CAST($7 AS TEXT) IS NULL OR batch = $7)
ORDER BY created_us DESC, id DESC LIMIT $9

-- list_new_processing --
-- list_new for the omnimessages being sent (shown as `sent`), on the partial index
-- omnimessages_processing_created.
SELECT id, to_number, state, priority, time_to_send_us, due_us, created_us, batch, moved_by
FROM omnimessages
WHERE account_id = $1 AND state = 'processing' AND (created_us, id) < ($2, $3)
    AND due_us >= $4 AND due_us < $5
    AND (CAST($6 AS TEXT) IS NULL OR to_number = $6)
    AND (CAST($7 AS TEXT) IS NULL OR batch = $7)
ORDER BY created_us DESC, id DESC LIMIT $8

-- list_scheduled --
-- One page of an account's scheduled omnimessages, soonest first, after the position ($2, $3)
-- (exclusive), on the partial index omnimessages_scheduled_due (the state is written out so that
-- the planner can match the index's predicate); filters as list_new.
SELECT id, to_number, state, priority, time_to_send_us, due_us, created_us, batch, moved_by
FROM omnimessages
WHERE account_id = $1 AND state = 'scheduled' AND (due_us, id) > ($2, $3)
    AND due_us >= $4 AND due_us < $5
    AND (CAST($6 AS TEXT) IS NULL OR to_number = $6)
    AND (CAST($7 AS TEXT) IS NULL OR batch = $7)
ORDER BY due_us, id LIMIT $8

-- list_paused --
-- list_scheduled for paused omnimessages, on omnimessages_paused_due.
SELECT id, to_number, state, priority, time_to_send_us, due_us, created_us, batch, moved_by
FROM omnimessages
WHERE account_id = $1 AND state = 'paused' AND (due_us, id) > ($2, $3)
    AND due_us >= $4 AND due_us < $5
    AND (CAST($6 AS TEXT) IS NULL OR to_number = $6)
    AND (CAST($7 AS TEXT) IS NULL OR batch = $7)
ORDER BY due_us, id LIMIT $8

-- list_channels --
-- The channel messages of these omnimessages, for their list items.
SELECT omnimessage_id, id, position, channel, sender, status FROM channel_messages
WHERE omnimessage_id IN_TEXT($1) ORDER BY omnimessage_id, position

-- reschedule_target --
-- What a reschedule needs to apply quiet hours to the new time: an omnimessage's recipient and
-- its own quiet hours as sent (both never change once stored).
SELECT to_number, quiet_hours FROM omnimessages WHERE id = $1 AND account_id = $2

-- reschedule_omnimessage --
-- Move an omnimessage still waiting (in one of the states $6) to the due time $3 (requested
-- time $4, held by quiet hours when $7 is 'quiet_hours'): this one conditional update decides
-- the move against the dispatcher's start.
UPDATE omnimessages SET due_us = $3, time_to_send_us = $4, updated_us = $5, moved_by = $7
WHERE id = $1 AND account_id = $2 AND state IN_TEXT($6)
RETURNING state

-- move_send_timer --
-- A waiting omnimessage's send timer, due at $2 in state $3 (pending or paused), its lease
-- cleared: a claim already in a dispatcher's look-ahead finds its lease gone and starts nothing.
UPDATE timers SET due_us = $2, state = $3, lease_owner = NULL, lease_token = NULL,
    lease_until_us = NULL
WHERE ref = $1 AND kind = 'send'

-- batch_members --
-- The omnimessages of an account's batch in one of the states $3, with their due times (the
-- batch on omnimessages_account_batch, the state read on each row).
SELECT id, due_us FROM omnimessages
WHERE account_id = $1 AND batch = $2 AND state IN_TEXT($3)

-- set_waiting_state --
-- These omnimessages ($1) move to state $2 if still in one of the states $3 (the conditional
-- update that decides the request against a start that locked them first); the ones moved.
UPDATE omnimessages SET state = $2, updated_us = $4
WHERE id IN_TEXT($1) AND state IN_TEXT($3)
RETURNING id, due_us

-- set_send_timers --
-- The send timers of these omnimessages ($1) go to state $2, their leases cleared.
UPDATE timers SET state = $2, lease_owner = NULL, lease_token = NULL, lease_until_us = NULL
WHERE ref IN_TEXT($1) AND kind = 'send'

-- cancel_waiting --
-- Cancel these omnimessages ($1) if still in one of the states $2; the ones cancelled.
UPDATE omnimessages SET state = 'cancelled', updated_us = $3
WHERE id IN_TEXT($1) AND state IN_TEXT($2)
RETURNING id, account_id, to_number, dlr_url

-- cancel_channels_of --
-- Mark every channel message of these cancelled omnimessages DELETED (each once: a batch
-- cancel's follow-up may meet a message another cancel already wrote out).
UPDATE channel_messages SET state = 'cancelled', status = 'DELETED', status_us = $2
WHERE omnimessage_id IN_TEXT($1) AND state <> 'cancelled'
RETURNING id, omnimessage_id, channel, sender

-- drop_send_timers --
-- These cancelled omnimessages' send timers go.
DELETE FROM timers WHERE ref IN_TEXT($1) AND kind = 'send'

-- lock_batch_timers --
-- Lock the send timers of an account's batch members in one of the states $3, in id order (the
-- lock order everywhere: timers, then omnimessages); counted, not sent to the client (100 000
-- ids cost the round trip 0.1-0.2 s).
SELECT COUNT(*) AS n FROM (SELECT t.id FROM timers t
    WHERE t.kind = 'send' AND t.ref IN (SELECT o.id FROM omnimessages o
        WHERE o.account_id = $1 AND o.batch = $2 AND o.state IN_TEXT($3))
    ORDER BY t.id FOR_UPDATE) locked

-- cancel_batch_waiting --
-- Cancel every omnimessage of an account's batch still in one of the states $3: the one
-- conditional update that decides a batch cancel (a start that locked a message first has left
-- it `processing`). Its channels, events, webhooks and timers follow (cancel_followup_chunk).
UPDATE omnimessages SET state = 'cancelled', updated_us = $4
WHERE account_id = $1 AND batch = $2 AND state IN_TEXT($3)

-- add_cancel_followup --
-- What a batch cancel leaves to write: the DELETED channels of the batch's cancelled messages.
INSERT INTO batch_cancel_followups (account_id, batch, cancelled_us) VALUES ($1, $2, $3)
RETURNING id, account_id, batch, cancelled_us, after_id

-- next_cancel_followup --
-- The oldest batch cancel still being written out, passing over one another process holds.
SELECT id, account_id, batch, cancelled_us, after_id
FROM batch_cancel_followups ORDER BY id LIMIT 1 FOR_UPDATE_SKIP

-- cancel_followup_chunk --
-- The next $4 omnimessages of an account's batch after id $3, in id order, on
-- omnimessages_account_batch (account_id, batch, id), with their state. (The caller keeps the
-- cancelled ones: with `state = 'cancelled'` here, PostgreSQL's statistics from before the
-- cancel, which know of no cancelled message, chose omnimessages_final_created and sorted every
-- cancelled message of the account for each chunk: 35 ms a chunk at 100 000.)
SELECT id, account_id, to_number, dlr_url, state FROM omnimessages
WHERE account_id = $1 AND batch = $2 AND id > $3
ORDER BY id LIMIT $4

-- advance_cancel_followup --
-- A chunk of a batch cancel written out: the next starts after id $2.
UPDATE batch_cancel_followups SET after_id = $2 WHERE id = $1

-- drop_cancel_followup --
-- A batch cancel written out to its end.
DELETE FROM batch_cancel_followups WHERE id = $1

-- batch_counts --
-- How many omnimessages of an account's batch are in each state.
SELECT state, COUNT(*) AS n FROM omnimessages WHERE account_id = $1 AND batch = $2
GROUP BY state


-- ===== the blacklist (Phonebook API, opt-out rules; store/blacklist.py) =====

-- blacklist_add --
-- List a number for an account unless it already is; the number when it was added.
INSERT INTO blacklist (account_id, phone, source, inbound_id, created_us)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (account_id, phone) DO NOTHING
RETURNING phone

-- blacklist_remove --
-- Unlist a number of an account; the number when it was listed.
DELETE FROM blacklist WHERE account_id = $1 AND phone = $2 RETURNING phone

-- blacklist_has --
-- Whether an account lists a number (a row when it does).
SELECT phone FROM blacklist WHERE account_id = $1 AND phone = $2

-- blacklist_list --
-- Every number an account lists, oldest first, with who listed it.
SELECT phone, source, inbound_id, created_us FROM blacklist WHERE account_id = $1
ORDER BY created_us, phone

-- blacklist_append_event --
-- One listing or removal in the append-only history.
INSERT INTO blacklist_events (account_id, phone, action, source, inbound_id, at_us)
VALUES ($1, $2, $3, $4, $5, $6)

-- blacklist_history --
-- Every listing and removal of one number of an account, oldest first.
SELECT phone, action, source, inbound_id, at_us FROM blacklist_events
WHERE account_id = $1 AND phone = $2 ORDER BY id

-- ===== sandbox inbox =====

-- insert_sandbox_message --
-- A message the sandbox delivered (a second hand-over of the same message is counted).
INSERT INTO sandbox_messages (message_id, omnimessage_id, account_id, channel, to_number, sender,
    text, content, delivered_us)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (message_id) DO UPDATE SET handovers = sandbox_messages.handovers + 1

-- list_sandbox_messages --
-- An account's sandbox deliveries, newest first, to one number ($2) and before a time ($3) when
-- given.
SELECT message_id, omnimessage_id, account_id, channel, to_number, sender, text, content,
    delivered_us
FROM sandbox_messages WHERE account_id = $1
    AND (CAST($2 AS TEXT) IS NULL OR to_number = $2)
    AND (CAST($3 AS BIGINT) IS NULL OR delivered_us < $3)
ORDER BY delivered_us DESC, message_id LIMIT $4

-- sandbox_has --
-- Which of these messages the sandbox delivered.
SELECT message_id FROM sandbox_messages WHERE message_id IN_TEXT($1)

-- sandbox_unreported --
-- Sandbox deliveries whose channel message never got its final report (its process died first).
SELECT s.message_id FROM sandbox_messages s JOIN channel_messages c ON c.id = s.message_id
WHERE c.state IN ('sending', 'sent', 'unknown') AND s.delivered_us < $1
ORDER BY s.delivered_us LIMIT $2


-- ===== the dispatcher's transactions (store/attempts.py) =====

-- load_omnis --
-- Read and lock these omnimessages, in id order.
SELECT id, account_id, to_number, state, position, dlr_url FROM omnimessages
WHERE id IN_TEXT($1) ORDER BY id FOR_UPDATE

-- load_omnis_to_fire --
-- load_omnis, and for each whether the fire-time rule blocks it: its number is on its account's
-- blacklist and it is not an opt-out rule's own confirmation (purpose NULL).
SELECT o.id, o.account_id, o.to_number, o.state, o.position, o.dlr_url,
    (o.purpose IS NULL AND EXISTS (SELECT 1 FROM blacklist b
        WHERE b.account_id = o.account_id AND b.phone = o.to_number)) AS blacklisted
FROM omnimessages o
WHERE o.id IN_TEXT($1) ORDER BY o.id FOR_UPDATE

-- load_channels --
-- Read and lock their channel messages.
SELECT id, omnimessage_id, position, channel, sender, validity_s, content, state, status,
    started_us
FROM channel_messages WHERE omnimessage_id IN_TEXT($1)
ORDER BY omnimessage_id, position FOR_UPDATE

-- held_timers --
-- Of these timers, the ones still claimed, with their lease token (locked, in id order).
SELECT id, lease_token FROM timers WHERE id IN_BIGINT($1) AND state = 'claimed'
ORDER BY id FOR_UPDATE

-- omnimessages_of_channels --
-- The omnimessages these channel messages belong to.
SELECT omnimessage_id FROM channel_messages WHERE id IN_TEXT($1)

-- set_omni --
-- An omnimessage's new state and position.
UPDATE omnimessages SET state = $2, position = $3, updated_us = $4 WHERE id = $1

-- set_channel --
-- A channel message's new state and status; when $9, also the connector's answer ($10-$13: who
-- sent it, the provider's ref, parts, when handed over), and $14 when its first attempt started:
-- one row write where there were up to three (counted on the burst benchmark: 4 channel_messages
-- updates per message before, 3 now).
UPDATE channel_messages SET state = $2, status = $3, err = $4, error = $5, status_us = $6,
    part_price = COALESCE($8, part_price),
    parts_count = CASE WHEN $9 THEN COALESCE($12, $7, parts_count) ELSE COALESCE($7, parts_count) END,
    connector = CASE WHEN $9 THEN $10 ELSE connector END,
    provider_ref = CASE WHEN $9 THEN $11 ELSE provider_ref END,
    sent_us = CASE WHEN $9 THEN COALESCE($13, sent_us) ELSE sent_us END,
    started_us = COALESCE($14, started_us)
WHERE id = $1

-- set_channel_state --
-- A channel message's new state (NULL keeps it) and, when its first attempt starts, when ($3).
UPDATE channel_messages SET state = COALESCE($2, state), started_us = COALESCE($3, started_us)
WHERE id = $1

-- set_channel_answer --
-- What the connector answered: who sent it, the provider's ref, parts, when handed over.
UPDATE channel_messages SET connector = $2, provider_ref = $3,
    parts_count = COALESCE($4, parts_count), sent_us = COALESCE($5, sent_us)
WHERE id = $1

-- hold_timer --
-- An omnimessage's timer becomes its running attempt's, its lease renewed when $2 is given.
UPDATE timers SET kind = 'attempt', lease_until_us = COALESCE($2, lease_until_us)
WHERE ref = $1 AND kind IN ('send', 'attempt')

-- arm_timer --
-- An omnimessage's timer fires again (kind $2) at $3; $4 counts a send.
UPDATE timers SET kind = $2, due_us = $3, state = 'pending', lease_owner = NULL,
    lease_token = NULL, lease_until_us = NULL, attempts = attempts + $4
WHERE ref = $1 AND kind IN ('send', 'attempt')

-- drop_timer --
-- An omnimessage is done: its timer goes.
DELETE FROM timers WHERE ref = $1 AND kind IN ('send', 'attempt')

-- expired_leases --
-- Claimed timers whose lease ran out before $1, passing over rows another transaction holds.
SELECT id, kind, ref, due_us, priority FROM timers
WHERE state = 'claimed' AND lease_until_us < $1
ORDER BY id LIMIT $2 FOR_UPDATE_SKIP

-- release_timer --
-- A claimed timer goes back to pending.
UPDATE timers SET state = 'pending', lease_owner = NULL, lease_token = NULL,
    lease_until_us = NULL
WHERE id = $1

-- relet_timer --
-- A claimed timer is leased to this process instead.
UPDATE timers SET lease_owner = $2, lease_token = $3, lease_until_us = $4 WHERE id = $1


-- ===== timers (store/timers.py) =====

-- release_owned --
-- On shutdown: give back the send timers this process claimed but did not fire.
UPDATE timers SET state = 'pending', lease_owner = NULL, lease_token = NULL,
    lease_until_us = NULL
WHERE id IN (SELECT id FROM timers WHERE state = 'claimed' AND lease_owner = $1
    AND kind = 'send' ORDER BY id FOR_UPDATE_SKIP)

-- extend_leases --
-- Renew, until $2, this process's leases taken under the tokens $3 that run out before $4 (a
-- lease taken or renewed since the last pass needs nothing yet), passing over rows another
-- transaction holds.
UPDATE timers SET lease_until_us = $2
WHERE id IN (SELECT id FROM timers WHERE state = 'claimed' AND lease_owner = $1
    AND lease_token IN_BIGINT($3) AND lease_until_us < $4 ORDER BY id FOR_UPDATE_SKIP)

-- next_due --
-- The earliest pending due time: one index probe per priority on timers_pending_due
-- (priority, due_us); a plain MIN over all pending rows would walk the whole partial index
-- (70 ms with 1 000 000 pending).
SELECT MIN(d) AS due_us FROM (
    SELECT MIN(due_us) AS d FROM timers WHERE state = 'pending' AND priority = 2
    UNION ALL SELECT MIN(due_us) FROM timers WHERE state = 'pending' AND priority = 1
    UNION ALL SELECT MIN(due_us) FROM timers WHERE state = 'pending' AND priority = 0
) m

-- pending_count --
-- Timers waiting (scheduled sends and running attempts' deadlines), counted on the partial index.
SELECT COUNT(*) AS n FROM timers WHERE state = 'pending'


-- ===== the event log =====

-- append_status --
-- One status of a channel message, appended to the log (never updated).
INSERT INTO message_events (omnimessage_id, message_id, kind, status, err, error, parts_count,
    part_price, at_us)
VALUES ($1, $2, 'status', $3, $4, $5, $6, $7, $8)

-- append_attempt --
-- One connector answer, appended to the log (never updated).
INSERT INTO message_events (omnimessage_id, message_id, kind, outcome, connector, provider_ref,
    err, error, at_us)
VALUES ($1, $2, 'attempt', $3, $4, $5, $6, $7, $8)

-- append_answered --
-- A connector's acceptance and the status it reported (ACK) at the same instant, as one row:
-- the history reads it back as the two events (store/events.py); one insert where there were
-- two (the burst benchmark appends 3 rows per message instead of 4).
INSERT INTO message_events (omnimessage_id, message_id, kind, status, err, outcome, connector,
    provider_ref, parts_count, part_price, at_us)
VALUES ($1, $2, 'answered', $3, $4, $5, $6, $7, $8, $9, $10)

-- append_lifecycle --
-- One scheduling event of an omnimessage (rescheduled, paused, resumed; $3), with the due time
-- it leaves, appended to the log (never updated). `message_id` is the omnimessage's own id.
INSERT INTO message_events (omnimessage_id, message_id, kind, outcome, due_us, at_us)
VALUES ($1, $1, 'lifecycle', $2, $3, $4)

-- history --
-- Every event of one omnimessage, oldest first.
SELECT id, message_id, kind, status, outcome, err, error, connector, provider_ref, parts_count,
    part_price, due_us, at_us
FROM message_events WHERE omnimessage_id = $1 ORDER BY at_us, id


-- ===== the webhook outbox =====

-- enqueue_webhook --
-- One delivery report to send, due now.
INSERT INTO webhooks (account_id, omnimessage_id, message_id, url, body, state, attempts, next_us,
    created_us)
VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, $6)

-- mark_gone_due --
-- Due reports to a URL that answered 410 Gone since $2 are marked gone instead of sent.
UPDATE webhooks SET state = 'gone', finished_us = $1
WHERE state = 'pending' AND next_us <= $1
    AND EXISTS (SELECT 1 FROM webhooks g
        WHERE g.account_id = webhooks.account_id AND g.url = webhooks.url
        AND g.state = 'gone' AND g.last_status = 410 AND g.finished_us > $2)

-- due_webhooks --
-- Due reports whose omnimessage has no older report unfinished, to a URL not gone since $3
-- (repeated from mark_gone_due: on PostgreSQL each statement has its own snapshot, and a report
-- committed between the two must not slip past it).
SELECT w.id FROM webhooks w
WHERE w.state = 'pending' AND w.next_us <= $1
    AND NOT EXISTS (SELECT 1 FROM webhooks p WHERE p.omnimessage_id = w.omnimessage_id
        AND p.id < w.id AND p.state IN ('pending', 'claimed'))
    AND NOT EXISTS (SELECT 1 FROM webhooks g
        WHERE g.account_id = w.account_id AND g.url = w.url
        AND g.state = 'gone' AND g.last_status = 410 AND g.finished_us > $3)
ORDER BY w.next_us LIMIT $2 FOR_UPDATE_SKIP

-- claim_webhooks --
-- Lease these reports to this process.
UPDATE webhooks SET state = 'claimed', lease_owner = $2, lease_until_us = $3
WHERE id IN_BIGINT($1) AND state = 'pending'
RETURNING id, account_id, omnimessage_id, url, body, attempts

-- signing_secrets --
-- The signing secrets of these accounts.
SELECT id, signing_secret FROM accounts WHERE id IN_BIGINT($1)

-- record_webhook_attempt --
-- One try of a report, appended.
INSERT INTO webhook_attempts (webhook_id, attempt, at_us, status_code, error, duration_ms)
VALUES ($1, $2, $3, $4, $5, $6)

-- finish_webhook --
-- A report's state after a try ($3: delivered, pending again at $4, failed, gone, blocked), if
-- this process ($2) still holds its lease.
UPDATE webhooks SET state = $3, attempts = attempts + 1,
    next_us = COALESCE(CAST($4 AS BIGINT), next_us), last_status = $5, last_error = $6,
    finished_us = CASE WHEN $3 = 'pending' THEN NULL ELSE CAST($7 AS BIGINT) END,
    lease_owner = NULL, lease_until_us = NULL
WHERE id = $1 AND state = 'claimed' AND lease_owner = $2

-- drop_gone --
-- 410 Gone: the receiver asked us to stop; what is queued for that URL is dropped.
UPDATE webhooks SET state = 'gone', finished_us = $3
WHERE account_id = $1 AND url = $2 AND state = 'pending'

-- recover_webhooks --
-- Reports claimed by a process that died go back to pending (sent at most once more).
UPDATE webhooks SET state = 'pending', lease_owner = NULL, lease_until_us = NULL
WHERE state = 'claimed' AND lease_until_us < $1

-- next_webhook --
-- When the next pending report is due.
SELECT MIN(next_us) AS next_us FROM webhooks WHERE state = 'pending'

-- webhook_attempts --
-- Every try of every report of one omnimessage, oldest first.
SELECT w.id AS webhook_id, w.message_id, w.url, w.state, a.attempt, a.at_us, a.status_code,
    a.error, a.duration_ms
FROM webhooks w JOIN webhook_attempts a ON a.webhook_id = w.id
WHERE w.omnimessage_id = $1 ORDER BY a.at_us, a.id


-- ===== provider connectors =====

-- message_ids_for_refs --
-- Our channel message ids for provider refs this connector returned on send.
SELECT provider_ref, id FROM channel_messages WHERE connector = $1 AND provider_ref IN_TEXT($2)

-- own_message_ids --
-- Of these message ids, the ones this connector was handed, with their provider refs.
SELECT id, provider_ref FROM channel_messages WHERE connector = $1 AND id IN_TEXT($2)

-- learn_provider_ref --
-- The send's answer was lost: learn the provider's ref from a callback.
UPDATE channel_messages SET provider_ref = $3
WHERE id = $1 AND connector = $2 AND provider_ref IS NULL

-- record_provider_event --
-- Record a callback event once; a row comes back only when it is new.
INSERT INTO provider_events (connector, event_key, message_id, received_us)
VALUES ($1, $2, $3, $4) ON CONFLICT (connector, event_key) DO NOTHING
RETURNING event_key

-- create_telegram_link --
-- A one-time deep-link token for binding a phone to a Telegram chat.
INSERT INTO telegram_links (token, connector, phone, account_id, created_us, expires_us)
VALUES ($1, $2, $3, $4, $5, $6)

-- redeem_telegram_link --
-- Use a deep-link token, once, before it expires; its phone.
UPDATE telegram_links SET used_us = $3
WHERE token = $1 AND connector = $2 AND used_us IS NULL AND expires_us > $3
RETURNING phone

-- bind_telegram_chat --
-- Bind a phone to a chat (replacing an earlier binding).
INSERT INTO telegram_chats (connector, phone, chat_id, source, consent_us)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (connector, phone) DO UPDATE SET chat_id = EXCLUDED.chat_id,
    source = EXCLUDED.source, consent_us = EXCLUDED.consent_us

-- telegram_chat_ids --
-- The chats bound to these phones.
SELECT phone, chat_id FROM telegram_chats WHERE connector = $1 AND phone IN_TEXT($2)

-- telegram_phone_of_chat --
-- The phone most recently bound to a chat (who wrote, for an inbound message).
SELECT phone FROM telegram_chats WHERE connector = $1 AND chat_id = $2
ORDER BY consent_us DESC LIMIT 1

-- forget_telegram_chat --
-- A chat blocked the bot: forget its bindings.
DELETE FROM telegram_chats WHERE connector = $1 AND chat_id = $2


-- ===== console reads (keyset-paginated, one account each) =====

-- store_console_secret --
-- Store a console secret unless one is stored already (the first process to ask wins).
INSERT INTO console_secrets (name, value, created_us) VALUES ($1, $2, $3)
ON CONFLICT (name) DO NOTHING

-- console_secret --
-- The console secret stored under a name.
SELECT value FROM console_secrets WHERE name = $1

-- console_scheduled --
-- One page of an account's scheduled omnimessages, soonest first, walking
-- omnimessages_scheduled_due from the position ($2, $3) (exclusive) to the due time $4
-- (exclusive); to a number ($5) and using a channel anywhere in its chain ($6) when given.
SELECT o.id, o.to_number, o.state, o.priority, o.time_to_send_us, o.due_us, o.created_us
FROM omnimessages o
WHERE o.account_id = $1 AND o.state = 'scheduled'
    AND (o.due_us, o.id) > ($2, $3) AND o.due_us < $4
    AND (CAST($5 AS TEXT) IS NULL OR o.to_number = $5)
    AND (CAST($6 AS TEXT) IS NULL OR EXISTS (SELECT 1 FROM channel_messages c
        WHERE c.omnimessage_id = o.id AND c.channel = $6))
ORDER BY o.due_us, o.id LIMIT $7

-- console_search_id --
-- Search by exact omnimessage id (one row at most; before the position ($3, $4)).
SELECT o.id, o.to_number, o.state, o.priority, o.time_to_send_us, o.due_us, o.created_us
FROM omnimessages o
WHERE o.account_id = $1 AND o.id = $2 AND (o.created_us, o.id) < ($3, $4)
ORDER BY o.created_us DESC, o.id DESC LIMIT $5

-- console_search_to --
-- Search by exact recipient, newest first, before the position ($3, $4), on
-- omnimessages_account_to.
SELECT o.id, o.to_number, o.state, o.priority, o.time_to_send_us, o.due_us, o.created_us
FROM omnimessages o
WHERE o.account_id = $1 AND o.to_number = $2 AND (o.created_us, o.id) < ($3, $4)
ORDER BY o.created_us DESC, o.id DESC LIMIT $5

-- console_search_text --
-- Search stored channel content for a LIKE pattern ($2, lower case), newest first, before the
-- position ($3, $4).
SELECT o.id, o.to_number, o.state, o.priority, o.time_to_send_us, o.due_us, o.created_us
FROM omnimessages o
WHERE o.account_id = $1
    AND EXISTS (SELECT 1 FROM channel_messages c WHERE c.omnimessage_id = o.id
        AND LOWER(c.content) LIKE $2 ESCAPE '\')
    AND (o.created_us, o.id) < ($3, $4)
ORDER BY o.created_us DESC, o.id DESC LIMIT $5

-- console_channels --
-- The channels of these omnimessages, for their list rows.
SELECT omnimessage_id, position, channel, sender, content, status FROM channel_messages
WHERE omnimessage_id IN_TEXT($1) ORDER BY omnimessage_id, position

-- console_batches --
-- The batches of an account (only the tag $2 when given), with how many of their messages are
-- in each state, on omnimessages_account_batch.
SELECT batch, state, COUNT(*) AS n FROM omnimessages
WHERE account_id = $1 AND batch IS NOT NULL AND (CAST($2 AS TEXT) IS NULL OR batch = $2)
GROUP BY batch, state ORDER BY batch, state

-- console_inbox --
-- The newest page of an account's sandbox inbox.
SELECT message_id, omnimessage_id, account_id, channel, to_number, sender, text, content,
    delivered_us
FROM sandbox_messages WHERE account_id = $1
ORDER BY delivered_us DESC, message_id DESC LIMIT $2

-- console_inbox_before --
-- The page of an account's sandbox inbox before the position ($2, $3).
SELECT message_id, omnimessage_id, account_id, channel, to_number, sender, text, content,
    delivered_us
FROM sandbox_messages WHERE account_id = $1 AND (delivered_us, message_id) < ($2, $3)
ORDER BY delivered_us DESC, message_id DESC LIMIT $4

-- console_inbox_since --
-- Sandbox messages delivered at or after $2, oldest first (the live feed).
SELECT message_id, omnimessage_id, account_id, channel, to_number, sender, text, content,
    delivered_us
FROM sandbox_messages WHERE account_id = $1 AND delivered_us >= $2
ORDER BY delivered_us, message_id LIMIT $3

-- console_deliveries --
-- The sandbox hand-overs of one omnimessage.
SELECT message_id, channel, delivered_us, handovers FROM sandbox_messages
WHERE omnimessage_id = $1 AND account_id = $2 ORDER BY delivered_us, message_id

-- console_reports --
-- The delivery reports queued for one omnimessage.
SELECT id, message_id, url, state, attempts, created_us, finished_us, last_status, last_error,
    body
FROM webhooks WHERE omnimessage_id = $1 AND account_id = $2 ORDER BY id


-- ===== idempotency keys =====

-- idempotency_claim --
-- Claim key $2 of account $1 for a request (hash $3) under token $4 at $5: a new row, or one
-- created before $6 (older than 24 h: the key has expired) or left pending since before $7 (its
-- request died). The token comes back only when this call claimed the row; on PostgreSQL a
-- conflicting row stays locked to the end of the transaction, so the read that follows
-- (idempotency_get) sees it as it is.
INSERT INTO idempotency_keys (account_id, key, request_hash, token, state, created_us, claimed_us)
VALUES ($1, $2, $3, $4, 'pending', $5, $5)
ON CONFLICT (account_id, key) DO UPDATE SET request_hash = excluded.request_hash,
    token = excluded.token, state = 'pending', status = NULL, headers = NULL, body = NULL,
    created_us = excluded.created_us, claimed_us = excluded.claimed_us
WHERE idempotency_keys.created_us < $6
    OR (idempotency_keys.state = 'pending' AND idempotency_keys.claimed_us < $7)
RETURNING token

-- idempotency_get --
-- The row of key $2 of account $1 (whatever its age: the caller judges).
SELECT request_hash, token, state, status, headers, body, created_us, claimed_us
FROM idempotency_keys WHERE account_id = $1 AND key = $2

-- idempotency_finish --
-- Record the answer of the request that holds the claim (token $3); no row when the claim was
-- lost (taken over after it went stale).
UPDATE idempotency_keys SET state = 'done', status = $4, headers = $5, body = $6
WHERE account_id = $1 AND key = $2 AND token = $3 AND state = 'pending'

-- idempotency_release --
-- Give up a claim whose request ended without an answer worth keeping (5xx, 401, 429).
DELETE FROM idempotency_keys
WHERE account_id = $1 AND key = $2 AND token = $3 AND state = 'pending'

-- idempotency_purge --
-- Forget keys created before $1 (24 h ago).
DELETE FROM idempotency_keys WHERE created_us < $1


-- ===== inbound (MO) messages (store/inbound.py) =====

-- inbound_last_sender --
-- The account that last sent to this number ($1) through this connector ($2): the newest of its
-- omnimessages to the number that the connector took (each account's rows on
-- omnimessages_account_to).
SELECT o.account_id FROM omnimessages o JOIN channel_messages c ON c.omnimessage_id = o.id
WHERE o.account_id IN (SELECT id FROM accounts) AND o.to_number = $1 AND c.connector = $2
    AND c.sent_us IS NOT NULL
ORDER BY c.sent_us DESC LIMIT 1

-- inbound_account_by_name --
-- An account's id and inbound URL, by username (a connector's `inbound_account`).
SELECT id, inbound_url FROM accounts WHERE username = $1

-- inbound_account_url --
-- An account's inbound URL, if it still exists.
SELECT id, inbound_url FROM accounts WHERE id = $1

-- insert_inbound --
-- One inbound message, once per (connector, provider key): a row comes back only when it is new.
INSERT INTO inbound_messages (id, connector, event_key, account_id, channel, sender, recipient,
    text, content, at_us, received_us, forward_state)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
ON CONFLICT (connector, event_key) DO NOTHING
RETURNING id

-- inbound_forwarded --
-- An inbound message still pending is queued for its owner's inbound URL (or has nowhere to go:
-- $2), with its opt-out mark ($3); a row comes back only to the one transaction that moved it
-- (a catch-up in another process that raced it finds it no longer pending).
UPDATE inbound_messages SET forward_state = $2, opt_out = $3
WHERE id = $1 AND forward_state = 'pending'
RETURNING id

-- inbound_unforwarded --
-- Inbound messages stored before $1 whose forwarding transaction never ran (a process died).
SELECT i.id, i.connector, i.event_key, i.account_id, i.channel, i.sender, i.recipient, i.text,
    i.content, i.at_us, i.received_us, a.inbound_url
FROM inbound_messages i LEFT JOIN accounts a ON a.id = i.account_id
WHERE i.forward_state = 'pending' AND i.received_us < $1
ORDER BY i.received_us LIMIT $2

-- set_inbound_url --
-- Set (or, with NULL, clear) an account's inbound URL; its id comes back.
UPDATE accounts SET inbound_url = $2 WHERE username = $1 RETURNING id

-- get_inbound_url --
-- An account's inbound URL, by username.
SELECT inbound_url FROM accounts WHERE username = $1

-- inbound_page --
-- An account's inbound messages received in [$2, $3), newest first.
SELECT id, connector, event_key, account_id, channel, sender, recipient, text, content, at_us,
    received_us, forward_state, opt_out
FROM inbound_messages WHERE account_id = $1 AND received_us >= $2 AND received_us < $3
ORDER BY received_us DESC, id DESC LIMIT $4
