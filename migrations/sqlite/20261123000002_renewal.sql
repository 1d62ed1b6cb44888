-- Renewal (RFC 4998 section 5): the trees of time-stamp renewals and
-- hash-tree renewals live in batches beside the sealed batches, and link up
-- into archive time-stamp chains:
--   kind         'initial' (a sealed batch; id = its first seq), 'timestamp'
--                or 'hashtree' (renewal trees; ids from 2^40 up)
--   renewed_by   the time-stamp renewal tree that continues this tree's chain
--   rehashed_by  on the first tree of a chain: the hash-tree renewal tree
--                that starts the next chain of its versions
--   chain_end    set with rehashed_by: the last tree of the chain it closed
--                (the chain is frozen there: later renewals of a shared tree
--                do not change it)
--   run_id       the renewal run that wrote a renewal tree
ALTER TABLE batches ADD COLUMN kind TEXT NOT NULL DEFAULT 'initial';
ALTER TABLE batches ADD COLUMN renewed_by BIGINT;
ALTER TABLE batches ADD COLUMN rehashed_by BIGINT;
ALTER TABLE batches ADD COLUMN chain_end BIGINT;
ALTER TABLE batches ADD COLUMN run_id BIGINT;
CREATE INDEX batches_tails ON batches (id) WHERE renewed_by IS NULL;

-- Renewal runs, as the scheduler and the admins see them. Times are Unix ms.
CREATE TABLE renewals (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    -- 'timestamp' or 'hashtree'
    kind TEXT NOT NULL,
    -- hashtree: the new digest algorithm
    digest_algorithm TEXT,
    -- 'all' (every current chain) or 'due' (what the renewal plan says is due)
    scope TEXT NOT NULL,
    -- 'queued', 'running', 'done', 'failed'
    state TEXT NOT NULL,
    -- 'scheduler' or who asked (admin, CLI)
    requested_by TEXT NOT NULL,
    reason TEXT NOT NULL,
    queued_at BIGINT NOT NULL,
    started_at BIGINT,
    finished_at BIGINT,
    attempts BIGINT NOT NULL DEFAULT 0,
    -- what the run renewed: chains (object versions), source trees, new trees
    chains BIGINT NOT NULL DEFAULT 0,
    trees_renewed BIGINT NOT NULL DEFAULT 0,
    trees_written BIGINT NOT NULL DEFAULT 0,
    tsa_requests BIGINT NOT NULL DEFAULT 0,
    bytes_read BIGINT NOT NULL DEFAULT 0,
    -- time-stamps that no longer verified and were not renewed, and other
    -- errors: a JSON array of strings
    errors TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX renewals_state ON renewals (state);
