-- The published forms of the per-area tables, in area code order (area ids follow it, see
-- 00_areas, so the sort compares integers, not text): area_results without the internal keys,
-- with each area's smallest margin in persons over its criteria (computed here, when published,
-- from every row of area_criteria), and area_criteria with the codes and indicator of each row.
CREATE OR REPLACE VIEW published_area_results AS
WITH margins AS (
    SELECT
        area_id,
        min(margin_persons) AS smallest_margin_persons
    FROM area_criteria
    GROUP BY area_id
)
SELECT
    area_results.* EXCLUDE (area_id, municipality_id, crossed_mask),
    margins.smallest_margin_persons
FROM area_results
LEFT JOIN margins ON margins.area_id = area_results.area_id
ORDER BY area_results.area_id;

CREATE OR REPLACE VIEW published_area_criteria AS
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
ORDER BY areas.area_id, area_criteria.criterion_id;

-- Totals are HUGEINT inside the screening; the input gate bounds every count, so they fit BIGINT.
CREATE OR REPLACE VIEW published_national_averages AS
SELECT
    indicator,
    label,
    CAST(numerator_total AS BIGINT) AS numerator_total,
    CAST(denominator_total AS BIGINT) AS denominator_total,
    national_average,
    published_national_average,
    difference_from_published_pp,
    areas_known,
    areas_suppressed,
    rows_national_only,
    mean_rate,
    sd_rate,
    weighted_mean_rate,
    weighted_sd_rate
FROM national_averages
ORDER BY indicator_id;
