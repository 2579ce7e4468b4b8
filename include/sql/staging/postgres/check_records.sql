-- The records the fast path left to PostgreSQL (raw_lines), parsed, mapped and checked by
-- PostgreSQL itself: each gets its staging row (rec) or the reason it cannot be staged.
-- MATERIALIZED: otherwise PostgreSQL inlines the CTEs and parses each document once per
-- column it extracts (measured: 20x slower on 142k events). VARCHAR(n) is n bytes, as on
-- Redshift: too_long measures the strings' UTF-8 length.
CREATE TEMP TABLE checked_records ON COMMIT DROP AS
WITH parsed AS MATERIALIZED (
    SELECT
        l.obj,
        o.source_key,
        l.line,
        l.reason,
        l.doc,
        l.raw_bytes,
        l.raw_sha256,
        CASE WHEN l.reason IS NULL AND PG_INPUT_IS_VALID(l.doc, 'jsonb') THEN l.doc::JSONB END AS j
    FROM raw_lines AS l
    INNER JOIN raw_objects AS o ON l.obj = o.obj
),

mapped AS MATERIALIZED (
    SELECT
        p.*,
        CASE WHEN JSONB_TYPEOF(p.j) = 'object' THEN {{ mapped }} END AS m
    FROM parsed AS p
),

typed AS MATERIALIZED (
    SELECT
        m.*,
        (
            m.m IS NOT NULL
            AND JSONB_POPULATE_RECORD_VALID(NULL::{{ table }}, m.m)
            AND NOT COALESCE({{ too_long }}, FALSE)
        ) AS fits
    FROM mapped AS m
),

checked AS (
    SELECT
        t.source_key,
        t.line,
        t.reason,
        t.doc,
        t.raw_bytes,
        t.raw_sha256,
        t.j,
        t.m,
        t.fits,
        r AS rec,
        CASE WHEN t.fits THEN {{ rule_case }} END AS rule_reason
    FROM typed AS t
    LEFT JOIN LATERAL JSONB_POPULATE_RECORD(NULL::{{ table }}, CASE WHEN t.fits THEN t.m END) AS r ON TRUE
)

SELECT
    c.source_key,
    c.line,
    c.doc,
    c.raw_bytes,
    c.raw_sha256,
    c.rec,
    CASE
        WHEN c.reason IS NOT NULL THEN c.reason
        WHEN c.j IS NULL THEN 'malformed JSON'
        WHEN c.m IS NULL THEN 'not a JSON object but a JSON ' || JSONB_TYPEOF(c.j)
        WHEN c.rule_reason IS NOT NULL THEN c.rule_reason
        WHEN NOT c.fits THEN 'value does not fit its column: ' || COALESCE((
            SELECT STRING_AGG(t.name || ' ' || t.type || ' <- ' || LEFT(c.m ->> t.name, 40), '; ')
            FROM (VALUES {{ column_types }}) AS t (name, type, max_bytes)
            WHERE
                JSONB_TYPEOF(c.m -> t.name) <> 'null'
                AND (
                    NOT PG_INPUT_IS_VALID(c.m ->> t.name, t.type)
                    OR OCTET_LENGTH(c.m ->> t.name) > t.max_bytes
                )
        ), 'unknown')
    END AS reject_reason
FROM checked AS c
