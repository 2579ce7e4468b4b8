# Astro Runtime 3.3-2: Apache Airflow 3.3 on Astronomer's image (astro dev start / astro deploy).
FROM astrocrpublic.azurecr.io/runtime:3.3-2
