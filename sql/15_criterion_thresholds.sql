-- criterion_thresholds and criterion_comparisons: where each criterion's threshold lies for the
-- areas of each municipality, as the exact fraction of a rate an area's counts are compared with.
-- An area with counts n / d crosses an "above" criterion when n * a > b * d, a "below" one when
-- n * a < b * d, in 128-bit integers (a and b are whole numbers; a > 0):
--   absolute value p/q per cent:          a = 100 q,      b = p
--   national_ratio p/q (N / D national):   a = q D,        b = p N
--   national_difference p/q pp:            a = 100 q D,    b = 100 q N + s p D
--   county_ratio, county_difference:       the same with the county's totals
-- where s is +1 for "above" and -1 for "below" (the distance lies on the worse side).
-- Statistical thresholds (standard deviations) have only threshold_rate, the mean of the area
-- rates + s * value * sd, compared in floating point; rank thresholds are decided in
-- 18_criterion_ranks.
-- Each row also carries its criterion (name, indicator, kind, direction, whether required) and,
-- so that 20_area_criteria compares no text per area: worse (+1 above, -1 below),
-- is_rank and is_standard_deviations, a in 64 bits and the fraction in 64 bits with the
-- direction folded in, and reach64, the 64-bit bound of the near-threshold test.
-- Reads criteria, national_averages, county_averages and municipality_keys.
CREATE OR REPLACE TABLE criterion_thresholds AS
WITH referenced AS (
    SELECT
        criteria.criterion_id,
        municipality_keys.municipality_id,
        criteria.criterion,
        criteria.indicator_id,
        criteria.direction,
        criteria.required,
        criteria.borderline_persons,
        criteria.kind,
        criteria.value,
        CAST(criteria.value_num AS HUGEINT) AS p,
        CAST(criteria.value_den AS HUGEINT) AS q,
        CASE WHEN criteria.direction = 'above' THEN 1 ELSE -1 END AS worse,
        national_averages.national_average,
        CASE WHEN criteria.kind LIKE 'county_%' THEN county_averages.numerator_total
            ELSE national_averages.numerator_total END AS reference_num,
        CASE WHEN criteria.kind LIKE 'county_%' THEN county_averages.denominator_total
            ELSE national_averages.denominator_total END AS reference_den,
        CASE WHEN criteria.weighted THEN national_averages.weighted_mean_rate
            ELSE national_averages.mean_rate END AS mean_rate,
        CASE WHEN criteria.weighted THEN national_averages.weighted_sd_rate
            ELSE national_averages.sd_rate END AS sd_rate
    FROM criteria
    CROSS JOIN municipality_keys
    INNER JOIN national_averages ON national_averages.indicator_id = criteria.indicator_id
    LEFT JOIN county_averages
        ON county_averages.indicator_id = criteria.indicator_id
        AND county_averages.county_code = municipality_keys.county_code
),
fractions AS (
    SELECT
        *,
        CASE
            WHEN kind = 'absolute' THEN 100 * q
            WHEN kind LIKE '%_ratio' THEN nullif(q * reference_den, 0)
            WHEN kind LIKE '%_difference' THEN nullif(100 * q * reference_den, 0)
        END AS a,
        CASE
            WHEN kind = 'absolute' THEN p
            WHEN kind LIKE '%_ratio' THEN p * reference_num
            WHEN kind LIKE '%_difference' THEN 100 * q * reference_num + worse * p * reference_den
        END AS b
    FROM referenced
),
-- Whether the fraction is small enough that its products with counts (at most 1,000,000,000,
-- the input gate's limit) stay within 64 bits: the fast path.
sized AS (
    SELECT
        *,
        a <= 2147483647 AND abs(b) <= 2147483647 AS fits64
    FROM fractions
)
SELECT
    criterion_id,
    municipality_id,
    criterion,
    indicator_id,
    kind,
    direction,
    required,
    borderline_persons,
    CAST(worse AS TINYINT) AS worse,
    kind LIKE 'rank_%' AS is_rank,
    kind = 'standard_deviations' AS is_standard_deviations,
    a,
    CASE WHEN a IS NOT NULL THEN b END AS b,
    -- Where the fraction fits 64 bits: a, and the fraction with the direction folded in (times
    -- worse), so that n * signed_a64 - signed_b64 * d is above 0 exactly when the area crosses
    -- the threshold.
    CASE WHEN fits64 THEN CAST(a AS BIGINT) END AS a64,
    CASE WHEN fits64 THEN CAST(worse * a AS BIGINT) END AS signed_a64,
    CASE WHEN fits64 THEN CAST(worse * b AS BIGINT) END AS signed_b64,
    -- An area's row is near its threshold when |n a - b d| <= (borderline_persons + 2) a.
    CASE WHEN fits64
        THEN CAST(least((borderline_persons + 2) * a, 9223372036854775807) AS BIGINT) END
        AS reach64,
    -- b / a in floating point, for the estimate of an area's threshold count.
    CAST(b AS DOUBLE) / CAST(a AS DOUBLE) AS b_over_a,
    CASE
        WHEN kind = 'standard_deviations' THEN mean_rate + worse * value * sd_rate
        WHEN a IS NOT NULL THEN 100.0 * b / a
    END AS threshold_rate,
    CASE WHEN kind LIKE 'county_%' THEN 100.0 * reference_num / nullif(reference_den, 0)
        ELSE national_average END AS reference_average,
    national_average
FROM sized;

-- criterion_comparisons: the columns of criterion_thresholds that every area's comparison
-- needs, keyed by indicator and municipality (see 20_area_criteria).
CREATE OR REPLACE TABLE criterion_comparisons AS
SELECT
    indicator_id,
    municipality_id,
    criterion_id,
    signed_a64,
    signed_b64,
    reach64
FROM criterion_thresholds;
