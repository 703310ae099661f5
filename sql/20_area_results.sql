-- area_results: one row per area: each criterion's rate (per cent), deviation from the computed
-- national average (percentage points) and whether it crosses the threshold; how many criteria
-- it crosses; whether it is selected, and why not.
-- Parameters: $minimum_population (areas with fewer residents are not screened) and
-- $criteria_required (how many criteria an area must cross; the number of criteria for "all").
-- An unknown (suppressed) criterion counts as not crossed; when it alone could have made the
-- difference, the area is 'undetermined_suppressed' rather than 'too_few_criteria_crossed'.
-- Columns of a criterion the ruleset does not use hold its rate, and NULL for the rest.
CREATE OR REPLACE TABLE area_results AS
WITH rules AS (
    SELECT
        any_value(direction) FILTER (WHERE indicator = 'employment_rate') AS employment_dir,
        any_value(threshold) FILTER (WHERE indicator = 'employment_rate') AS employment_thr,
        any_value(national_average) FILTER (WHERE indicator = 'employment_rate')
            AS employment_avg,
        any_value(direction) FILTER (WHERE indicator = 'long_term_unemployment_rate')
            AS unemployment_dir,
        any_value(threshold) FILTER (WHERE indicator = 'long_term_unemployment_rate')
            AS unemployment_thr,
        any_value(national_average) FILTER (WHERE indicator = 'long_term_unemployment_rate')
            AS unemployment_avg,
        any_value(direction) FILTER (WHERE indicator = 'low_education_rate') AS education_dir,
        any_value(threshold) FILTER (WHERE indicator = 'low_education_rate') AS education_thr,
        any_value(national_average) FILTER (WHERE indicator = 'low_education_rate')
            AS education_avg,
        any_value(direction) FILTER (WHERE indicator = 'voter_turnout') AS turnout_dir,
        any_value(threshold) FILTER (WHERE indicator = 'voter_turnout') AS turnout_thr,
        any_value(national_average) FILTER (WHERE indicator = 'voter_turnout') AS turnout_avg,
        count(*) AS criteria_used
    FROM national_averages
),
rated AS (
    SELECT
        areas.area_code,
        areas.area_name,
        areas.municipality_code,
        areas.year,
        areas.population,
        rules.criteria_used,
        rate_pct(areas.employed, areas.population_20_64) AS employment_rate_pct,
        employment_rate_pct - rules.employment_avg AS employment_rate_deviation_pp,
        crosses(areas.employed, areas.population_20_64, rules.employment_dir, rules.employment_thr)
            AS employment_rate_crossed,
        rate_pct(areas.long_term_unemployed, areas.population_16_64)
            AS long_term_unemployment_rate_pct,
        long_term_unemployment_rate_pct - rules.unemployment_avg
            AS long_term_unemployment_rate_deviation_pp,
        crosses(
            areas.long_term_unemployed, areas.population_16_64,
            rules.unemployment_dir, rules.unemployment_thr
        ) AS long_term_unemployment_rate_crossed,
        rate_pct(areas.low_educated, areas.population_25_64) AS low_education_rate_pct,
        low_education_rate_pct - rules.education_avg AS low_education_rate_deviation_pp,
        crosses(areas.low_educated, areas.population_25_64, rules.education_dir, rules.education_thr)
            AS low_education_rate_crossed,
        rate_pct(areas.voters, areas.eligible_voters) AS voter_turnout_pct,
        voter_turnout_pct - rules.turnout_avg AS voter_turnout_deviation_pp,
        crosses(areas.voters, areas.eligible_voters, rules.turnout_dir, rules.turnout_thr)
            AS voter_turnout_crossed
    FROM areas
    CROSS JOIN rules
),
counted AS (
    SELECT
        *,
        (employment_rate_crossed IS NOT NULL)::INTEGER
            + (long_term_unemployment_rate_crossed IS NOT NULL)::INTEGER
            + (low_education_rate_crossed IS NOT NULL)::INTEGER
            + (voter_turnout_crossed IS NOT NULL)::INTEGER AS criteria_evaluated,
        coalesce(employment_rate_crossed, FALSE)::INTEGER
            + coalesce(long_term_unemployment_rate_crossed, FALSE)::INTEGER
            + coalesce(low_education_rate_crossed, FALSE)::INTEGER
            + coalesce(voter_turnout_crossed, FALSE)::INTEGER AS criteria_crossed,
        concat_ws(
            ', ',
            CASE WHEN employment_rate_crossed THEN 'employment_rate' END,
            CASE WHEN long_term_unemployment_rate_crossed THEN 'long_term_unemployment_rate' END,
            CASE WHEN low_education_rate_crossed THEN 'low_education_rate' END,
            CASE WHEN voter_turnout_crossed THEN 'voter_turnout' END
        ) AS crossed_criteria
    FROM rated
),
classified AS (
    SELECT
        *,
        criteria_used - criteria_evaluated AS criteria_suppressed,
        CASE
            WHEN population < $minimum_population THEN 'below_minimum_population'
            WHEN criteria_crossed >= $criteria_required THEN 'selected'
            WHEN criteria_crossed + criteria_used - criteria_evaluated >= $criteria_required
                THEN 'undetermined_suppressed'
            ELSE 'too_few_criteria_crossed'
        END AS selection_status
    FROM counted
)
SELECT
    area_code,
    area_name,
    municipality_code,
    year,
    population,
    criteria_evaluated,
    criteria_crossed,
    criteria_suppressed,
    crossed_criteria,
    selection_status = 'selected' AS selected,
    selection_status,
    employment_rate_pct,
    employment_rate_deviation_pp,
    employment_rate_crossed,
    long_term_unemployment_rate_pct,
    long_term_unemployment_rate_deviation_pp,
    long_term_unemployment_rate_crossed,
    low_education_rate_pct,
    low_education_rate_deviation_pp,
    low_education_rate_crossed,
    voter_turnout_pct,
    voter_turnout_deviation_pp,
    voter_turnout_crossed
FROM classified
ORDER BY area_code;
