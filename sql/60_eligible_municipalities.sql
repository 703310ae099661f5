-- eligible_municipalities: the list to publish, in municipality code order.
CREATE OR REPLACE TABLE eligible_municipalities AS
SELECT
    municipality_code,
    municipality_name,
    county_code,
    county_name,
    selected_areas,
    population_in_selected_areas,
    population,
    share_of_population_in_selected_areas,
    criteria_in_selected_areas
FROM municipality_results
WHERE eligible
ORDER BY municipality_code;
