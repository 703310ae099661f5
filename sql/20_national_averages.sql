-- national_averages: each criterion's national average, computed from the counts of every area
-- whose numerator and denominator are both known (sum of numerators / sum of denominators),
-- beside the published average.
CREATE OR REPLACE TABLE national_averages AS
WITH totals AS (
    SELECT
        indicator,
        CAST(sum(numerator) FILTER (WHERE is_known) AS BIGINT) AS numerator_total,
        CAST(sum(denominator) FILTER (WHERE is_known) AS BIGINT) AS denominator_total,
        count(*) FILTER (WHERE is_known) AS areas_known,
        count(*) FILTER (WHERE NOT is_known) AS areas_suppressed
    FROM indicator_counts
    GROUP BY indicator
)
SELECT
    criteria.position,
    criteria.indicator,
    criteria.direction,
    criteria.threshold,
    criteria.published_national_average,
    coalesce(totals.numerator_total, 0) AS numerator_total,
    coalesce(totals.denominator_total, 0) AS denominator_total,
    100.0 * totals.numerator_total / nullif(totals.denominator_total, 0) AS national_average,
    100.0 * totals.numerator_total / nullif(totals.denominator_total, 0)
        - criteria.published_national_average AS difference_from_published_pp,
    coalesce(totals.areas_known, 0) AS areas_known,
    coalesce(totals.areas_suppressed, 0) AS areas_suppressed
FROM criteria
LEFT JOIN totals ON totals.indicator = criteria.indicator
ORDER BY criteria.position;
