-- Search by metadata (GET /v1/objects, S.4 ArchiveData, TS 119 512 Search):
-- a tenant's live objects in the order of creation (this index takes over
-- from objects_tenant, so an insert updates no more indexes than before),
-- and versions by file reference (the Aktenzeichen, what eAkte systems ask
-- by). The submitting system is filtered on the way, not indexed: few
-- distinct values, and one more index would cost every submission.
DROP INDEX objects_tenant;
CREATE INDEX objects_tenant_created ON objects (tenant, created_at, aoid);
CREATE INDEX versions_file_ref ON versions (file_ref);
