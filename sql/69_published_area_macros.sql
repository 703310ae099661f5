-- The per-area tables in their published form, over a range of area ids
-- (first_area <= area_id < end_area), in area code order (area ids follow it, see 00_areas, so
-- the sort compares integers, not text): published_area_results_between is area_results without
-- the internal keys, with each area's smallest margin in persons over its criteria (computed
-- here, from the area's rows of area_criteria); published_area_criteria_between is
-- area_criteria with the codes and indicator of each row. The publication writes a large
-- screening slice after slice of areas, each sorted on its own, instead of sorting every row at
-- once (areascreen.per_area); 70_publication defines the views of every area over them.
CREATE OR REPLACE MACRO published_area_results_between(first_area, end_area) AS TABLE
WITH margins AS (
    SELECT
        area_id,
        min(margin_persons) AS smallest_margin_persons
    FROM area_criteria
    WHERE area_id >= first_area AND area_id < end_area
    GROUP BY area_id
)
SELECT
    area_results.* EXCLUDE (area_id, municipality_id, crossed_mask),
    margins.smallest_margin_persons
FROM area_results
LEFT JOIN margins ON margins.area_id = area_results.area_id
WHERE area_results.area_id >= first_area AND area_results.area_id < end_area
ORDER BY area_results.area_id;

CREATE OR REPLACE MACRO published_area_criteria_between(first_area, end_area) AS TABLE
SELECT
    areas.area_code,
    areas.municipality_code,
    area_criteria.criterion_id AS position,
    area_criteria.criterion,
    indicators.indicator,
    area_criteria.kind AS threshold_kind,
    area_criteria.direction,
    area_criteria.required,
    area_criteria.numerator,
    area_criteria.denominator,
    area_criteria.rate,
    area_criteria.threshold_rate AS threshold,
    area_criteria.reference_average,
    area_criteria.deviation_pp,
    area_criteria.margin_pp,
    area_criteria.margin_persons,
    area_criteria.rank_position,
    area_criteria.crossed,
    area_criteria.borderline
FROM area_criteria
INNER JOIN areas ON areas.area_id = area_criteria.area_id
INNER JOIN indicators ON indicators.indicator_id = area_criteria.indicator_id
WHERE area_criteria.area_id >= first_area AND area_criteria.area_id < end_area
ORDER BY areas.area_id, area_criteria.criterion_id;
