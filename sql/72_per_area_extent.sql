-- per_area_extent: how far the per-area tables reach, for writing them in slices of areas
-- (70_publication): the lowest and highest area id, the number of areas (rows of
-- area_results) and the number of rows of area_criteria (one per area and criterion that
-- applies to it). Counting area_criteria joins its keys only; no criterion is evaluated.
CREATE OR REPLACE TABLE per_area_extent AS
SELECT
    (SELECT min(area_id) FROM area_keys) AS first_area,
    (SELECT max(area_id) FROM area_keys) AS last_area,
    (SELECT count(*) FROM area_keys) AS areas,
    (SELECT count(*) FROM area_criteria) AS criterion_rows;
