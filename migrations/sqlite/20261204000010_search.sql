-- Search by metadata (GET /v1/objects, S.4 ArchiveData, TS 119 512 Search):
-- a tenant's live objects in the order of creation, and versions by file
-- reference and submitting system.
CREATE INDEX objects_tenant_created ON objects (tenant, created_at, aoid);
CREATE INDEX versions_file_ref ON versions (file_ref);
CREATE INDEX versions_system ON versions (system);
