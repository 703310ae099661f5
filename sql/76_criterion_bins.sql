-- criterion_bins: each criterion's histogram: how many of its rows with known counts (crossed and
-- rate known) fall in each bin, crossing and not. The value binned is the rate, or the margin in
-- percentage points for a criterion whose thresholds vary; the edges are chosen by
-- areascreen.area_facts from criterion_ranges (75_area_facts).
-- Bins are numbered from 1. As in numpy.histogram, a bin holds the values from its lower edge up
-- to, but not including, its upper edge; the last bin holds its upper edge too.
-- Parameters: $edges (one list per criterion, in criterion_id order: the edges, increasing and
-- evenly spaced; empty for a criterion without known rows) and $by_margin (one flag per
-- criterion, in the same order: whether its margin is binned rather than its rate).
-- Reads area_criteria.
CREATE OR REPLACE TABLE criterion_bins AS
WITH known_values AS (
    SELECT
        criterion_id,
        crossed,
        CASE WHEN $by_margin[criterion_id] THEN margin_pp ELSE rate END AS value,
        $edges[criterion_id][1] AS lowest_edge,
        $edges[criterion_id][-1] AS highest_edge,
        $edges[criterion_id][2] - $edges[criterion_id][1] AS width,
        len($edges[criterion_id]) - 1 AS bins
    FROM area_criteria
    WHERE crossed IS NOT NULL AND rate IS NOT NULL
),
-- The bin by arithmetic, which rounding may put one bin off for a value next to an edge.
estimated AS (
    SELECT
        *,
        least(greatest(CAST(floor((value - lowest_edge) / width) AS BIGINT) + 1, 1), bins)
            AS estimate
    FROM known_values
    WHERE value BETWEEN lowest_edge AND highest_edge
),
-- The estimate checked against the edges themselves: bin n runs from edge n to edge n + 1.
placed AS (
    SELECT
        criterion_id,
        crossed,
        CASE
            WHEN value < $edges[criterion_id][estimate] THEN estimate - 1
            WHEN estimate < bins AND value >= $edges[criterion_id][estimate + 1]
                THEN estimate + 1
            ELSE estimate
        END AS bin
    FROM estimated
)
SELECT
    criterion_id,
    bin,
    crossed,
    count(*) AS areas
FROM placed
GROUP BY criterion_id, bin, crossed;
