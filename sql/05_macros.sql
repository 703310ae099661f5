-- Macros the steps share: exact integer floor and ceiling of a fraction a / b (b > 0), which
-- DuckDB's // (it truncates towards zero) gives only for a >= 0.
CREATE OR REPLACE MACRO floor_div(a, b) AS (a - ((a % b) + b) % b) // b;

CREATE OR REPLACE MACRO ceil_div(a, b) AS -floor_div(-a, b);
