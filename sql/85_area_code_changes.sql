-- area_code_changes: how many area codes are found in only one of the two publications, with
-- examples, so that a change of area division (vintage) is visible rather than silent.
CREATE OR REPLACE TABLE area_code_changes AS
WITH sides AS (
    SELECT
        coalesce(now.area_code, before.area_code) AS area_code,
        CASE WHEN now.area_code IS NULL THEN 'only_in_previous' ELSE 'only_in_new' END AS side
    FROM area_results AS now
    FULL OUTER JOIN previous_area_results AS before ON before.area_code = now.area_code
    WHERE now.area_code IS NULL OR before.area_code IS NULL
)
SELECT
    side,
    count(*) AS area_codes,
    string_agg(area_code, ', ' ORDER BY area_code) FILTER (WHERE rank <= 10) AS examples
FROM (SELECT *, row_number() OVER (PARTITION BY side ORDER BY area_code) AS rank FROM sides)
GROUP BY side
ORDER BY side;
