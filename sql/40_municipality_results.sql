-- municipality_results: one row per municipality with areas in the input: its selected areas,
-- the population in them, how many of them cross each criterion, and whether the municipality
-- is eligible.
-- Parameters: $minimum_selected_areas and $minimum_population_in_selected_areas.
-- Reads area_results and municipalities (the reference list).
CREATE OR REPLACE TABLE municipality_results AS
WITH totals AS (
    SELECT
        municipality_code,
        count(*) AS areas,
        CAST(sum(population) AS BIGINT) AS population,
        count(*) FILTER (WHERE selected) AS selected_areas,
        CAST(coalesce(sum(population) FILTER (WHERE selected), 0) AS BIGINT)
            AS population_in_selected_areas,
        count(*) FILTER (WHERE selected AND employment_rate_crossed) AS employment,
        count(*) FILTER (WHERE selected AND long_term_unemployment_rate_crossed) AS unemployment,
        count(*) FILTER (WHERE selected AND low_education_rate_crossed) AS education,
        count(*) FILTER (WHERE selected AND voter_turnout_crossed) AS turnout
    FROM area_results
    GROUP BY municipality_code
)
SELECT
    totals.municipality_code,
    municipalities.municipality_name,
    municipalities.county_code,
    municipalities.county_name,
    totals.areas,
    totals.population,
    totals.selected_areas,
    totals.population_in_selected_areas,
    100.0 * totals.population_in_selected_areas / nullif(totals.population, 0)
        AS share_of_population_in_selected_areas,
    concat_ws(
        ', ',
        CASE WHEN totals.employment > 0 THEN 'employment_rate: ' || totals.employment END,
        CASE WHEN totals.unemployment > 0
            THEN 'long_term_unemployment_rate: ' || totals.unemployment END,
        CASE WHEN totals.education > 0 THEN 'low_education_rate: ' || totals.education END,
        CASE WHEN totals.turnout > 0 THEN 'voter_turnout: ' || totals.turnout END
    ) AS criteria_in_selected_areas,
    totals.selected_areas >= $minimum_selected_areas
        AND totals.population_in_selected_areas >= $minimum_population_in_selected_areas
        AS eligible
FROM totals
LEFT JOIN municipalities ON municipalities.municipality_code = totals.municipality_code
ORDER BY totals.municipality_code;
