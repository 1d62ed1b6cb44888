-- Renewal never drops evidence silently.
--
-- held_leaves: leaves a hash-tree renewal could not rehash (content missing
-- or unreadable, a member missing) while it closed the rest of their chain.
-- Their chain stays open for them: evidence follows the chain past the
-- tree's chain_end, time-stamp renewal extends it, and the next hash-tree
-- renewal (or a retry of the run) rehashes them and sets rehashed_by and
-- chain_end here, once (NULL to a value), in the transaction that records
-- its tree.
--   leaf_key     the version's seq, or -(batch id) for the audit head that
--                batch sealed as its leaf 0
--   chain_start  the first tree of the chain the leaf stays on
--   reason       why it was not rehashed (snake_case, see NotRenewedReason;
--                or 'not_rehashed_before_upgrade', below)
CREATE TABLE held_leaves (
    leaf_key BIGINT NOT NULL,
    chain_start BIGINT NOT NULL,
    run_id BIGINT NOT NULL,
    reason TEXT NOT NULL,
    detail TEXT NOT NULL,
    held_at BIGINT NOT NULL,
    rehashed_by BIGINT,
    chain_end BIGINT,
    PRIMARY KEY (leaf_key, chain_start)
);
CREATE INDEX held_leaves_start ON held_leaves (chain_start);

-- Hash-tree renewals before this migration left every batch's leaf 0 (the
-- sealed audit head) out of their trees and closed its chain all the same:
-- hold those heads on their batch's chain, so that it stays open for them
-- and the next hash-tree renewal rehashes them (reason
-- 'not_rehashed_before_upgrade'; run 0: no run).
INSERT INTO held_leaves (leaf_key, chain_start, run_id, reason, detail, held_at)
SELECT -s.batch_id, s.batch_id, 0, 'not_rehashed_before_upgrade',
       'hash-tree renewals before this version left the sealed audit head out', b.sealed_at
FROM audit_seals s JOIN batches b ON b.id = s.batch_id
WHERE b.rehashed_by IS NOT NULL;

-- A hash-tree renewal tree's leaves that are sealed audit heads (keys
-- -(batch id)), so that `versions` counts only object versions.
ALTER TABLE batches ADD COLUMN audit_leaves BIGINT NOT NULL DEFAULT 0;

-- Runs: 'incomplete' is a new state (something in scope was not renewed;
-- the scheduler retries at retry_at, Unix ms). not_renewed lists what and
-- why: a JSON array of {seq, aoid, version, tree, reason, detail}.
ALTER TABLE renewals ADD COLUMN not_renewed TEXT NOT NULL DEFAULT '[]';
ALTER TABLE renewals ADD COLUMN retry_at BIGINT;
