-- area_index: the composite index of every area, when the ruleset defines one (otherwise
-- index_components is empty and so is this table).
-- Each component indicator is standardised over the screened areas (z = (rate - mean) / sd,
-- oriented so that higher is worse) and the index is the weighted sum of the z values. The index
-- is then expressed in standard deviations from its own mean over the screened areas
-- (index_score), and cut into ordered classes at $class_cuts (class 1 below the first cut, the
-- last class beyond the last cut). With $index_weighted the means and standard deviations are
-- weighted by the areas' population. An area with any component unknown has no index.
-- Parameters: $minimum_population, $index_weighted, $class_cuts (DOUBLE list, increasing).
-- Reads index_components (indicator_id, weight, worse = 1 when higher rates are worse, else -1),
-- area_indicators, areas and national_averages.
CREATE OR REPLACE TABLE area_index AS
WITH standardised AS (
    SELECT
        area_indicators.area_id,
        index_components.weight,
        index_components.worse * (
            area_indicators.rate - CASE WHEN $index_weighted
                THEN national_averages.weighted_mean_rate ELSE national_averages.mean_rate END
        ) / nullif(CASE WHEN $index_weighted
            THEN national_averages.weighted_sd_rate ELSE national_averages.sd_rate END, 0) AS z
    FROM index_components
    INNER JOIN area_indicators ON area_indicators.indicator_id = index_components.indicator_id
    INNER JOIN national_averages ON national_averages.indicator_id = index_components.indicator_id
),
summed AS (
    SELECT
        standardised.area_id,
        CASE WHEN count(standardised.z) = count(*) THEN sum(standardised.weight * standardised.z)
            END AS index_value
    FROM standardised
    GROUP BY standardised.area_id
),
screened AS (
    SELECT
        summed.index_value,
        CASE WHEN $index_weighted THEN areas.population ELSE 1 END AS weight
    FROM summed
    INNER JOIN areas ON areas.area_id = summed.area_id
    WHERE areas.population >= $minimum_population AND summed.index_value IS NOT NULL
),
mean_of_index AS (
    SELECT sum(weight * index_value) / nullif(sum(weight), 0) AS mean, sum(weight) AS total
    FROM screened
),
moments AS (
    SELECT
        mean_of_index.mean,
        sqrt(sum(screened.weight * power(screened.index_value - mean_of_index.mean, 2))
            / nullif(any_value(mean_of_index.total), 0)) AS sd
    FROM screened
    CROSS JOIN mean_of_index
    GROUP BY mean_of_index.mean
),
scored AS (
    SELECT
        summed.area_id,
        summed.index_value,
        (summed.index_value - moments.mean) / nullif(moments.sd, 0) AS index_score
    FROM summed
    CROSS JOIN moments
)
SELECT
    area_id,
    index_value,
    index_score,
    CASE WHEN index_score IS NOT NULL
        THEN 1 + len(list_filter($class_cuts, lambda cut: index_score > cut)) END AS index_class
FROM scored;
