-- authcore schema, version 2 (SQLite): out-of-band challenges are kept per purpose (a sign-in
-- code, or a code verifying a new phone number) with the destination the code was sent to, so a
-- pending phone verification and a sign-in code never replace or answer each other.
--
-- SQLite cannot change a primary key in place: the table is rebuilt. Outstanding sign-in
-- challenges are kept, with the person's phone as their destination; a challenge whose person
-- has no phone any more could not be answered and is dropped.

CREATE TABLE oob_challenges_v2 (
    person BLOB NOT NULL,
    purpose TEXT NOT NULL CHECK (purpose IN ('sign_in', 'verify_phone')),
    destination TEXT NOT NULL,
    challenge BLOB NOT NULL,
    PRIMARY KEY (person, purpose)
);

INSERT INTO oob_challenges_v2 (person, purpose, destination, challenge)
SELECT c.person, 'sign_in', p.phone, c.challenge
FROM oob_challenges c JOIN people p ON p.id = c.person
WHERE p.phone IS NOT NULL;

DROP TABLE oob_challenges;

ALTER TABLE oob_challenges_v2 RENAME TO oob_challenges;
