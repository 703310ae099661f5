-- area_criteria: one row per area and criterion: rate, threshold, national average, deviation and
-- whether the area crosses the threshold.
-- A threshold is crossed only strictly beyond it: a rate exactly at the threshold does not cross.
-- The comparison is exact, on counts: numerator * 100 against threshold * denominator, so no
-- rounding of the rate can move an area across. Unknown counts give crossed = NULL.
CREATE OR REPLACE TABLE area_criteria AS
WITH thresholds AS (
    SELECT
        indicator,
        direction,
        threshold,
        CAST(threshold AS DECIMAL(9, 4)) AS exact_threshold,
        national_average
    FROM national_averages
)
SELECT
    counts.area_code,
    counts.municipality_code,
    counts.position,
    counts.indicator,
    thresholds.direction,
    counts.numerator,
    counts.denominator,
    CASE WHEN counts.is_known THEN 100.0 * counts.numerator / counts.denominator END AS rate,
    thresholds.threshold,
    thresholds.national_average,
    CASE WHEN counts.is_known
        THEN 100.0 * counts.numerator / counts.denominator - thresholds.national_average
    END AS deviation_pp,
    CASE WHEN counts.is_known THEN
        CASE thresholds.direction
            WHEN 'below' THEN thresholds.threshold - 100.0 * counts.numerator / counts.denominator
            ELSE 100.0 * counts.numerator / counts.denominator - thresholds.threshold
        END
    END AS margin_pp,
    CASE
        WHEN NOT counts.is_known THEN NULL
        WHEN thresholds.direction = 'below'
            THEN counts.numerator * 100 < thresholds.exact_threshold * counts.denominator
        ELSE counts.numerator * 100 > thresholds.exact_threshold * counts.denominator
    END AS crossed
FROM indicator_counts AS counts
INNER JOIN thresholds ON thresholds.indicator = counts.indicator;
