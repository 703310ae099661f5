-- The per-area facts the report and the summary show, computed where the areas are so that only
-- small tables leave the database (areascreen.area_facts reads them):
--   area_counts: areas and their residents per selection status, selection, borderline, number
--     of criteria crossed and index class;
--   criterion_ranges: per criterion, its rows, those with known counts (crossed and rate known),
--     how many of those cross, the distinct thresholds they are compared with, and the range of
--     their rates and margins, from which each histogram's bins are chosen (76_criterion_bins);
--   explained_area_keys, explained_area_criteria and explained_area_results: the areas the report
--     explains, those selected, borderline or near selection, with their rows of area_criteria
--     and the columns of area_results the report shows.
-- An area is near selection when it is not selected, has at least the minimum population, and is
-- one criterion short (the required criteria it does not cross, plus how many more of the others
-- it would need to cross to reach $criteria_required, come to one; an unknown criterion counts as
-- not crossed), or, when the ruleset selects by index, its class is one away from a selected one.
-- Parameters: $method, $criteria_required and $selected_classes, as for 40_area_results.
-- Reads area_selection, criteria_masks, selection_statuses, area_index, areas and area_criteria
-- (the explained areas' columns are those of area_results, from the same tables).
CREATE OR REPLACE TABLE area_counts AS
SELECT
    selection_statuses.selection_status,
    area_selection.selected,
    area_selection.borderline,
    CAST(bit_count(area_selection.crossed_mask) AS INTEGER) AS criteria_crossed,
    area_index.index_class,
    count(*) AS areas,
    CAST(coalesce(sum(area_selection.population), 0) AS BIGINT) AS population
FROM area_selection
LEFT JOIN selection_statuses ON selection_statuses.status_id = area_selection.status_id
LEFT JOIN area_index ON area_index.area_id = area_selection.area_id
GROUP BY ALL;

-- First per criterion and threshold (thresholds differ by municipality at the most, so the groups
-- are few), then per criterion: the distinct thresholds without a DISTINCT over every row.
CREATE OR REPLACE TABLE criterion_ranges AS
WITH by_threshold AS (
    SELECT
        criterion_id,
        criterion,
        threshold_rate,
        crossed IS NOT NULL AND rate IS NOT NULL AS known,
        count(*) AS area_rows,
        count(*) FILTER (WHERE crossed) AS crossing,
        min(rate) AS lowest_rate,
        max(rate) AS highest_rate,
        min(margin_pp) AS lowest_margin,
        max(margin_pp) AS highest_margin
    FROM area_criteria
    GROUP BY criterion_id, criterion, threshold_rate, known
)
SELECT
    criterion_id,
    criterion,
    CAST(sum(area_rows) AS BIGINT) AS area_rows,
    CAST(coalesce(sum(area_rows) FILTER (WHERE known), 0) AS BIGINT) AS known,
    CAST(coalesce(sum(crossing) FILTER (WHERE known), 0) AS BIGINT) AS crossing,
    list(threshold_rate) FILTER (WHERE known AND threshold_rate IS NOT NULL) AS thresholds,
    min(lowest_rate) FILTER (WHERE known) AS lowest_rate,
    max(highest_rate) FILTER (WHERE known) AS highest_rate,
    min(lowest_margin) FILTER (WHERE known) AS lowest_margin,
    max(highest_margin) FILTER (WHERE known) AS highest_margin
FROM by_threshold
GROUP BY criterion_id, criterion;

CREATE OR REPLACE TABLE explained_area_keys AS
WITH judged AS (
    SELECT
        area_selection.area_id,
        area_selection.selected,
        area_selection.borderline,
        NOT area_selection.selected
            AND selection_statuses.selection_status <> 'below_minimum_population'
            AND coalesce(
                CASE
                    WHEN $method = 'index' THEN list_min(list_transform(
                        $selected_classes,
                        lambda selected_class: abs(area_index.index_class - selected_class)
                    )) = 1
                    -- required criteria not crossed, plus the others still lacking
                    ELSE bit_count(criteria_masks.required_mask & ~area_selection.crossed_mask)
                        + greatest(
                            0,
                            $criteria_required - bit_count(
                                area_selection.crossed_mask & ~criteria_masks.required_mask
                            )
                        ) = 1
                END,
                FALSE
            ) AS near
    FROM area_selection
    CROSS JOIN criteria_masks
    LEFT JOIN selection_statuses ON selection_statuses.status_id = area_selection.status_id
    LEFT JOIN area_index ON area_index.area_id = area_selection.area_id
)
SELECT
    area_id,
    near
FROM judged
WHERE selected OR borderline OR near;

-- Only the rows of the explained areas, by a semi-join on their ids. DuckDB does not push the join
-- into the view: the view is still computed for every row, in one streaming pass, and only the
-- rows of the explained areas are kept.
CREATE OR REPLACE TABLE explained_area_criteria AS
SELECT
    area_criteria.area_id,
    area_criteria.criterion_id,
    area_criteria.criterion,
    area_criteria.crossed,
    area_criteria.rate,
    area_criteria.threshold_rate AS threshold,
    area_criteria.margin_pp,
    area_criteria.margin_persons,
    area_criteria.borderline
FROM area_criteria
SEMI JOIN explained_area_keys ON explained_area_keys.area_id = area_criteria.area_id;

-- The columns of area_results, taken from the tables it is made of with the explained areas
-- joined first, so that no other area is read beyond its keys.
CREATE OR REPLACE TABLE explained_area_results AS
WITH margins AS (
    SELECT
        area_id,
        min(margin_persons) AS smallest_margin_persons
    FROM explained_area_criteria
    GROUP BY area_id
)
SELECT
    explained_area_keys.area_id,
    areas.area_code,
    areas.area_name,
    areas.municipality_code,
    areas.population,
    selection_statuses.selection_status,
    area_index.index_value,
    area_index.index_class,
    area_selection.selected,
    area_selection.borderline,
    margins.smallest_margin_persons,
    explained_area_keys.near
FROM explained_area_keys
INNER JOIN area_selection ON area_selection.area_id = explained_area_keys.area_id
INNER JOIN areas ON areas.area_id = explained_area_keys.area_id
LEFT JOIN selection_statuses ON selection_statuses.status_id = area_selection.status_id
LEFT JOIN area_index ON area_index.area_id = explained_area_keys.area_id
LEFT JOIN margins ON margins.area_id = explained_area_keys.area_id;
