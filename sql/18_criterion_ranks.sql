-- criterion_ranks: for criteria with a rank threshold only, every screened area with known
-- counts in order, worst first (by rate; equal rates by area code, which area_id follows; see
-- 00_areas), and whether it is taken:
--   rank_share_of_areas p/q per cent:    position * 100 q <= p * areas ranked
--   rank_population_share p/q per cent:  residents up to and including the area * 100 q
--                                        <= p * residents of the areas ranked
-- (an area that would take the total beyond the cap is not taken, nor any after it).
-- Parameter: $minimum_population. Reads criteria and area_indicators.
CREATE OR REPLACE TABLE criterion_ranks AS
WITH ranked AS (
    SELECT
        area_indicators.area_id,
        criteria.criterion_id,
        criteria.kind,
        criteria.value_num,
        criteria.value_den,
        row_number() OVER worst_first AS position,
        sum(area_indicators.population) OVER worst_first AS population_so_far,
        count(*) OVER (PARTITION BY criteria.criterion_id) AS areas_ranked,
        sum(area_indicators.population) OVER (PARTITION BY criteria.criterion_id)
            AS population_ranked
    FROM criteria
    INNER JOIN area_indicators ON area_indicators.indicator_id = criteria.indicator_id
    WHERE criteria.kind LIKE 'rank_%'
        AND area_indicators.known
        AND area_indicators.population >= $minimum_population
    WINDOW worst_first AS (
        PARTITION BY criteria.criterion_id
        ORDER BY CASE WHEN criteria.direction = 'above' THEN -1 ELSE 1 END
            * area_indicators.rate, area_indicators.area_id
        ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
    )
)
SELECT
    area_id,
    criterion_id,
    position AS rank_position,
    CASE
        WHEN kind = 'rank_share_of_areas'
            THEN position * 100 * CAST(value_den AS HUGEINT) <= value_num * areas_ranked
        ELSE population_so_far * 100 * CAST(value_den AS HUGEINT) <= value_num * population_ranked
    END AS taken
FROM ranked;
