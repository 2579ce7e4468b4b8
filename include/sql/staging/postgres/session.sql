-- The start of every PostgreSQL staging transaction: loads of the same staging table take
-- turns (a transaction-scoped advisory lock on the table's name), as they do on Redshift
-- (redshift/session.sql). Two overlapping backfill runs would otherwise both replace the
-- table's staging_manifest row (a unique violation for the second) and, when they read the
-- same partition (the late minutes of one hour are the next hour's partition), both stage it.
SELECT PG_ADVISORY_XACT_LOCK(HASHTEXT({{ param("table") }}))
