-- national_averages and county_averages: each indicator's average from counts (sum of
-- numerators / sum of denominators over the areas whose counts are known), nationally and per
-- county, and the mean and standard deviation of the area rates, unweighted and weighted by the
-- area's population, over the screened areas (population at least $minimum_population).
-- One pass over the area counts, summed per municipality first; the standard deviation is the
-- population one, from the sums of rates and of squared rates (sums of BIGINT counts are
-- HUGEINT). The screened rate is the rate of an area with known counts (see 00_areas) and at
-- least $minimum_population residents. (Plain aggregates over CASE expressions: FILTER clauses
-- cost twice as much here.)
-- Rows that count nationally but are no areas (national_only_counts, e.g. the Election
-- Authority's collection districts holding late votes) are added to the national totals only.
-- Reads indicators, area_indicators, municipality_keys and national_only_counts.
CREATE OR REPLACE TABLE municipality_sums AS
WITH screened AS (
    SELECT
        indicator_id,
        municipality_id,
        known,
        numerator,
        denominator,
        population,
        CASE WHEN known AND population >= $minimum_population
            THEN 100 * CAST(numerator AS DOUBLE) / denominator END AS screened_rate
    FROM area_indicators
)
SELECT
    indicator_id,
    municipality_id,
    sum(CASE WHEN known THEN numerator END) AS numerator_total,
    sum(CASE WHEN known THEN denominator END) AS denominator_total,
    count_if(known) AS areas_known,
    count(*) - count_if(known) AS areas_suppressed,
    count(screened_rate) AS screened,
    sum(screened_rate) AS rate_sum,
    sum(screened_rate * screened_rate) AS rate_squares,
    sum(CASE WHEN screened_rate IS NOT NULL THEN population END) AS weight,
    sum(population * screened_rate) AS weighted_sum,
    sum(population * screened_rate * screened_rate) AS weighted_squares
FROM screened
GROUP BY indicator_id, municipality_id;

CREATE OR REPLACE TABLE national_averages AS
WITH national_only AS (
    SELECT
        indicator_id,
        CAST(sum(numerator) AS HUGEINT) AS numerator_total,
        CAST(sum(denominator) AS HUGEINT) AS denominator_total,
        count(*) AS rows_national_only
    FROM national_only_counts
    WHERE numerator IS NOT NULL AND denominator IS NOT NULL
    GROUP BY indicator_id
),
area_sums AS (
    SELECT
        indicator_id,
        sum(numerator_total) AS numerator_total,
        sum(denominator_total) AS denominator_total,
        sum(areas_known) AS areas_known,
        sum(areas_suppressed) AS areas_suppressed,
        sum(rate_sum) / nullif(sum(screened), 0) AS mean_rate,
        sum(rate_squares) / nullif(sum(screened), 0) AS mean_square,
        sum(weighted_sum) / nullif(sum(weight), 0) AS weighted_mean_rate,
        sum(weighted_squares) / nullif(sum(weight), 0) AS weighted_mean_square
    FROM municipality_sums
    GROUP BY indicator_id
),
totals AS (
    SELECT
        indicators.indicator_id,
        coalesce(area_sums.numerator_total, 0) + coalesce(national_only.numerator_total, 0)
            AS numerator_total,
        coalesce(area_sums.denominator_total, 0) + coalesce(national_only.denominator_total, 0)
            AS denominator_total,
        CAST(coalesce(area_sums.areas_known, 0) AS BIGINT) AS areas_known,
        CAST(coalesce(area_sums.areas_suppressed, 0) AS BIGINT) AS areas_suppressed,
        coalesce(national_only.rows_national_only, 0) AS rows_national_only,
        area_sums.mean_rate,
        sqrt(greatest(area_sums.mean_square - area_sums.mean_rate * area_sums.mean_rate, 0))
            AS sd_rate,
        area_sums.weighted_mean_rate,
        sqrt(greatest(
            area_sums.weighted_mean_square
                - area_sums.weighted_mean_rate * area_sums.weighted_mean_rate,
            0
        )) AS weighted_sd_rate
    FROM indicators
    LEFT JOIN area_sums ON area_sums.indicator_id = indicators.indicator_id
    LEFT JOIN national_only ON national_only.indicator_id = indicators.indicator_id
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
    municipality_sums.indicator_id,
    municipality_keys.county_code,
    sum(municipality_sums.numerator_total) AS numerator_total,
    sum(municipality_sums.denominator_total) AS denominator_total
FROM municipality_sums
INNER JOIN municipality_keys ON municipality_keys.municipality_id = municipality_sums.municipality_id
GROUP BY municipality_sums.indicator_id, municipality_keys.county_code;
