-- Tenants (Mandanten), API tokens and roles. Times are Unix ms.
CREATE TABLE tenants (
    name TEXT PRIMARY KEY NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL
);

-- A token is shown once as "bwr_<id>_<secret>"; only SHA-256(secret) is kept.
CREATE TABLE tokens (
    id TEXT PRIMARY KEY NOT NULL,
    secret_sha256 BLOB NOT NULL,
    -- NULL for the platform operator
    tenant TEXT REFERENCES tenants (name),
    -- 'submitter', 'auditor', 'admin' (per tenant) or 'operator'
    role TEXT NOT NULL,
    label TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    expires_at BIGINT,
    revoked_at BIGINT
);

-- The tenant an object belongs to (NULL: archived before tenancy; only the
-- operator's tools see those).
ALTER TABLE objects ADD COLUMN tenant TEXT;
CREATE INDEX objects_tenant ON objects (tenant);

-- A secret random salt per version, hashed as the second member of its
-- leaf's data-object group: the sibling hashes in one tenant's evidence
-- records reveal nothing about other tenants' documents, not even guessable
-- ones. Never shown; needed again for hash-tree renewal.
ALTER TABLE versions ADD COLUMN salt BLOB;

-- The audit trail: who did what, when, with what result. Each entry's hash
-- chains it to the one before (hash = SHA-256(previous hash || entry)), so a
-- changed, inserted or removed entry breaks the chain from there on. The
-- chain's head is sealed into the regular batches (audit_seals): the
-- archive's own time-stamps prove the trail.
CREATE TABLE audit (
    -- 1, 2, ... in chain order (assigned by the one audit writer)
    seq BIGINT PRIMARY KEY NOT NULL,
    at BIGINT NOT NULL,
    -- a token id, 'anonymous', 'scheduler' or 'command line (...)'
    actor TEXT NOT NULL,
    tenant TEXT,
    action TEXT NOT NULL,
    aoid TEXT,
    result TEXT NOT NULL,
    detail TEXT NOT NULL,
    hash BLOB NOT NULL
);
CREATE INDEX audit_aoid ON audit (aoid);
CREATE INDEX audit_tenant ON audit (tenant, seq);

-- The head of the audit chain that each batch sealed (its leaf key 0).
CREATE TABLE audit_seals (
    batch_id BIGINT PRIMARY KEY NOT NULL,
    audit_seq BIGINT NOT NULL,
    head BLOB NOT NULL
);

-- Retention and deletion (TR-ESOR A5.1, ETSI TS 119 511): a legal hold
-- blocks deletion; a deleted object keeps a tombstone (its versions' seq,
-- batch and digest, for the trees other objects' evidence depends on) but
-- loses its metadata, salt and, once nothing else refers to it, its content.
ALTER TABLE objects ADD COLUMN legal_hold TEXT;
ALTER TABLE objects ADD COLUMN deleted_at BIGINT;
-- JSON: reason, requestor, who deleted
ALTER TABLE objects ADD COLUMN deletion TEXT;
ALTER TABLE versions ADD COLUMN deleted_at BIGINT;
