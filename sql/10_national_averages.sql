-- national_averages: each criterion's national average, computed from the counts of every area
-- whose numerator and denominator are both known (sum of numerators / sum of denominators),
-- beside the published average. One pass over areas; reads areas and criteria.
CREATE OR REPLACE TABLE national_averages AS
WITH sums AS (
    SELECT
        sum(employed) FILTER (WHERE is_known(employed, population_20_64)) AS employment_rate_n,
        sum(population_20_64) FILTER (WHERE is_known(employed, population_20_64))
            AS employment_rate_d,
        count(*) FILTER (WHERE is_known(employed, population_20_64)) AS employment_rate_k,
        sum(long_term_unemployed) FILTER (WHERE is_known(long_term_unemployed, population_16_64))
            AS long_term_unemployment_rate_n,
        sum(population_16_64) FILTER (WHERE is_known(long_term_unemployed, population_16_64))
            AS long_term_unemployment_rate_d,
        count(*) FILTER (WHERE is_known(long_term_unemployed, population_16_64))
            AS long_term_unemployment_rate_k,
        sum(low_educated) FILTER (WHERE is_known(low_educated, population_25_64))
            AS low_education_rate_n,
        sum(population_25_64) FILTER (WHERE is_known(low_educated, population_25_64))
            AS low_education_rate_d,
        count(*) FILTER (WHERE is_known(low_educated, population_25_64)) AS low_education_rate_k,
        sum(voters) FILTER (WHERE is_known(voters, eligible_voters)) AS voter_turnout_n,
        sum(eligible_voters) FILTER (WHERE is_known(voters, eligible_voters)) AS voter_turnout_d,
        count(*) FILTER (WHERE is_known(voters, eligible_voters)) AS voter_turnout_k,
        count(*) AS areas
    FROM areas
),
totals AS (
    FROM sums
    UNPIVOT INCLUDE NULLS (
        (numerator_total, denominator_total, areas_known) FOR indicator IN (
            (employment_rate_n, employment_rate_d, employment_rate_k) AS employment_rate,
            (long_term_unemployment_rate_n, long_term_unemployment_rate_d,
                long_term_unemployment_rate_k) AS long_term_unemployment_rate,
            (low_education_rate_n, low_education_rate_d, low_education_rate_k)
                AS low_education_rate,
            (voter_turnout_n, voter_turnout_d, voter_turnout_k) AS voter_turnout
        )
    )
)
SELECT
    criteria.position,
    criteria.indicator,
    criteria.direction,
    criteria.threshold,
    criteria.published_national_average,
    CAST(coalesce(totals.numerator_total, 0) AS BIGINT) AS numerator_total,
    CAST(coalesce(totals.denominator_total, 0) AS BIGINT) AS denominator_total,
    100.0 * totals.numerator_total / nullif(totals.denominator_total, 0) AS national_average,
    100.0 * totals.numerator_total / nullif(totals.denominator_total, 0)
        - criteria.published_national_average AS difference_from_published_pp,
    totals.areas_known,
    totals.areas - totals.areas_known AS areas_suppressed
FROM criteria
INNER JOIN totals ON totals.indicator = criteria.indicator
ORDER BY criteria.position;
