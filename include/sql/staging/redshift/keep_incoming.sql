-- One object's rows, COPYed into the incoming_ copy of the staging table, move in tagged
-- with the object's key (COPY does not say which object a row came from).
INSERT INTO {{ table }} ({{ columns }}, source_key)
SELECT
    {{ columns }},
    CAST({{ param("key") }} AS VARCHAR(1024)) AS source_key
FROM incoming_{{ table }}
