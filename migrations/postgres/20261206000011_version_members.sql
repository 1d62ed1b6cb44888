-- The stored members of a version's data-object group beyond its document
-- (an XAIP's protected objects, imported evidence records, preserved
-- validation items), one row each, so that the sweeper can ask per digest
-- whether a live version still needs it. Until now they were kept only
-- concatenated in versions.stored_members, which no index can answer: the
-- sweeper saw an XAIP's objects as unreferenced and removed them after the
-- grace period. Backfilled from versions.stored_members.
CREATE TABLE version_members (
    seq BIGINT NOT NULL REFERENCES versions (seq),
    sha256 BYTEA NOT NULL
);
CREATE INDEX version_members_sha256 ON version_members (sha256);
INSERT INTO version_members (seq, sha256)
SELECT v.seq, substring(v.stored_members FROM i * 32 + 1 FOR 32)
FROM versions v, generate_series(0, length(v.stored_members) / 32 - 1) AS i
WHERE v.stored_members IS NOT NULL;

-- Files uploaded for LXAIPs and DLXAIPs (TR-ESOR-E section 6): each is
-- referenced by its URI from at most one package. A reference is spent
-- when a package naming it is read, whether the package is then archived
-- or refused (C.2 M-ADD-03a); an unspent upload holds its content until
-- it expires.
CREATE TABLE uploads (
    uri TEXT PRIMARY KEY NOT NULL,
    tenant TEXT,
    sha256 BYTEA NOT NULL,
    size BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    -- NULL until a package names it
    spent_at BIGINT,
    -- the AOID of the package that named it, or the request that did
    spent_by TEXT
);
CREATE INDEX uploads_sha256 ON uploads (sha256);
