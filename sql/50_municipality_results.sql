-- municipality_results: one row per municipality with areas in the input: its selected areas,
-- the residents in them and their share of its residents, how many selected areas cross each
-- criterion, the spread of the composite index among its areas, and whether it is eligible.
-- Every condition the ruleset gives must hold:
--   $minimum_selected_areas and $minimum_population_in_selected_areas (always);
--   $share_num / $share_den: the share of residents in selected areas is at least this many
--     per cent, compared exactly on counts (NULL when not used);
--   $share_sd: that share is at least this many standard deviations above its mean over the
--     municipalities (NULL when not used);
--   $spread_sd: the population-weighted standard deviation of the index among the municipality's
--     screened areas is at least this many standard deviations above its mean over the
--     municipalities (NULL when not used).
-- Parameters: those above and $minimum_population. Reads area_selection, area_index,
-- criteria, municipality_keys and municipalities (the reference list).
CREATE OR REPLACE TABLE municipality_results AS
WITH totals AS (
    SELECT
        municipality_id,
        count(*) AS areas,
        CAST(sum(population) AS BIGINT) AS population,
        count(*) FILTER (WHERE selected) AS selected_areas,
        CAST(coalesce(sum(population) FILTER (WHERE selected), 0) AS BIGINT)
            AS population_in_selected_areas,
        count(*) FILTER (WHERE borderline AND selected) AS borderline_selected_areas
    FROM area_selection
    GROUP BY municipality_id
),
criteria_counts AS (
    SELECT
        per_criterion.municipality_id,
        string_agg(criteria.criterion || ': ' || per_criterion.count_selected, ', '
            ORDER BY criteria.criterion_id) AS criteria_in_selected_areas
    FROM (
        SELECT
            area_selection.municipality_id,
            criteria.criterion_id,
            count(*) AS count_selected
        FROM area_selection
        INNER JOIN criteria
            ON (area_selection.crossed_mask >> (criteria.criterion_id - 1)) & 1 = 1
        WHERE area_selection.selected
        GROUP BY ALL
    ) AS per_criterion
    INNER JOIN criteria ON criteria.criterion_id = per_criterion.criterion_id
    GROUP BY per_criterion.municipality_id
),
indexed AS (
    SELECT
        area_selection.municipality_id,
        area_selection.population,
        area_index.index_value
    FROM area_index
    INNER JOIN area_selection ON area_selection.area_id = area_index.area_id
    WHERE area_index.index_value IS NOT NULL
        AND area_selection.population >= $minimum_population
),
index_moments AS (
    SELECT
        municipality_id,
        sum(population * index_value) / nullif(sum(population), 0) AS mean_index,
        sum(population) AS weight
    FROM indexed
    GROUP BY municipality_id
),
index_spread AS (
    SELECT
        indexed.municipality_id,
        sqrt(sum(indexed.population
            * power(indexed.index_value - index_moments.mean_index, 2))
            / nullif(any_value(index_moments.weight), 0)) AS index_spread
    FROM indexed
    INNER JOIN index_moments ON index_moments.municipality_id = indexed.municipality_id
    GROUP BY indexed.municipality_id
),
measured AS (
    SELECT
        municipality_keys.municipality_code,
        totals.* EXCLUDE (municipality_id),
        100.0 * totals.population_in_selected_areas / nullif(totals.population, 0)
            AS share_of_population_in_selected_areas,
        coalesce(criteria_counts.criteria_in_selected_areas, '') AS criteria_in_selected_areas,
        index_spread.index_spread
    FROM totals
    INNER JOIN municipality_keys ON municipality_keys.municipality_id = totals.municipality_id
    LEFT JOIN criteria_counts ON criteria_counts.municipality_id = totals.municipality_id
    LEFT JOIN index_spread ON index_spread.municipality_id = totals.municipality_id
),
relative AS (
    SELECT
        avg(share_of_population_in_selected_areas)
            + $share_sd * stddev_pop(share_of_population_in_selected_areas)
            AS share_threshold_pct,
        avg(index_spread) + $spread_sd * stddev_pop(index_spread) AS index_spread_threshold
    FROM measured
)
SELECT
    measured.municipality_code,
    municipalities.municipality_name,
    municipalities.county_code,
    municipalities.county_name,
    measured.areas,
    measured.population,
    measured.selected_areas,
    measured.population_in_selected_areas,
    measured.share_of_population_in_selected_areas,
    measured.borderline_selected_areas,
    measured.criteria_in_selected_areas,
    measured.index_spread,
    coalesce(100.0 * $share_num / $share_den, relative.share_threshold_pct) AS share_threshold_pct,
    relative.index_spread_threshold,
    measured.selected_areas >= $minimum_selected_areas
        AND measured.population_in_selected_areas >= $minimum_population_in_selected_areas
        AND ($share_num IS NULL
            OR 100 * $share_den * measured.population_in_selected_areas
                >= $share_num * measured.population)
        AND ($share_sd IS NULL
            OR coalesce(measured.share_of_population_in_selected_areas
                >= relative.share_threshold_pct, FALSE))
        AND ($spread_sd IS NULL
            OR coalesce(measured.index_spread >= relative.index_spread_threshold, FALSE))
        AS eligible
FROM measured
CROSS JOIN relative
LEFT JOIN municipalities ON municipalities.municipality_code = measured.municipality_code;
