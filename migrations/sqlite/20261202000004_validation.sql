-- Signature and seal validation at ingest (ETSI EN 319 102-1). One row per
-- version whose document carried a signature, a seal, a time-stamp or an
-- evidence record; unsigned documents have none.
CREATE TABLE validations (
    -- versions.seq
    seq BIGINT PRIMARY KEY NOT NULL,
    -- 'cades-detached', 'cades-enveloping', 'pades', 'asic-s', 'asic-e', 'xades'
    format TEXT NOT NULL,
    -- TOTAL_PASSED, TOTAL_FAILED or INDETERMINATE, with the sub-indication
    indication TEXT NOT NULL,
    sub_indication TEXT,
    summary TEXT NOT NULL,
    -- Unix ms
    validated_at BIGINT NOT NULL,
    -- what the submission policy did: 'accepted'
    decision TEXT NOT NULL,
    -- SHA-256 of the preserved items in the store: a detached signature (if
    -- any), the ValidationData DER (certificates, OCSP responses, CRLs) and
    -- the report's JSON. Each is a member of the version's data-object group.
    signature_sha256 BLOB,
    data_sha256 BLOB NOT NULL,
    report_sha256 BLOB NOT NULL
);

-- The members of a version's data-object group after the document and the
-- salt whose bytes are in the store (today: the preserved validation items),
-- as their SHA-256 digests concatenated in group order. Hash-tree renewal
-- rehashes them from the store like the document.
ALTER TABLE versions ADD COLUMN stored_members BLOB;
