-- sensitivity_municipalities: the screening repeated for every threshold variant in one pass over
-- area_criteria: one row per variant and municipality with areas, with its selected areas, the
-- residents in them, whether it is eligible, and how that compares with the baseline (variant 0).
-- Reads area_criteria, areas, municipality_results, municipalities and sensitivity_thresholds
-- (one row per variant and moved criterion: the variant's absolute threshold as the exact
-- fraction value_num / value_den per cent). Criteria without a row there keep their crossing.
-- The rules are those of 20_area_criteria, 40_area_results and 50_municipality_results: a
-- threshold is crossed only strictly beyond it, compared exactly on counts; a suppressed
-- criterion counts as not crossed; required criteria must all be crossed, and at least
-- $criteria_required of the others. The spread of the index does not depend on thresholds, so
-- its condition is taken from municipality_results.
-- Parameters: $minimum_population, $criteria_required, $minimum_selected_areas,
-- $minimum_population_in_selected_areas, $share_num, $share_den, $share_sd.
CREATE OR REPLACE TABLE sensitivity_municipalities AS
WITH variants AS (
    SELECT DISTINCT variant_id FROM sensitivity_thresholds
),
variant_criteria AS (
    SELECT
        variants.variant_id,
        area_criteria.area_id,
        area_criteria.required,
        CASE
            WHEN moved.variant_id IS NULL THEN area_criteria.crossed
            WHEN area_criteria.crossed IS NULL THEN NULL
            WHEN area_criteria.direction = 'above'
                THEN area_criteria.numerator * 100 * moved.value_den
                    > moved.value_num * area_criteria.denominator
            ELSE area_criteria.numerator * 100 * moved.value_den
                < moved.value_num * area_criteria.denominator
        END AS crossed
    FROM area_criteria
    CROSS JOIN variants
    LEFT JOIN sensitivity_thresholds AS moved
        ON moved.variant_id = variants.variant_id
        AND moved.criterion_id = area_criteria.criterion_id
),
variant_areas AS (
    SELECT
        variant_criteria.variant_id,
        variant_criteria.area_id,
        count(*) FILTER (WHERE variant_criteria.crossed AND NOT variant_criteria.required)
            AS optional_crossed,
        count(*) FILTER (WHERE variant_criteria.required
            AND variant_criteria.crossed IS NOT TRUE) AS required_missing
    FROM variant_criteria
    GROUP BY variant_criteria.variant_id, variant_criteria.area_id
),
selected_areas AS (
    SELECT
        variant_areas.variant_id,
        areas.municipality_code,
        areas.population,
        areas.population >= $minimum_population
            AND variant_areas.required_missing = 0
            AND variant_areas.optional_crossed >= $criteria_required AS selected
    FROM variant_areas
    INNER JOIN areas ON areas.area_id = variant_areas.area_id
),
variant_municipalities AS (
    SELECT
        variant_id,
        municipality_code,
        count(*) FILTER (WHERE selected) AS selected_areas,
        CAST(coalesce(sum(population) FILTER (WHERE selected), 0) AS BIGINT)
            AS population_in_selected_areas,
        CAST(sum(population) AS BIGINT) AS population
    FROM selected_areas
    GROUP BY variant_id, municipality_code
),
shares AS (
    SELECT
        *,
        100.0 * population_in_selected_areas / nullif(population, 0) AS share_pct
    FROM variant_municipalities
),
relative AS (
    SELECT
        *,
        avg(share_pct) OVER (PARTITION BY variant_id)
            + $share_sd * stddev_pop(share_pct) OVER (PARTITION BY variant_id) AS share_threshold
    FROM shares
),
judged AS (
    SELECT
        relative.*,
        relative.selected_areas >= $minimum_selected_areas
            AND relative.population_in_selected_areas >= $minimum_population_in_selected_areas
            AND ($share_num IS NULL
                OR 100 * $share_den * relative.population_in_selected_areas
                    >= $share_num * relative.population)
            AND ($share_sd IS NULL OR coalesce(relative.share_pct >= relative.share_threshold, FALSE))
            AND (municipality_results.index_spread_threshold IS NULL
                OR coalesce(municipality_results.index_spread
                    >= municipality_results.index_spread_threshold, FALSE))
            AS eligible
    FROM relative
    INNER JOIN municipality_results
        ON municipality_results.municipality_code = relative.municipality_code
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
