-- The catalog: archive objects, their versions, and the sealed batches.
-- Times are Unix milliseconds (UTC); retention dates are ISO 'YYYY-MM-DD'.
CREATE TABLE objects (
    aoid TEXT PRIMARY KEY NOT NULL,
    created_at BIGINT NOT NULL,
    latest_version BIGINT NOT NULL
);

CREATE TABLE versions (
    -- the order of submission: leaves of a batch are in seq order
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    aoid TEXT NOT NULL REFERENCES objects (aoid),
    version BIGINT NOT NULL,
    submitted_at BIGINT NOT NULL,
    system TEXT,
    file_ref TEXT,
    title TEXT,
    retention_until TEXT,
    media_type TEXT NOT NULL,
    -- free key/value pairs, a JSON object
    meta TEXT NOT NULL,
    size BIGINT NOT NULL,
    sha256 BLOB NOT NULL,
    -- the data-object group of the leaf: hashes in the tree's algorithm, concatenated
    members BLOB NOT NULL,
    -- NULL while pending; the batch (= its first seq) once sealed
    batch_id BIGINT,
    UNIQUE (aoid, version)
);
CREATE INDEX versions_pending ON versions (seq) WHERE batch_id IS NULL;
CREATE INDEX versions_sha256 ON versions (sha256);

CREATE TABLE batches (
    id BIGINT PRIMARY KEY NOT NULL,
    sealed_at BIGINT NOT NULL,
    digest_algorithm TEXT NOT NULL,
    leaves BIGINT NOT NULL,
    first_seq BIGINT NOT NULL,
    last_seq BIGINT NOT NULL,
    root BLOB NOT NULL,
    tsa TEXT NOT NULL,
    gen_time BIGINT NOT NULL,
    -- the RFC 3161 TimeStampToken over root, exactly as received
    token BLOB NOT NULL
);
