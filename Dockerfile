# Astro Runtime 3.3-2: Apache Airflow 3.3 on Astronomer's image (astro dev start / astro deploy).
FROM astrocrpublic.azurecr.io/runtime:3.3-2

# A full load's Publish emits a sparkify_songplays asset event per hour it loaded (720 for a
# month, 8,760 for a year); the API server registers them while the task reports success,
# which can take longer than the 5 s a task waits by default ([workers] execution_api_timeout).
ENV AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT=120
