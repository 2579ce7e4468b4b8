-- The start of every Redshift staging transaction. GETDATE() is in the session time zone,
-- so the session is set to UTC (https://docs.aws.amazon.com/redshift/latest/dg/r_GETDATE.html,
-- r_timezone_config.html). Then the tables the load writes are locked, in one order for every
-- load: Stage_events and Stage_songs both write staging_manifest and staging_rejects, and two
-- transactions doing so concurrently can abort one with serializable-isolation error 1023;
-- AWS's advice is to lock the tables at the start of the transaction
-- (https://docs.aws.amazon.com/redshift/latest/dg/c_serial_isolation.html, r_LOCK.html).
SET TIMEZONE TO 'UTC';

LOCK staging_manifest, staging_rejects, {{ table }}
