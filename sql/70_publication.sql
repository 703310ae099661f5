-- The published forms of the per-area tables, every area in area code order, over the table
-- macros of 69_published_area_macros (area ids are INTEGER: every id lies in the range given).
CREATE OR REPLACE VIEW published_area_results AS
FROM published_area_results_between(-2147483648, 2147483647);

CREATE OR REPLACE VIEW published_area_criteria AS
FROM published_area_criteria_between(-2147483648, 2147483647);

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
