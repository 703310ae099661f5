-- area_selection and the view area_results: one row per area: how many criteria it crosses, its composite index class when
-- the ruleset has an index, whether it is selected and why not, and whether the selection is
-- borderline (one criterion within criteria.borderline_persons persons of flipping would
-- change it).
-- Parameters: $method ('criteria' or 'index'), $criteria_required (how many of the criteria
-- that are not required an area must cross; required criteria must all be crossed),
-- $selected_classes (index classes that are selected), $minimum_population.
-- Reads criteria, areas, area_criteria and area_index. Per area, bit masks with bit
-- (criterion_id - 1) set for the criteria crossed, unknown and borderline (a ruleset has at
-- most 30 criteria); every count is a bit count of them. Only the rows of area_criteria that
-- are crossed, unknown or near their threshold are gathered: any other row is a criterion
-- evaluated and not crossed, and not borderline, which is what an area without such rows has.
-- An unknown (suppressed) criterion counts as not crossed; when it alone could have made the
-- difference, the area is 'undetermined_suppressed' rather than not selected.
-- area_selection holds the results as numbers and flags only; the view area_results adds the
-- area's codes and name (from areas) and its crossed criteria by name (from
-- crossed_combinations, one row per distinct combination of crossed criteria).
CREATE OR REPLACE TABLE area_selection AS
WITH rules AS (
    SELECT
        count(*) AS criteria_used,
        coalesce(bit_or(CAST(1 AS BIGINT) << (criterion_id - 1)), 0) AS all_mask,
        coalesce(bit_or(CAST(1 AS BIGINT) << (criterion_id - 1)) FILTER (WHERE required), 0)
            AS required_mask
    FROM criteria
),
flags AS (
    SELECT
        area_id,
        bit_or(CAST(1 AS BIGINT) << (criterion_id - 1)) FILTER (WHERE crossed) AS crossed_mask,
        bit_or(CAST(1 AS BIGINT) << (criterion_id - 1)) FILTER (WHERE crossed IS NULL)
            AS unknown_mask,
        bit_or(CAST(1 AS BIGINT) << (criterion_id - 1)) FILTER (WHERE borderline)
            AS borderline_mask
    FROM area_criteria
    WHERE crossed IS NOT FALSE OR near_threshold
    GROUP BY area_id
),
masks AS (
    SELECT
        areas.area_id,
        areas.municipality_id,
        areas.population,
        coalesce(flags.crossed_mask, 0) AS crossed_mask,
        coalesce(flags.unknown_mask, 0) AS unknown_mask,
        rules.all_mask & ~coalesce(flags.crossed_mask, 0) & ~coalesce(flags.unknown_mask, 0)
            AS failed_mask,
        coalesce(flags.borderline_mask, 0) AS borderline_mask,
        rules.criteria_used,
        rules.required_mask,
        area_index.index_value,
        area_index.index_score,
        area_index.index_class
    FROM areas
    CROSS JOIN rules
    LEFT JOIN flags ON flags.area_id = areas.area_id
    LEFT JOIN area_index ON area_index.area_id = areas.area_id
),
joined AS (
    SELECT
        *,
        criteria_used - bit_count(unknown_mask) AS criteria_evaluated,
        bit_count(crossed_mask) AS criteria_crossed,
        bit_count(crossed_mask & ~required_mask) AS optional_crossed,
        bit_count(unknown_mask & ~required_mask) AS optional_unknown,
        bit_count(unknown_mask & required_mask) AS required_unknown,
        bit_count(failed_mask & required_mask) AS required_failed,
        bit_count(borderline_mask & crossed_mask & required_mask) AS borderline_required_crossed,
        bit_count(borderline_mask & failed_mask & required_mask) AS borderline_required_failed,
        bit_count(borderline_mask & crossed_mask & ~required_mask)
            AS borderline_optional_crossed,
        bit_count(borderline_mask & failed_mask & ~required_mask) AS borderline_optional_failed
    FROM masks
),
classified AS (
    SELECT
        *,
        CASE
            WHEN population < $minimum_population THEN 'below_minimum_population'
            WHEN $method = 'index' THEN
                CASE
                    WHEN index_class IS NULL THEN 'undetermined_suppressed'
                    WHEN list_contains($selected_classes, index_class) THEN 'selected'
                    ELSE 'index_class_not_selected'
                END
            WHEN required_failed > 0 THEN 'required_criterion_not_crossed'
            WHEN required_unknown = 0 AND optional_crossed >= $criteria_required THEN 'selected'
            WHEN optional_crossed + optional_unknown >= $criteria_required
                THEN 'undetermined_suppressed'
            ELSE 'too_few_criteria_crossed'
        END AS selection_status
    FROM joined
)
SELECT
    area_id,
    municipality_id,
    population,
    CAST(criteria_used AS BIGINT) AS criteria_used,
    CAST(criteria_evaluated AS BIGINT) AS criteria_evaluated,
    CAST(criteria_crossed AS BIGINT) AS criteria_crossed,
    CAST(criteria_used - criteria_evaluated AS BIGINT) AS criteria_suppressed,
    crossed_mask,
    index_value,
    index_score,
    index_class,
    selection_status = 'selected' AS selected,
    selection_status,
    $method = 'criteria' AND (
        (selection_status = 'selected' AND (
            borderline_required_crossed > 0
            OR (borderline_optional_crossed > 0 AND optional_crossed = $criteria_required)))
        OR (selection_status = 'required_criterion_not_crossed' AND required_failed = 1
            AND required_unknown = 0 AND borderline_required_failed > 0
            AND optional_crossed >= $criteria_required)
        OR (selection_status = 'too_few_criteria_crossed' AND borderline_optional_failed > 0
            AND required_unknown = 0 AND optional_crossed + 1 >= $criteria_required)
    ) AS borderline
FROM classified;

CREATE OR REPLACE TABLE crossed_combinations AS
SELECT
    combinations.crossed_mask,
    coalesce(string_agg(criteria.criterion, ', ' ORDER BY criteria.criterion_id), '')
        AS crossed_criteria
FROM (SELECT DISTINCT crossed_mask FROM area_selection) AS combinations
LEFT JOIN criteria ON (combinations.crossed_mask >> (criteria.criterion_id - 1)) & 1 = 1
GROUP BY combinations.crossed_mask;

CREATE OR REPLACE VIEW area_results AS
SELECT
    areas.area_id,
    areas.municipality_id,
    areas.area_code,
    areas.area_name,
    areas.municipality_code,
    areas.county_code,
    areas.year,
    areas.population,
    area_selection.criteria_used,
    area_selection.criteria_evaluated,
    area_selection.criteria_crossed,
    area_selection.criteria_suppressed,
    crossed_combinations.crossed_criteria,
    area_selection.crossed_mask,
    area_selection.index_value,
    area_selection.index_score,
    area_selection.index_class,
    area_selection.selected,
    area_selection.selection_status,
    area_selection.borderline
FROM area_selection
INNER JOIN areas ON areas.area_id = area_selection.area_id
INNER JOIN crossed_combinations ON crossed_combinations.crossed_mask = area_selection.crossed_mask;
