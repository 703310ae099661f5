-- area_criteria: a view with one row per area and criterion of the ruleset: the counts, rate,
-- threshold, national average, deviation, margin beyond the threshold (positive = crossed) and
-- whether it is crossed. It explains area_results row by row and feeds the report and the
-- sensitivity analysis; it is computed when read, never stored.
CREATE OR REPLACE VIEW area_criteria AS
WITH long_counts AS (
    FROM areas
    UNPIVOT INCLUDE NULLS (
        (numerator, denominator) FOR indicator IN (
            (employed, population_20_64) AS employment_rate,
            (long_term_unemployed, population_16_64) AS long_term_unemployment_rate,
            (low_educated, population_25_64) AS low_education_rate,
            (voters, eligible_voters) AS voter_turnout
        )
    )
)
SELECT
    long_counts.area_code,
    long_counts.municipality_code,
    averages.position,
    long_counts.indicator,
    averages.direction,
    long_counts.numerator,
    long_counts.denominator,
    rate_pct(long_counts.numerator, long_counts.denominator) AS rate,
    averages.threshold,
    averages.national_average,
    rate - averages.national_average AS deviation_pp,
    margin_pp(rate, averages.direction, averages.threshold) AS margin_pp,
    crosses(long_counts.numerator, long_counts.denominator, averages.direction, averages.threshold)
        AS crossed
FROM long_counts
INNER JOIN national_averages AS averages ON averages.indicator = long_counts.indicator
ORDER BY long_counts.area_code, averages.position;
