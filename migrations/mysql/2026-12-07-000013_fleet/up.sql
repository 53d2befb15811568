-- The bounce instances a catalogue write waits for: each registers with tuxedo under a
-- lease and renews it; a write is acknowledged once every instance whose lease has not
-- expired serves it (or tuxedo.visibility_timeout_ms ran out). A crashed or cut-off
-- instance stops counting when its lease expires. `applied` is the generation the instance
-- served at its last renewal: a master below it has gone back in history (a restore, a
-- promoted replica that missed writes), see crates/core/src/history.rs.
CREATE TABLE bouncer_instances (
  url VARCHAR(255) NOT NULL PRIMARY KEY,
  applied BIGINT NOT NULL DEFAULT 0,
  registered_at DATETIME NOT NULL,
  expires_at DATETIME NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
