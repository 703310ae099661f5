-- areas: the input table, one row per area, typed as the input contract says.
-- Reads input_areas (the loaded file). Codes are text; counts are integers; NULL = suppressed.
CREATE OR REPLACE TABLE areas AS
SELECT
    CAST(area_code AS VARCHAR) AS area_code,
    CAST(area_name AS VARCHAR) AS area_name,
    CAST(municipality_code AS VARCHAR) AS municipality_code,
    CAST(year AS INTEGER) AS year,
    CAST(population AS BIGINT) AS population,
    CAST(employed AS BIGINT) AS employed,
    CAST(population_20_64 AS BIGINT) AS population_20_64,
    CAST(long_term_unemployed AS BIGINT) AS long_term_unemployed,
    CAST(population_16_64 AS BIGINT) AS population_16_64,
    CAST(low_educated AS BIGINT) AS low_educated,
    CAST(population_25_64 AS BIGINT) AS population_25_64,
    CAST(voters AS BIGINT) AS voters,
    CAST(eligible_voters AS BIGINT) AS eligible_voters
FROM input_areas;
