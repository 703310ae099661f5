-- municipality_changes: how the list changed since a previous publication: every municipality
-- eligible before or now, whether it entered, left or stayed, and the areas that made the
-- difference. Reads municipality_results and area_results beside previous_municipality_results
-- and previous_area_results (the previous publication's files). Area codes found on one side
-- only are reported as such, never dropped.
CREATE OR REPLACE TABLE municipality_changes AS
WITH municipalities_joined AS (
    SELECT
        coalesce(now.municipality_code, before.municipality_code) AS municipality_code,
        coalesce(now.municipality_name, before.municipality_name) AS municipality_name,
        coalesce(before.eligible, FALSE) AS eligible_before,
        coalesce(now.eligible, FALSE) AS eligible_now,
        coalesce(before.selected_areas, 0) AS selected_areas_before,
        coalesce(now.selected_areas, 0) AS selected_areas_now
    FROM municipality_results AS now
    FULL OUTER JOIN previous_municipality_results AS before
        ON before.municipality_code = now.municipality_code
),
areas_changed AS (
    SELECT
        coalesce(now.municipality_code, before.municipality_code) AS municipality_code,
        coalesce(now.area_code, before.area_code) AS area_code,
        CASE
            WHEN now.area_code IS NULL
                THEN 'was selected; area code not in the new data'
            WHEN before.area_code IS NULL
                THEN 'new area code, selected (crosses ' || now.crossed_criteria || ')'
            WHEN now.selected
                THEN 'newly selected (crosses ' || now.crossed_criteria || ')'
            ELSE 'no longer selected: ' || now.selection_status
                || ' (crosses ' || CASE WHEN now.crossed_criteria = '' THEN 'none'
                    ELSE now.crossed_criteria END || ')'
        END AS explanation
    FROM area_results AS now
    FULL OUTER JOIN previous_area_results AS before ON before.area_code = now.area_code
    WHERE coalesce(before.selected, FALSE) <> coalesce(now.selected, FALSE)
)
SELECT
    municipalities_joined.municipality_code,
    municipalities_joined.municipality_name,
    CASE
        WHEN municipalities_joined.eligible_now AND NOT municipalities_joined.eligible_before
            THEN 'entered'
        WHEN municipalities_joined.eligible_before AND NOT municipalities_joined.eligible_now
            THEN 'left'
        ELSE 'stayed'
    END AS change,
    municipalities_joined.selected_areas_before,
    municipalities_joined.selected_areas_now,
    coalesce(
        string_agg(
            areas_changed.area_code || ': ' || areas_changed.explanation, '; '
            ORDER BY areas_changed.area_code
        ),
        ''
    ) AS area_changes
FROM municipalities_joined
LEFT JOIN areas_changed ON areas_changed.municipality_code = municipalities_joined.municipality_code
WHERE municipalities_joined.eligible_before OR municipalities_joined.eligible_now
GROUP BY ALL
ORDER BY municipalities_joined.municipality_code;
