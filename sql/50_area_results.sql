-- area_results: the published per-area table: selection beside each criterion's rate (`_pct`, per cent),
-- deviation from the national average (percentage points) and whether it is crossed.
CREATE OR REPLACE TABLE area_results AS
WITH wide AS (
    PIVOT area_criteria
    ON indicator
    USING
        first(rate) AS pct,
        first(deviation_pp) AS deviation_pp,
        first(crossed) AS crossed
    GROUP BY area_code
)
SELECT
    area_selection.area_code,
    area_selection.area_name,
    area_selection.municipality_code,
    area_selection.year,
    area_selection.population,
    area_selection.criteria_evaluated,
    area_selection.criteria_crossed,
    area_selection.criteria_suppressed,
    area_selection.crossed_criteria,
    area_selection.selected,
    area_selection.selection_status,
    COLUMNS(wide.* EXCLUDE (area_code))
FROM area_selection
INNER JOIN wide ON wide.area_code = area_selection.area_code
ORDER BY area_selection.area_code;
