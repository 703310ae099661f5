-- area_criteria: a view with one row per area and criterion: the counts, the rate, the threshold
-- the area is compared with, whether it crosses it, and by how much (in percentage points and in
-- persons). It is computed when read, never stored: 40_area_results gathers the rows it needs,
-- and the publication reads it once more.
-- A crossing that criteria.borderline_persons persons or fewer could flip is borderline.
-- near_threshold is a cheap test that holds for every borderline row (the rate lies within
-- borderline_persons + 2 persons of the threshold, in floating point, far wider than its
-- rounding): 40_area_results computes the exact margins only for the rows it selects.
-- Reads area_indicators, criterion_comparisons and criterion_thresholds (one row per criterion
-- and municipality: the comparison's numbers, and all the criterion's columns) and
-- criterion_ranks. Per row, only numbers are compared: the common case, a threshold whose
-- fraction fits 64 bits, costs two products and a difference,
-- signed_difference64 = worse * (n a - b d), above 0 when crossed and small when near; the
-- column candidate (crossed, near, unknown or beyond 64 bits) is that one comparison, which
-- 40_area_results filters on before anything else is computed.
--
-- A threshold is crossed only strictly beyond it (see 15_criterion_thresholds for the exact
-- comparison on counts). Unknown counts (suppressed, or a denominator of 0) cross nothing:
-- crossed is NULL. The margin in persons is how many numerator persons would have to change
-- status (the denominator unchanged) for the crossing to flip, from the threshold count
-- T = b * d / a: above, n - floor(T) when crossed and floor(T) + 1 - n when not; below,
-- ceil(T) - n when crossed and n - ceil(T) + 1 when not. For standard-deviation thresholds T is
-- threshold_rate * d / 100 in floating point, and ceil(T) is taken as floor(T) + 1.
CREATE OR REPLACE VIEW area_criteria AS
-- First the comparison alone: each area's counts joined with the criteria of its indicator on
-- the few columns the comparison needs, so that a filter on candidate (40_area_results) is
-- decided before the criterion's other columns are fetched for the rows that pass it.
WITH comparisons AS (
    SELECT
        area_indicators.area_id,
        area_indicators.municipality_id,
        area_indicators.numerator,
        area_indicators.denominator,
        area_indicators.known,
        thresholds.criterion_id,
        area_indicators.numerator * thresholds.signed_a64
            - thresholds.signed_b64 * area_indicators.denominator AS signed_difference64,
        thresholds.reach64,
        -- Whether 40_area_results needs the row: its counts are unknown, or its fraction does
        -- not fit 64 bits (no signed difference), or it is crossed or within reach of its
        -- threshold (one comparison).
        NOT area_indicators.known
            OR signed_difference64 IS NULL
            OR signed_difference64 >= -thresholds.reach64 AS candidate
    FROM area_indicators
    INNER JOIN criterion_comparisons AS thresholds
        ON thresholds.indicator_id = area_indicators.indicator_id
        AND thresholds.municipality_id = area_indicators.municipality_id
),
joined AS (
    SELECT
        comparisons.*,
        thresholds.criterion,
        thresholds.indicator_id,
        thresholds.kind,
        thresholds.direction,
        thresholds.worse,
        thresholds.is_rank,
        thresholds.is_standard_deviations,
        thresholds.required,
        thresholds.borderline_persons,
        thresholds.a,
        thresholds.b,
        thresholds.a64,
        thresholds.b_over_a,
        thresholds.threshold_rate,
        thresholds.reference_average,
        thresholds.national_average,
        ranks.rank_position,
        ranks.taken
    FROM comparisons
    INNER JOIN criterion_thresholds AS thresholds
        ON thresholds.criterion_id = comparisons.criterion_id
        AND thresholds.municipality_id = comparisons.municipality_id
    LEFT JOIN criterion_ranks AS ranks
        ON ranks.area_id = comparisons.area_id
        AND ranks.criterion_id = comparisons.criterion_id
),
-- Whether each row crosses its threshold, and whether it is near it: the only columns
-- 40_area_results reads of every row, computed first so that its filter needs nothing else.
-- The rate (a floating-point division) is needed here only by standard-deviation thresholds
-- and by fractions beyond 64 bits.
compared AS (
    SELECT
        *,
        CASE WHEN known THEN 100 * CAST(numerator AS DOUBLE) / denominator END AS rate,
        CASE
            WHEN NOT known THEN NULL
            WHEN signed_difference64 IS NOT NULL THEN signed_difference64 > 0
            WHEN is_rank THEN taken
            WHEN is_standard_deviations
                THEN worse * (100 * CAST(numerator AS DOUBLE) / denominator - threshold_rate) > 0
            WHEN a IS NULL THEN NULL
            ELSE worse * (numerator * a - b * denominator) > 0
        END AS crossed,
        CASE
            WHEN NOT known THEN NULL
            WHEN signed_difference64 IS NOT NULL THEN abs(signed_difference64) <= reach64
            ELSE abs(100 * CAST(numerator AS DOUBLE) / denominator - threshold_rate)
                * denominator <= 100 * (borderline_persons + 2)
        END AS near_threshold
    FROM joined
),
-- The threshold count T = b d / a, needed only where the fraction does not fit 64 bits (the
-- 64-bit margin comes from signed_difference64, in margins below): an estimate in floating
-- point, corrected by one where the exact 128-bit products say so, so floor(T) is exact
-- without a 128-bit division.
approximated AS (
    SELECT
        *,
        CASE
            WHEN NOT known OR a64 IS NOT NULL THEN NULL
            WHEN a IS NOT NULL THEN b_over_a * denominator
            WHEN is_standard_deviations THEN threshold_rate * denominator / 100
        END AS approximate
    FROM compared
),
-- Counts are at most 1e9, so the floating-point T is off by far less than 1e-6: when it lies
-- further than that from a whole number, its floor is exact and T is no whole number.
estimated AS (
    SELECT
        *,
        CAST(floor(approximate) AS BIGINT) AS estimate,
        a IS NULL OR approximate - floor(approximate) BETWEEN 1e-6 AND 1 - 1e-6 AS clear
    FROM approximated
),
judged AS (
    SELECT
        *,
        CASE
            WHEN NOT known OR a64 IS NOT NULL THEN NULL
            WHEN clear THEN estimate
            ELSE estimate
                - CASE WHEN estimate * a > b * denominator THEN 1 ELSE 0 END
                + CASE WHEN (estimate + 1) * a <= b * denominator THEN 1 ELSE 0 END
        END AS threshold_floor
    FROM estimated
),
-- T is a whole number when floor(T) * a = b d; otherwise ceil(T) = floor(T) + 1.
whole AS (
    SELECT
        *,
        CASE
            WHEN a64 IS NOT NULL THEN NULL
            WHEN clear THEN FALSE
            ELSE threshold_floor * a = b * denominator
        END AS threshold_whole
    FROM judged
),
margins AS (
    SELECT
        *,
        CAST(CASE
            WHEN crossed IS NULL THEN NULL
            -- In 64 bits, from s = signed_difference64 = worse (n a - b d) and a > 0: crossed
            -- (s > 0), ceil(s / a) persons; not crossed, floor(-s / a) + 1. (Above, n - floor(T)
            -- = ceil((n a - b d) / a); below, ceil(T) - n = ceil((b d - n a) / a); and so on.)
            WHEN signed_difference64 IS NOT NULL THEN
                CASE WHEN signed_difference64 > 0
                    THEN (signed_difference64 + a64 - 1) // a64
                    ELSE (-signed_difference64) // a64 + 1
                END
            WHEN threshold_floor IS NULL THEN NULL
            WHEN worse = 1 AND crossed THEN numerator - threshold_floor
            WHEN worse = 1 THEN threshold_floor + 1 - numerator
            -- below: ceil(T) is floor(T) unless T is no whole number
            WHEN crossed THEN threshold_floor + CASE WHEN threshold_whole THEN 0 ELSE 1 END
                - numerator
            ELSE numerator - threshold_floor - CASE WHEN threshold_whole THEN 0 ELSE 1 END + 1
        END AS BIGINT) AS margin_persons
    FROM whole
)
SELECT
    area_id,
    criterion_id,
    criterion,
    indicator_id,
    kind,
    direction,
    required,
    numerator,
    denominator,
    rate,
    threshold_rate,
    reference_average,
    rate - national_average AS deviation_pp,
    worse * (rate - threshold_rate) AS margin_pp,
    margin_persons,
    rank_position,
    crossed,
    coalesce(margin_persons <= borderline_persons, FALSE) AS borderline,
    coalesce(near_threshold, FALSE) AS near_threshold,
    candidate
FROM margins;
