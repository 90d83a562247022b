-- authcore schema, version 5 (PostgreSQL): out-of-band send budgets are kept per person and purpose
-- (`sign_in`, `verify_phone`) instead of per destination, so nobody can spend another person's
-- sign-in budget by pointing sends at their number. Each budget holds the recent send times
-- (`sends`: oldest first, big-endian 64-bit integers) and the day window of verification sends
-- (`day_start`, `day_sends`) for the daily cap; all three are compared on update.
--
-- The per-destination logs cannot be assigned to a person and only ever mattered for an hour:
-- they are dropped. At most one hour's worth of sends is forgotten, once.

CREATE TABLE oob_send_budgets (
    person BYTEA NOT NULL,
    purpose TEXT NOT NULL CHECK (purpose IN ('sign_in', 'verify_phone')),
    sends BYTEA NOT NULL,
    day_start BIGINT NOT NULL,
    day_sends BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (person, purpose)
);

CREATE INDEX oob_send_budgets_expires_at ON oob_send_budgets (expires_at);

DROP INDEX oob_send_log_expires_at;
DROP TABLE oob_send_log;
