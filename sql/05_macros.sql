-- Macros the steps share: whether a criterion's counts are known, its rate, and whether it
-- crosses its threshold.
-- A count is unknown when it is suppressed (NULL) or its denominator is 0.
-- A threshold is crossed only strictly beyond it: a rate exactly at the threshold does not cross.
-- The comparison is exact, on counts: numerator * 100 against threshold * denominator with the
-- threshold as a DECIMAL, so no rounding of the rate can move an area across.
-- A criterion the ruleset does not use has no direction, and crosses nothing (NULL).
CREATE OR REPLACE MACRO is_known(numerator, denominator) AS
    numerator IS NOT NULL AND denominator IS NOT NULL AND denominator > 0;

CREATE OR REPLACE MACRO rate_pct(numerator, denominator) AS
    CASE WHEN is_known(numerator, denominator) THEN 100.0 * numerator / denominator END;

CREATE OR REPLACE MACRO crosses(numerator, denominator, direction, threshold) AS
    CASE
        WHEN direction IS NULL OR NOT is_known(numerator, denominator) THEN NULL
        WHEN direction = 'below'
            THEN numerator * 100 < CAST(threshold AS DECIMAL(9, 4)) * denominator
        ELSE numerator * 100 > CAST(threshold AS DECIMAL(9, 4)) * denominator
    END;

CREATE OR REPLACE MACRO margin_pp(rate, direction, threshold) AS
    CASE WHEN direction = 'below' THEN threshold - rate ELSE rate - threshold END;
