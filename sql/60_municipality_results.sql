-- municipality_results: one row per municipality with areas in the input: its selected areas,
-- the population in them, and whether the municipality is eligible.
-- Parameters: $minimum_selected_areas and $minimum_population_in_selected_areas.
-- Reads area_selection, area_criteria and municipalities (the reference list).
CREATE OR REPLACE TABLE municipality_results AS
WITH totals AS (
    SELECT
        municipality_code,
        count(*) AS areas,
        CAST(sum(population) AS BIGINT) AS population,
        count(*) FILTER (WHERE selected) AS selected_areas,
        CAST(coalesce(sum(population) FILTER (WHERE selected), 0) AS BIGINT)
            AS population_in_selected_areas
    FROM area_selection
    GROUP BY municipality_code
),
crossings AS (
    SELECT
        area_criteria.municipality_code,
        area_criteria.position,
        area_criteria.indicator,
        count(*) AS selected_areas_crossing
    FROM area_criteria
    INNER JOIN area_selection ON area_selection.area_code = area_criteria.area_code
    WHERE area_selection.selected AND area_criteria.crossed
    GROUP BY ALL
),
drivers AS (
    SELECT
        municipality_code,
        string_agg(indicator || ': ' || selected_areas_crossing, ', ' ORDER BY position)
            AS criteria_in_selected_areas
    FROM crossings
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
    coalesce(drivers.criteria_in_selected_areas, '') AS criteria_in_selected_areas,
    totals.selected_areas >= $minimum_selected_areas
        AND totals.population_in_selected_areas >= $minimum_population_in_selected_areas
        AS eligible
FROM totals
LEFT JOIN municipalities ON municipalities.municipality_code = totals.municipality_code
LEFT JOIN drivers ON drivers.municipality_code = totals.municipality_code
ORDER BY totals.municipality_code;
