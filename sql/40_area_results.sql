-- area_results: one row per area: how many criteria it crosses, its composite index class when
-- the ruleset has an index, whether it is selected and why not, and whether the selection is
-- borderline (one criterion within $borderline_persons persons of flipping would change it).
-- Parameters: $method ('criteria' or 'index'), $criteria_required (how many of the criteria
-- that are not required an area must cross; required criteria must all be crossed),
-- $selected_classes (index classes that are selected), $minimum_population.
-- Reads criteria, areas, area_criteria and area_index. One pass over area_criteria gathers, per
-- area, bit masks with bit (criterion_id - 1) set for the criteria crossed, unknown, not crossed
-- and borderline (a ruleset has at most 30 criteria); every count is a bit count of them.
-- An unknown (suppressed) criterion counts as not crossed; when it alone could have made the
-- difference, the area is 'undetermined_suppressed' rather than not selected.
CREATE OR REPLACE TABLE area_results AS
WITH rules AS (
    SELECT
        count(*) AS criteria_used,
        coalesce(bit_or(CAST(1 AS BIGINT) << (criterion_id - 1)) FILTER (WHERE required), 0)
            AS required_mask
    FROM criteria
),
-- One aggregate per area: each criterion's bit, shifted by 30 per state (crossed, unknown, not
-- crossed) plus 90 when borderline, or-ed into one 128-bit value (at most 30 criteria).
flags AS (
    SELECT
        area_id,
        bit_or(
            (CAST(1 AS HUGEINT) << (criterion_id - 1 + CASE
                WHEN crossed THEN 0 WHEN crossed IS NULL THEN 30 ELSE 60 END))
            | CASE WHEN borderline THEN CAST(1 AS HUGEINT) << (criterion_id - 1 + 90)
                ELSE CAST(0 AS HUGEINT) END
        ) AS packed,
        min(margin_persons) AS smallest_margin_persons,
        string_agg(criterion, ', ' ORDER BY criterion_id) FILTER (WHERE crossed)
            AS crossed_criteria
    FROM area_criteria
    GROUP BY area_id
),
masks AS (
    SELECT
        areas.*,
        CAST(coalesce(flags.packed, 0) & 1073741823 AS BIGINT) AS crossed_mask,
        CAST((coalesce(flags.packed, 0) >> 30) & 1073741823 AS BIGINT) AS unknown_mask,
        CAST((coalesce(flags.packed, 0) >> 60) & 1073741823 AS BIGINT) AS failed_mask,
        CAST((coalesce(flags.packed, 0) >> 90) & 1073741823 AS BIGINT) AS borderline_mask,
        flags.smallest_margin_persons,
        rules.criteria_used,
        rules.required_mask,
        coalesce(flags.crossed_criteria, '') AS crossed_criteria,
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
    area_code,
    area_name,
    municipality_code,
    county_code,
    year,
    population,
    CAST(criteria_used AS BIGINT) AS criteria_used,
    CAST(criteria_evaluated AS BIGINT) AS criteria_evaluated,
    CAST(criteria_crossed AS BIGINT) AS criteria_crossed,
    CAST(criteria_used - criteria_evaluated AS BIGINT) AS criteria_suppressed,
    crossed_criteria,
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
    ) AS borderline,
    smallest_margin_persons
FROM classified;
