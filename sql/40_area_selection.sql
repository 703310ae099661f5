-- area_selection: one row per area: how many criteria it crosses and whether it is selected.
-- Parameters: $minimum_population (areas with fewer residents are not screened) and
-- $criteria_required (how many criteria an area must cross; the number of criteria for "all").
-- An unknown (suppressed) criterion counts as not crossed; when it alone could have made the
-- difference, the area is 'undetermined_suppressed' rather than 'too_few_criteria_crossed'.
CREATE OR REPLACE TABLE area_selection AS
WITH counted AS (
    SELECT
        area_code,
        count(*) FILTER (WHERE crossed IS NOT NULL) AS criteria_evaluated,
        count(*) FILTER (WHERE crossed) AS criteria_crossed,
        count(*) FILTER (WHERE crossed IS NULL) AS criteria_suppressed,
        coalesce(
            string_agg(indicator, ', ' ORDER BY position) FILTER (WHERE crossed), ''
        ) AS crossed_criteria
    FROM area_criteria
    GROUP BY area_code
),
classified AS (
    SELECT
        areas.area_code,
        areas.area_name,
        areas.municipality_code,
        areas.year,
        areas.population,
        counted.criteria_evaluated,
        counted.criteria_crossed,
        counted.criteria_suppressed,
        counted.crossed_criteria,
        CASE
            WHEN areas.population < $minimum_population THEN 'below_minimum_population'
            WHEN counted.criteria_crossed >= $criteria_required THEN 'selected'
            WHEN counted.criteria_crossed + counted.criteria_suppressed >= $criteria_required
                THEN 'undetermined_suppressed'
            ELSE 'too_few_criteria_crossed'
        END AS selection_status
    FROM areas
    INNER JOIN counted ON counted.area_code = areas.area_code
)
SELECT
    *,
    selection_status = 'selected' AS selected
FROM classified;
