-- areas, area_keys and area_indicators: the input, typed, as views over the registered Arrow
-- tables of the run, so the counts are read where they are and never copied into the database.
-- Also copies the rules and references the steps join into tables of their own: indicators
-- (from indicator_rows), criteria (criterion_rows), index_components (index_component_rows) and
-- municipalities (municipality_list).
-- An area's area_id is its place in area code order (flag.area_ids_in_code_order): ordering by
-- it orders by code.
-- Reads input_areas (one row per area: area_id, municipality_id, area_code, area_name,
-- municipality_code, year, population), indicator_counts (one row per area and indicator of the
-- ruleset: area_id, indicator_id, municipality_id, population, numerator, denominator (NULL =
-- suppressed), known), area_municipalities (municipality_id -> municipality_code) and
-- municipalities (the reference list, for each municipality's county). input_areas and
-- indicator_counts stay registered on the connection as long as it screens; a cursor does not
-- see them (build what another connection reads, such as a gate table, on this one).
-- An indicator's counts are known (indicator_counts.known, computed with the long form) when
-- neither is suppressed and the denominator is above 0; its rate is then
-- 100 * numerator / denominator.
CREATE OR REPLACE TABLE indicators AS SELECT * FROM indicator_rows;

CREATE OR REPLACE TABLE criteria AS SELECT * FROM criterion_rows;

CREATE OR REPLACE TABLE index_components AS SELECT * FROM index_component_rows;

CREATE OR REPLACE TABLE municipalities AS SELECT * FROM municipality_list;

CREATE OR REPLACE TABLE municipality_keys AS
SELECT
    CAST(area_municipalities.municipality_id AS SMALLINT) AS municipality_id,
    CAST(area_municipalities.municipality_code AS VARCHAR) AS municipality_code,
    municipalities.county_code
FROM area_municipalities
LEFT JOIN municipalities
    ON municipalities.municipality_code = area_municipalities.municipality_code;

CREATE OR REPLACE VIEW areas AS
SELECT
    CAST(input_areas.area_id AS INTEGER) AS area_id,
    CAST(input_areas.municipality_id AS SMALLINT) AS municipality_id,
    CAST(input_areas.area_code AS VARCHAR) AS area_code,
    CAST(input_areas.area_name AS VARCHAR) AS area_name,
    CAST(input_areas.municipality_code AS VARCHAR) AS municipality_code,
    municipality_keys.county_code,
    CAST(input_areas.year AS INTEGER) AS year,
    CAST(input_areas.population AS BIGINT) AS population
FROM input_areas
LEFT JOIN municipality_keys ON municipality_keys.municipality_id = input_areas.municipality_id;

-- area_keys: the three columns of areas that every area's result needs, without the join
-- that gives areas its county.
CREATE OR REPLACE VIEW area_keys AS
SELECT
    CAST(area_id AS INTEGER) AS area_id,
    CAST(municipality_id AS SMALLINT) AS municipality_id,
    CAST(population AS BIGINT) AS population
FROM input_areas;

CREATE OR REPLACE VIEW area_indicators AS
SELECT
    CAST(area_id AS INTEGER) AS area_id,
    CAST(indicator_id AS SMALLINT) AS indicator_id,
    CAST(municipality_id AS SMALLINT) AS municipality_id,
    CAST(population AS BIGINT) AS population,
    CAST(numerator AS BIGINT) AS numerator,
    CAST(denominator AS BIGINT) AS denominator,
    CAST(known AS BOOLEAN) AS known,
    CASE WHEN known THEN 100 * CAST(numerator AS DOUBLE) / denominator END AS rate
FROM indicator_counts;
