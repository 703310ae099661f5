-- area_selection and the view area_results: one row per area: how many criteria it crosses, its
-- composite index class when the ruleset has an index, whether it is selected and why not, and
-- whether the selection is borderline (one criterion within criteria.borderline_persons persons
-- of flipping would change it).
-- Parameters: $method ('criteria' or 'index'), $criteria_required (how many of the criteria
-- that are not required an area must cross; required criteria must all be crossed),
-- $selected_classes (index classes that are selected), $minimum_population.
-- Reads criteria, area_keys, areas, area_criteria and area_index. Per area, bit masks with bit
-- (criterion_id - 1) set for the criteria crossed, unknown and borderline (a ruleset has at most
-- 30 criteria, so a mask is an INTEGER); every count is a bit count of them. Only the rows of area_criteria that are candidates (crossed, unknown or near
-- their threshold) are gathered, into area_flags: any other row is a criterion evaluated and
-- not crossed, and not borderline, which is what an area without such rows has.
-- An unknown (suppressed) criterion counts as not crossed; when it alone could have made the
-- difference, the area is 'undetermined_suppressed' rather than not selected.
-- area_selection holds one narrow row per area (keys, population, masks, status as a small
-- number, selected, borderline); the view area_results adds the area's codes and name (from
-- areas), the counts (from the masks), the status by name (selection_statuses), the index
-- (area_index) and the crossed criteria by name (crossed_combinations, one row per distinct
-- combination of crossed criteria).
CREATE OR REPLACE TABLE selection_statuses AS
SELECT
    CAST(status_id AS TINYINT) AS status_id,
    selection_status
FROM (VALUES
    (1, 'selected'),
    (2, 'too_few_criteria_crossed'),
    (3, 'required_criterion_not_crossed'),
    (4, 'undetermined_suppressed'),
    (5, 'below_minimum_population'),
    (6, 'index_class_not_selected')
) AS statuses (status_id, selection_status);

CREATE OR REPLACE TABLE criteria_masks AS
SELECT
    CAST(count(*) AS TINYINT) AS criteria_used,
    CAST(coalesce(bit_or(CAST(1 AS INTEGER) << (criterion_id - 1)), 0) AS INTEGER) AS all_mask,
    CAST(coalesce(bit_or(CAST(1 AS INTEGER) << (criterion_id - 1)) FILTER (WHERE required), 0)
        AS INTEGER) AS required_mask
FROM criteria;

CREATE OR REPLACE TABLE area_flags AS
SELECT
    area_id,
    coalesce(bit_or(CAST(1 AS INTEGER) << (criterion_id - 1)) FILTER (WHERE crossed), 0)
        AS crossed_mask,
    coalesce(bit_or(CAST(1 AS INTEGER) << (criterion_id - 1)) FILTER (WHERE crossed IS NULL), 0)
        AS unknown_mask,
    coalesce(bit_or(CAST(1 AS INTEGER) << (criterion_id - 1)) FILTER (WHERE borderline), 0)
        AS borderline_mask
FROM area_criteria
WHERE candidate AND (crossed IS NOT FALSE OR near_threshold)
GROUP BY area_id;

CREATE OR REPLACE TABLE area_selection AS
WITH masks AS (
    SELECT
        area_keys.area_id,
        area_keys.municipality_id,
        area_keys.population,
        coalesce(area_flags.crossed_mask, 0) AS crossed_mask,
        coalesce(area_flags.unknown_mask, 0) AS unknown_mask,
        criteria_masks.all_mask & ~coalesce(area_flags.crossed_mask, 0)
            & ~coalesce(area_flags.unknown_mask, 0) AS failed_mask,
        coalesce(area_flags.borderline_mask, 0) AS borderline_mask,
        criteria_masks.required_mask,
        area_index.index_class
    FROM area_keys
    CROSS JOIN criteria_masks
    LEFT JOIN area_flags ON area_flags.area_id = area_keys.area_id
    LEFT JOIN area_index ON area_index.area_id = area_keys.area_id
),
counted AS (
    SELECT
        *,
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
        -- The status as its number in selection_statuses.
        CAST(CASE
            WHEN population < $minimum_population THEN 5  -- below_minimum_population
            WHEN $method = 'index' THEN
                CASE
                    WHEN index_class IS NULL THEN 4  -- undetermined_suppressed
                    WHEN list_contains($selected_classes, index_class) THEN 1  -- selected
                    ELSE 6  -- index_class_not_selected
                END
            WHEN required_failed > 0 THEN 3  -- required_criterion_not_crossed
            WHEN required_unknown = 0 AND optional_crossed >= $criteria_required
                THEN 1  -- selected
            WHEN optional_crossed + optional_unknown >= $criteria_required
                THEN 4  -- undetermined_suppressed
            ELSE 2  -- too_few_criteria_crossed
        END AS TINYINT) AS status_id
    FROM counted
)
SELECT
    area_id,
    municipality_id,
    population,
    CAST(crossed_mask AS INTEGER) AS crossed_mask,
    CAST(unknown_mask AS INTEGER) AS unknown_mask,
    status_id,
    status_id = 1 AS selected,
    $method = 'criteria' AND (
        (status_id = 1 AND (
            borderline_required_crossed > 0
            OR (borderline_optional_crossed > 0 AND optional_crossed = $criteria_required)))
        OR (status_id = 3 AND required_failed = 1 AND required_unknown = 0
            AND borderline_required_failed > 0 AND optional_crossed >= $criteria_required)
        OR (status_id = 2 AND borderline_optional_failed > 0 AND required_unknown = 0
            AND optional_crossed + 1 >= $criteria_required)
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
    CAST(criteria_masks.criteria_used AS BIGINT) AS criteria_used,
    CAST(criteria_masks.criteria_used - bit_count(area_selection.unknown_mask) AS BIGINT)
        AS criteria_evaluated,
    CAST(bit_count(area_selection.crossed_mask) AS BIGINT) AS criteria_crossed,
    CAST(bit_count(area_selection.unknown_mask) AS BIGINT) AS criteria_suppressed,
    crossed_combinations.crossed_criteria,
    area_selection.crossed_mask,
    area_index.index_value,
    area_index.index_score,
    area_index.index_class,
    area_selection.selected,
    selection_statuses.selection_status,
    area_selection.borderline
FROM area_selection
CROSS JOIN criteria_masks
INNER JOIN areas ON areas.area_id = area_selection.area_id
INNER JOIN crossed_combinations ON crossed_combinations.crossed_mask = area_selection.crossed_mask
LEFT JOIN selection_statuses ON selection_statuses.status_id = area_selection.status_id
LEFT JOIN area_index ON area_index.area_id = area_selection.area_id;
