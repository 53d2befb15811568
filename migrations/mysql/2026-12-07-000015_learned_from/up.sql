-- Which source taught sentry a learned file row (`source = 'reference'`): the id of the
-- reference mirror, 0 for the pinned https CDN. Learned metadata belongs to its source:
-- when the mirror stops being a reference (unflagged, disabled, deleted), the next run
-- forgets what it taught (audit `file.forget`, a change for bounce) instead of holding
-- every other mirror to it. NULL: an operator's row, or a row learned before this column,
-- whose source is unknown — sentry forgets it too, unless a current reference says the
-- same, which then adopts it. No foreign key: a deleted mirror's rows must outlive it
-- until sentry forgets them through the write path (change record, audit).
ALTER TABLE bouncer_files ADD COLUMN learned_from INT NULL;
