-- indicator_counts: one row per area and criterion of the ruleset, with the counts behind the rate.
-- Reads areas and criteria (the ruleset's criteria). Suppressed counts stay as NULL rows.
CREATE OR REPLACE TABLE indicator_counts AS
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
    long_counts.population,
    criteria.position,
    long_counts.indicator,
    long_counts.numerator,
    long_counts.denominator,
    long_counts.numerator IS NOT NULL
        AND long_counts.denominator IS NOT NULL
        AND long_counts.denominator > 0 AS is_known
FROM long_counts
INNER JOIN criteria ON criteria.indicator = long_counts.indicator;
