-- national_averages and county_averages: each indicator's average from counts (sum of
-- numerators / sum of denominators over the areas whose counts are known), nationally and per
-- county, and the mean and standard deviation of the area rates, unweighted and weighted by the
-- area's population, over the screened areas (population at least $minimum_population).
-- Rows that count nationally but are no areas (national_only_counts, e.g. the Election
-- Authority's collection districts holding late votes) are added to the national totals only.
-- Reads indicators, area_indicators, areas, national_only_counts.
CREATE OR REPLACE TABLE national_averages AS
WITH national_only AS (
    SELECT
        indicator_id,
        sum(numerator) AS numerator_total,
        sum(denominator) AS denominator_total,
        count(*) AS rows_national_only
    FROM national_only_counts
    WHERE numerator IS NOT NULL AND denominator IS NOT NULL
    GROUP BY indicator_id
),
area_sums AS (
    SELECT
        area_indicators.indicator_id,
        sum(area_indicators.numerator) FILTER (WHERE area_indicators.known) AS numerator_total,
        sum(area_indicators.denominator) FILTER (WHERE area_indicators.known)
            AS denominator_total,
        count(*) FILTER (WHERE area_indicators.known) AS areas_known,
        count(*) FILTER (WHERE NOT area_indicators.known) AS areas_suppressed,
        avg(area_indicators.rate) FILTER (WHERE areas.population >= $minimum_population)
            AS mean_rate,
        stddev_pop(area_indicators.rate) FILTER (WHERE areas.population >= $minimum_population)
            AS sd_rate,
        sum(areas.population * area_indicators.rate)
            FILTER (WHERE areas.population >= $minimum_population AND area_indicators.known)
            / nullif(sum(areas.population) FILTER (
                WHERE areas.population >= $minimum_population AND area_indicators.known), 0)
            AS weighted_mean_rate,
        sum(areas.population) FILTER (
            WHERE areas.population >= $minimum_population AND area_indicators.known)
            AS weight_total
    FROM area_indicators
    INNER JOIN areas ON areas.area_id = area_indicators.area_id
    GROUP BY area_indicators.indicator_id
),
weighted_spread AS (
    SELECT
        area_indicators.indicator_id,
        sqrt(
            sum(areas.population * power(area_indicators.rate - area_sums.weighted_mean_rate, 2))
            / nullif(any_value(area_sums.weight_total), 0)
        ) AS weighted_sd_rate
    FROM area_indicators
    INNER JOIN areas ON areas.area_id = area_indicators.area_id
    INNER JOIN area_sums ON area_sums.indicator_id = area_indicators.indicator_id
    WHERE areas.population >= $minimum_population AND area_indicators.known
    GROUP BY area_indicators.indicator_id
),
totals AS (
    SELECT
        indicators.indicator_id,
        CAST(coalesce(area_sums.numerator_total, 0) + coalesce(national_only.numerator_total, 0)
            AS HUGEINT) AS numerator_total,
        CAST(coalesce(area_sums.denominator_total, 0)
            + coalesce(national_only.denominator_total, 0) AS HUGEINT) AS denominator_total,
        coalesce(area_sums.areas_known, 0) AS areas_known,
        coalesce(area_sums.areas_suppressed, 0) AS areas_suppressed,
        coalesce(national_only.rows_national_only, 0) AS rows_national_only,
        area_sums.mean_rate,
        area_sums.sd_rate,
        area_sums.weighted_mean_rate,
        weighted_spread.weighted_sd_rate
    FROM indicators
    LEFT JOIN area_sums ON area_sums.indicator_id = indicators.indicator_id
    LEFT JOIN national_only ON national_only.indicator_id = indicators.indicator_id
    LEFT JOIN weighted_spread ON weighted_spread.indicator_id = indicators.indicator_id
)
SELECT
    indicators.indicator_id,
    indicators.indicator,
    indicators.label,
    totals.numerator_total,
    totals.denominator_total,
    100.0 * totals.numerator_total / nullif(totals.denominator_total, 0) AS national_average,
    indicators.published_national_average,
    100.0 * totals.numerator_total / nullif(totals.denominator_total, 0)
        - indicators.published_national_average AS difference_from_published_pp,
    totals.areas_known,
    totals.areas_suppressed,
    totals.rows_national_only,
    totals.mean_rate,
    totals.sd_rate,
    totals.weighted_mean_rate,
    totals.weighted_sd_rate
FROM indicators
INNER JOIN totals ON totals.indicator_id = indicators.indicator_id;

CREATE OR REPLACE TABLE county_averages AS
SELECT
    area_indicators.indicator_id,
    areas.county_code,
    CAST(sum(area_indicators.numerator) AS HUGEINT) AS numerator_total,
    CAST(sum(area_indicators.denominator) AS HUGEINT) AS denominator_total
FROM area_indicators
INNER JOIN areas ON areas.area_id = area_indicators.area_id
WHERE area_indicators.known
GROUP BY area_indicators.indicator_id, areas.county_code;
