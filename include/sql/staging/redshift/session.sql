-- The start of every Redshift staging transaction. GETDATE() is in the session time zone,
-- so the session is set to UTC (https://docs.aws.amazon.com/redshift/latest/dg/r_GETDATE.html,
-- r_timezone_config.html). Then the tables the load writes are locked, in one order for every
-- load: Stage_events and Stage_songs both write staging_manifest and staging_rejects, and two
-- transactions doing so concurrently can abort one with serializable-isolation error 1023;
-- AWS's advice is to lock the tables at the start of the transaction
-- (https://docs.aws.amazon.com/redshift/latest/dg/c_serial_isolation.html, r_LOCK.html).
-- The staging table comes first: a transaction holds its locks until it ends, so the
-- order must be the one other writers read these tables in, or two wait on each other
-- (https://docs.aws.amazon.com/redshift/latest/dg/c_write_readwrite.html). The write of
-- songs or artists of an overlapping run reads staging_songs, then staging_manifest
-- (catalog.py): a staging load that held staging_manifest while waiting for staging_songs
-- would wait on it while it waits for staging_manifest.
SET TIMEZONE TO 'UTC';

LOCK {{ table }}, staging_manifest, staging_rejects
