# Astro Runtime 3.3-2: Apache Airflow 3.3 on Astronomer's image (astro dev start / astro deploy).
FROM astrocrpublic.azurecr.io/runtime:3.3-2

# A full load's Publish emits a sparkify_songplays asset event per hour it loaded (720 for a
# month, 8,760 for a year); the API server registers them while the task reports success,
# which can take longer than the 5 s a task waits by default ([workers] execution_api_timeout).
ENV AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT=120

# A task's supervisor waits on the task's sockets up to [workers] min_heartbeat_interval (5 s)
# at a time; when they close before the process can be reaped, it waits that long again and
# holds the worker's slot. At 1 s (measured on the local stack: one task in ten held its slot
# 5 s after it ended; a day's backfill took 1.87 min instead of 2.36), a running task also
# heartbeats each second.
ENV AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL=1
