-- The bounce instances a catalogue write waits for: see migrations/mysql for the why.
CREATE TABLE bouncer_instances (
  url TEXT NOT NULL PRIMARY KEY,
  applied BIGINT NOT NULL DEFAULT 0,
  registered_at TIMESTAMP NOT NULL,
  expires_at TIMESTAMP NOT NULL
);
