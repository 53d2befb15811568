-- Why a learned size is not enforced: most mirrors checked contradicted it (a reference
-- origin that serves a wrong file, or a stale one). sentry sets it at the end of the run
-- that saw the contradiction (audit `file.disputed`); from then on the other mirrors are
-- not held to that size. Cleared when the reference says something else (the row is
-- learned anew) or the row is forgotten. Never set on an operator's row: what the
-- operator states is enforced whatever the mirrors say.
ALTER TABLE bouncer_files ADD COLUMN disputed VARCHAR(255) NULL;
