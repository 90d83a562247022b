-- authcore schema, version 2 (PostgreSQL): out-of-band challenges are kept per purpose (a
-- sign-in code, or a code verifying a new phone number) with the destination the code was sent
-- to, so a pending phone verification and a sign-in code never replace or answer each other.
--
-- Outstanding sign-in challenges are kept, with the person's phone as their destination; a
-- challenge whose person has no phone any more could not be answered and is dropped.

ALTER TABLE oob_challenges
    ADD COLUMN purpose TEXT NOT NULL DEFAULT 'sign_in'
        CHECK (purpose IN ('sign_in', 'verify_phone')),
    ADD COLUMN destination TEXT;

UPDATE oob_challenges AS c SET destination = p.phone FROM people AS p WHERE p.id = c.person;

DELETE FROM oob_challenges WHERE destination IS NULL;

ALTER TABLE oob_challenges
    ALTER COLUMN destination SET NOT NULL,
    ALTER COLUMN purpose DROP DEFAULT,
    DROP CONSTRAINT oob_challenges_pkey,
    ADD PRIMARY KEY (person, purpose);
