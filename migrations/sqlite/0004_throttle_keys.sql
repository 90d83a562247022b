-- authcore schema, version 4 (SQLite): throttle counters are kept per key, so that the password
-- step is counted per normalised login name (known or not) and second factors per person; locks
-- lapse; and every counter has the time it is forgotten, for pruning.
--
-- `key` is `login:` and the normalised login for a password counter, or `person:`, the person's
-- id in lower-case hex, `:` and the factor (`totp`, `recovery_code`, `out_of_band`) for a second
-- factor. `not_before` is the end of the running wait or lock; `forget_at` is when the counter
-- decides as a fresh one and may be deleted.
--
-- Counters written before this version are carried over. A lock used to be permanent: it now
-- lasts a day (the default lock duration) from the upgrade. Their forget time is set to the latest
-- any policy allows (30 days after the end of their wait or lock), so none is pruned early.
-- Password counters move to their person's login; a counter whose person is gone is dropped.

CREATE TABLE throttle_keys (
    key TEXT PRIMARY KEY NOT NULL,
    failures INTEGER NOT NULL,
    not_before INTEGER NOT NULL,
    locked INTEGER NOT NULL,
    forget_at INTEGER NOT NULL
);

CREATE INDEX throttle_keys_forget_at ON throttle_keys (forget_at);

INSERT INTO throttle_keys (key, failures, not_before, locked, forget_at)
SELECT key, failures, not_before, locked,
    max(not_before, CAST(strftime('%s', 'now') AS INTEGER)) + 2592000
FROM (
    SELECT
        CASE
            WHEN t.factor = 'password' THEN 'login:' || p.login
            ELSE 'person:' || lower(hex(t.person)) || ':' || t.factor
        END AS key,
        t.failures AS failures,
        CASE
            WHEN t.locked <> 0
                THEN max(t.not_before, CAST(strftime('%s', 'now') AS INTEGER) + 86400)
            ELSE t.not_before
        END AS not_before,
        t.locked AS locked
    FROM throttles t LEFT JOIN people p ON p.id = t.person
    WHERE (t.failures > 0 OR t.locked <> 0) AND (t.factor <> 'password' OR p.login IS NOT NULL)
) AS carried;

DROP TABLE throttles;
