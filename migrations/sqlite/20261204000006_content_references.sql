-- The sweeper asks, per stored digest, whether any version that is not
-- deleted still references it: as its document (versions_sha256, since the
-- first migration) or as a preserved validation item. These indexes answer
-- the second question without a scan of the validations.
CREATE INDEX validations_signature ON validations (signature_sha256);
CREATE INDEX validations_data ON validations (data_sha256);
CREATE INDEX validations_report ON validations (report_sha256);
