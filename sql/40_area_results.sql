-- area_results: one row per area: how many criteria it crosses, its composite index class when
-- the ruleset has an index, whether it is selected and why not, and whether the selection is
-- borderline (one criterion within $borderline_persons persons of flipping would change it).
-- Parameters: $method ('criteria' or 'index'), $criteria_required (how many of the criteria
-- that are not required an area must cross; required criteria must all be crossed),
-- $selected_classes (index classes that are selected), $minimum_population.
-- Reads areas, area_criteria and area_index.
-- An unknown (suppressed) criterion counts as not crossed; when it alone could have made the
-- difference, the area is 'undetermined_suppressed' rather than not selected.
CREATE OR REPLACE TABLE area_results AS
WITH counted AS (
    SELECT
        area_id,
        count(*) AS criteria_used,
        count(crossed) AS criteria_evaluated,
        count(*) FILTER (WHERE crossed AND NOT required) AS optional_crossed,
        count(*) FILTER (WHERE crossed IS NULL AND NOT required) AS optional_unknown,
        count(*) FILTER (WHERE crossed AND required) AS required_crossed,
        count(*) FILTER (WHERE crossed IS NULL AND required) AS required_unknown,
        count(*) FILTER (WHERE NOT crossed AND required) AS required_failed,
        count(*) FILTER (WHERE borderline AND crossed AND required) AS borderline_required_crossed,
        count(*) FILTER (WHERE borderline AND NOT crossed AND required)
            AS borderline_required_failed,
        count(*) FILTER (WHERE borderline AND crossed AND NOT required)
            AS borderline_optional_crossed,
        count(*) FILTER (WHERE borderline AND NOT crossed AND NOT required)
            AS borderline_optional_failed,
        min(margin_persons) AS smallest_margin_persons,
        string_agg(criterion, ', ' ORDER BY criterion_id) FILTER (WHERE crossed)
            AS crossed_criteria
    FROM area_criteria
    GROUP BY area_id
),
joined AS (
    SELECT
        areas.*,
        coalesce(counted.criteria_used, 0) AS criteria_used,
        coalesce(counted.criteria_evaluated, 0) AS criteria_evaluated,
        coalesce(counted.optional_crossed, 0) + coalesce(counted.required_crossed, 0)
            AS criteria_crossed,
        coalesce(counted.optional_crossed, 0) AS optional_crossed,
        coalesce(counted.optional_unknown, 0) AS optional_unknown,
        coalesce(counted.required_unknown, 0) AS required_unknown,
        coalesce(counted.required_failed, 0) AS required_failed,
        coalesce(counted.borderline_required_crossed, 0) AS borderline_required_crossed,
        coalesce(counted.borderline_required_failed, 0) AS borderline_required_failed,
        coalesce(counted.borderline_optional_crossed, 0) AS borderline_optional_crossed,
        coalesce(counted.borderline_optional_failed, 0) AS borderline_optional_failed,
        counted.smallest_margin_persons,
        coalesce(counted.crossed_criteria, '') AS crossed_criteria,
        area_index.index_value,
        area_index.index_score,
        area_index.index_class
    FROM areas
    LEFT JOIN counted ON counted.area_id = areas.area_id
    LEFT JOIN area_index ON area_index.area_id = areas.area_id
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
    area_code,
    area_name,
    municipality_code,
    county_code,
    year,
    population,
    criteria_used,
    criteria_evaluated,
    criteria_crossed,
    criteria_used - criteria_evaluated AS criteria_suppressed,
    crossed_criteria,
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
