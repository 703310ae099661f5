-- sensitivity_municipalities: the screening repeated for every threshold variant in one pass over
-- area_criteria: one row per variant and municipality with areas, with its selected areas, the
-- population in them, whether it is eligible, and how that compares with the baseline (variant 0).
-- Reads area_criteria, areas, municipalities and sensitivity_thresholds (one row per variant and
-- criterion: the variant's threshold as DECIMAL(9, 4)).
-- The rules are those of 20_area_results and 40_municipality_results, with the same crossing
-- macro (05_macros): a threshold is crossed only strictly beyond it, compared exactly on counts;
-- a suppressed criterion counts as not crossed. Parameters: $minimum_population, $criteria_required,
-- $minimum_selected_areas and $minimum_population_in_selected_areas.
CREATE OR REPLACE TABLE sensitivity_municipalities AS
WITH variant_criteria AS (
    SELECT
        variants.variant_id,
        area_criteria.area_code,
        area_criteria.municipality_code,
        coalesce(
            crosses(
                area_criteria.numerator, area_criteria.denominator,
                area_criteria.direction, variants.threshold
            ),
            FALSE
        ) AS crossed
    FROM area_criteria
    INNER JOIN sensitivity_thresholds AS variants
        ON variants.indicator = area_criteria.indicator
),
variant_counts AS (
    SELECT
        variant_id,
        area_code,
        municipality_code,
        count(*) FILTER (WHERE crossed) AS criteria_crossed
    FROM variant_criteria
    GROUP BY variant_id, area_code, municipality_code
),
variant_areas AS (
    SELECT
        variant_counts.variant_id,
        variant_counts.municipality_code,
        areas.population,
        (areas.population < $minimum_population) IS NOT TRUE
            AND variant_counts.criteria_crossed >= $criteria_required AS selected
    FROM variant_counts
    INNER JOIN areas ON areas.area_code = variant_counts.area_code
),
variant_municipalities AS (
    SELECT
        variant_id,
        municipality_code,
        count(*) FILTER (WHERE selected) AS selected_areas,
        CAST(coalesce(sum(population) FILTER (WHERE selected), 0) AS BIGINT)
            AS population_in_selected_areas
    FROM variant_areas
    GROUP BY variant_id, municipality_code
),
judged AS (
    SELECT
        *,
        selected_areas >= $minimum_selected_areas
            AND population_in_selected_areas >= $minimum_population_in_selected_areas
            AS eligible
    FROM variant_municipalities
),
compared AS (
    SELECT
        *,
        bool_or(eligible) FILTER (WHERE variant_id = 0)
            OVER (PARTITION BY municipality_code) AS eligible_baseline,
        max(selected_areas) FILTER (WHERE variant_id = 0)
            OVER (PARTITION BY municipality_code) AS selected_areas_baseline
    FROM judged
)
SELECT
    compared.variant_id,
    compared.municipality_code,
    municipalities.municipality_name,
    compared.selected_areas_baseline,
    compared.selected_areas,
    compared.population_in_selected_areas,
    compared.eligible_baseline,
    compared.eligible,
    CASE
        WHEN compared.eligible AND NOT compared.eligible_baseline THEN 'entered'
        WHEN compared.eligible_baseline AND NOT compared.eligible THEN 'left'
        WHEN compared.eligible THEN 'stayed'
        ELSE 'not eligible'
    END AS change
FROM compared
LEFT JOIN municipalities ON municipalities.municipality_code = compared.municipality_code
ORDER BY compared.variant_id, compared.municipality_code;
