-- areas and area_indicators: the input, typed, in two tables.
-- Reads input_areas (one row per area: area_id, area_code, area_name, municipality_code, year,
-- population), indicator_counts (one row per area and indicator of the ruleset: area_id,
-- indicator_id, numerator, denominator; NULL = suppressed) and municipalities (the reference
-- list, for the county of each area).
-- An indicator's counts are known when neither is suppressed and the denominator is above 0;
-- its rate is then 100 * numerator / denominator.
CREATE OR REPLACE TABLE areas AS
SELECT
    CAST(input_areas.area_id AS INTEGER) AS area_id,
    CAST(input_areas.area_code AS VARCHAR) AS area_code,
    CAST(input_areas.area_name AS VARCHAR) AS area_name,
    CAST(input_areas.municipality_code AS VARCHAR) AS municipality_code,
    municipalities.county_code,
    CAST(input_areas.year AS INTEGER) AS year,
    CAST(input_areas.population AS BIGINT) AS population
FROM input_areas
LEFT JOIN municipalities ON municipalities.municipality_code = input_areas.municipality_code;

CREATE OR REPLACE TABLE area_indicators AS
SELECT
    CAST(area_id AS INTEGER) AS area_id,
    CAST(indicator_id AS SMALLINT) AS indicator_id,
    CAST(numerator AS BIGINT) AS numerator,
    CAST(denominator AS BIGINT) AS denominator,
    coalesce(numerator IS NOT NULL AND denominator > 0, FALSE) AS known,
    CASE WHEN numerator IS NOT NULL AND denominator > 0
        THEN 100.0 * numerator / denominator END AS rate
FROM indicator_counts;
