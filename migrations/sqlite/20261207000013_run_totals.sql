-- Progress of a renewal run while it is under way (`bewahr renew run`'s
-- progress bar, the dashboard): the object versions it is to extend in all,
-- set when its attempt has planned (NULL before, and for runs before this).
ALTER TABLE renewals ADD COLUMN chains_total BIGINT;
