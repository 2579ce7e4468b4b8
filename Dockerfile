# Astro Runtime 3.3-2: Apache Airflow 3.3 on Astronomer's image (astro dev start / astro deploy).
FROM astrocrpublic.azurecr.io/runtime:3.3-2

# A full load's Publish emits one partitioned asset event per table per hour it loaded (3,600
# for a month); the API server registers them while the task reports success, which takes
# longer than the 5 s a task waits by default ([workers] execution_api_timeout).
ENV AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT=120
