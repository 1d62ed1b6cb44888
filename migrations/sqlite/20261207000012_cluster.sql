-- Several nodes on one catalog (issue 14).
--
-- leases: roles one node holds at a time ('leader': sealing, renewal
-- scheduling, the sweeper). A holder is a node (configured id, unique in
-- the cluster) and its process instance; epoch grows with every change of
-- holder and is the fencing token: a commit that only the leader may make
-- checks, in its own transaction, that its epoch is still the row's.
-- Times are Unix ms of the database server's clock (one clock for all nodes).
CREATE TABLE leases (
    name TEXT PRIMARY KEY NOT NULL,
    node TEXT NOT NULL,
    instance TEXT NOT NULL,
    epoch BIGINT NOT NULL,
    acquired_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
INSERT INTO leases (name, node, instance, epoch, acquired_at, expires_at)
VALUES ('leader', '', '', 0, 0, 0);

-- Tree ids are allocated here before a tree is written and never reused,
-- so a retry writes under a new id and never over what a WORM store holds.
-- A tree in the store without a batches row is then an abandoned attempt
-- if its id is here, and removed evidence if not. Sealed batches take ids
-- below 2^40, renewal trees above 2^40; kind 'floor' rows mark where
-- allocation starts (above every id and seq used before this migration).
-- An abandoned attempt is an id allocated and never recorded.
CREATE TABLE tree_ids (
    id BIGINT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL,
    node TEXT NOT NULL,
    allocated_at BIGINT NOT NULL,
    -- set in the transaction that records the tree
    recorded_at BIGINT
);
INSERT INTO tree_ids (id, kind, node, allocated_at)
SELECT MAX(COALESCE((SELECT MAX(seq) FROM versions), 0),
                COALESCE((SELECT MAX(id) FROM batches WHERE id < 1099511627776), 0)),
       'floor', '', 0;
INSERT INTO tree_ids (id, kind, node, allocated_at)
SELECT COALESCE((SELECT MAX(id) FROM batches WHERE id >= 1099511627776), 1099511627776),
       'floor', '', 0;

-- Renewal runs are claimed: owner (node/instance) and lease (Unix ms, the
-- database's clock); a running run whose lease ran out is taken over by
-- the leader and finished. shares: leaves rehashed per node (JSON object).
ALTER TABLE renewals ADD COLUMN owner TEXT;
ALTER TABLE renewals ADD COLUMN lease_until BIGINT;
ALTER TABLE renewals ADD COLUMN shares TEXT NOT NULL DEFAULT '{}';

-- A hash-tree renewal's rehashing, split into ranges any node claims
-- with an owner and a lease. work: the leaves,
-- a JSON array of [key, chain start]; result: per leaf the new group or why
-- not (JSON). state 'open', 'claimed', 'done'.
CREATE TABLE rehash_ranges (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id BIGINT NOT NULL,
    target TEXT NOT NULL,
    leaves BIGINT NOT NULL,
    work TEXT NOT NULL,
    state TEXT NOT NULL,
    owner TEXT,
    lease_until BIGINT,
    result TEXT,
    done_at BIGINT
);
CREATE INDEX rehash_ranges_state ON rehash_ranges (state, id);
CREATE INDEX rehash_ranges_run ON rehash_ranges (run_id);

-- Settings every node follows ('renewal_paused').
CREATE TABLE cluster_flags (
    name TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);

-- Content the sweeper removed, in the order removed (several nodes: a
-- submission on another node that found this content in the store before
-- it was removed, and commits after, sees the row and is refused as
-- "content gone, send again", never recorded over missing content).
CREATE TABLE content_sweeps (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    sha256 BLOB NOT NULL,
    swept_at BIGINT NOT NULL
);
CREATE INDEX content_sweeps_sha256 ON content_sweeps (sha256);

-- Grows with every renewal commit (tree links changed): every node's cache
-- of trees and links compares it and forgets what it holds when it moved.
CREATE TABLE links_generation (
    id BIGINT PRIMARY KEY NOT NULL,
    generation BIGINT NOT NULL
);
INSERT INTO links_generation (id, generation) VALUES (1, 0);
