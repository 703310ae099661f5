-- area_criteria: one row per area and criterion: the counts, the rate, the threshold the area is
-- compared with, whether it crosses it, and by how much (in percentage points and in persons).
-- Parameters: $minimum_population (areas with fewer residents are not screened, so they are not
-- ranked) and $borderline_persons (a crossing that as many persons or fewer could flip is
-- borderline).
-- Reads criteria (one row per criterion: kind, direction, the threshold's number as DOUBLE and
-- as the exact fraction value_num / value_den), area_indicators, areas, national_averages and
-- county_averages.
--
-- A threshold is crossed only strictly beyond it. Fixed-number thresholds (absolute, ratio and
-- difference kinds) are compared exactly on counts: the threshold is a number of persons
-- T = t_num / t_den of the area's denominator, and the area crosses "above" when
-- numerator * t_den > t_num, in 128-bit integers. Statistical thresholds (standard deviations)
-- compare the rate with mean +/- k * sd in floating point. Rank thresholds take the screened
-- areas worst first (ties by area code) until the share of areas or of population is reached.
-- Unknown counts (suppressed, or a denominator of 0) cross nothing: crossed is NULL.
CREATE OR REPLACE TABLE area_criteria AS
WITH joined AS (
    SELECT
        area_indicators.area_id,
        areas.area_code,
        areas.population,
        criteria.criterion_id,
        criteria.criterion,
        criteria.indicator_id,
        criteria.kind,
        criteria.direction,
        criteria.required,
        CASE WHEN criteria.direction = 'above' THEN 1 ELSE -1 END AS worse,
        criteria.value,
        criteria.value_num,
        criteria.value_den,
        area_indicators.numerator,
        area_indicators.denominator,
        area_indicators.known,
        area_indicators.rate,
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
    INNER JOIN area_indicators ON area_indicators.indicator_id = criteria.indicator_id
    INNER JOIN areas ON areas.area_id = area_indicators.area_id
    INNER JOIN national_averages ON national_averages.indicator_id = criteria.indicator_id
    LEFT JOIN county_averages
        ON county_averages.indicator_id = criteria.indicator_id
        AND county_averages.county_code = areas.county_code
),
thresholds AS (
    SELECT
        *,
        CASE
            WHEN kind = 'absolute' THEN value_num * denominator
            WHEN kind LIKE '%_ratio' THEN value_num * reference_num * denominator
            WHEN kind LIKE '%_difference'
                THEN denominator * (100 * value_den * reference_num + worse * value_num * reference_den)
        END AS t_num,
        CASE
            WHEN kind = 'absolute' THEN 100 * value_den
            WHEN kind LIKE '%_ratio' THEN nullif(value_den * reference_den, 0)
            WHEN kind LIKE '%_difference' THEN nullif(100 * value_den * reference_den, 0)
        END AS t_den,
        CASE
            WHEN kind = 'absolute' THEN value
            WHEN kind LIKE '%_ratio' THEN value * 100.0 * reference_num / nullif(reference_den, 0)
            WHEN kind LIKE '%_difference'
                THEN 100.0 * reference_num / nullif(reference_den, 0) + worse * value
            WHEN kind = 'standard_deviations' THEN mean_rate + worse * value * sd_rate
        END AS threshold_rate,
        CASE WHEN kind LIKE 'county_%' THEN 100.0 * reference_num / nullif(reference_den, 0)
            ELSE national_average END AS reference_average
    FROM joined
),
ranked AS (
    SELECT
        area_id,
        criterion_id,
        kind,
        value_num,
        value_den,
        row_number() OVER worst_first AS position,
        sum(population) OVER worst_first AS population_so_far,
        count(*) OVER (PARTITION BY criterion_id) AS areas_ranked,
        sum(population) OVER (PARTITION BY criterion_id) AS population_ranked
    FROM joined
    WHERE kind LIKE 'rank_%' AND known AND population >= $minimum_population
    WINDOW worst_first AS (
        PARTITION BY criterion_id ORDER BY worse * rate DESC, area_code
        ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
    )
),
judged AS (
    SELECT
        thresholds.*,
        ranked.position AS rank_position,
        CASE
            WHEN NOT thresholds.known THEN NULL
            WHEN thresholds.kind LIKE 'rank_%' THEN
                CASE
                    WHEN ranked.position IS NULL THEN NULL
                    WHEN thresholds.kind = 'rank_share_of_areas'
                        THEN ranked.position * 100 * ranked.value_den
                            <= ranked.value_num * ranked.areas_ranked
                    ELSE ranked.population_so_far * 100 * ranked.value_den
                        <= ranked.value_num * ranked.population_ranked
                END
            WHEN thresholds.kind = 'standard_deviations' THEN
                CASE WHEN thresholds.direction = 'above'
                    THEN thresholds.rate > thresholds.threshold_rate
                    ELSE thresholds.rate < thresholds.threshold_rate END
            WHEN thresholds.t_den IS NULL THEN NULL
            WHEN thresholds.direction = 'above'
                THEN thresholds.numerator * thresholds.t_den > thresholds.t_num
            ELSE thresholds.numerator * thresholds.t_den < thresholds.t_num
        END AS crossed,
        CASE
            WHEN thresholds.t_den IS NOT NULL
                THEN floor_div(thresholds.t_num, thresholds.t_den)
            WHEN thresholds.kind = 'standard_deviations'
                THEN CAST(floor(thresholds.threshold_rate * thresholds.denominator / 100) AS HUGEINT)
        END AS threshold_floor,
        CASE
            WHEN thresholds.t_den IS NOT NULL
                THEN ceil_div(thresholds.t_num, thresholds.t_den)
            WHEN thresholds.kind = 'standard_deviations'
                THEN CAST(ceil(thresholds.threshold_rate * thresholds.denominator / 100) AS HUGEINT)
        END AS threshold_ceiling
    FROM thresholds
    LEFT JOIN ranked
        ON ranked.area_id = thresholds.area_id AND ranked.criterion_id = thresholds.criterion_id
),
margins AS (
    SELECT
        *,
        CAST(CASE
            WHEN crossed IS NULL OR threshold_floor IS NULL THEN NULL
            WHEN direction = 'above' AND crossed THEN numerator - threshold_floor
            WHEN direction = 'above' THEN threshold_floor + 1 - numerator
            WHEN crossed THEN threshold_ceiling - numerator
            ELSE numerator - threshold_ceiling + 1
        END AS BIGINT) AS margin_persons
    FROM judged
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
    CASE WHEN direction = 'above' THEN rate - threshold_rate ELSE threshold_rate - rate END
        AS margin_pp,
    margin_persons,
    rank_position,
    crossed,
    coalesce(margin_persons <= $borderline_persons, FALSE) AS borderline
FROM margins;
