-- Gated alias flips: see migrations/mysql for the why.
CREATE TABLE bouncer_alias_gates (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  alias TEXT NOT NULL COLLATE NOCASE UNIQUE,
  product TEXT NOT NULL,
  os TEXT NULL,
  uptake_percent INTEGER NOT NULL,
  deadline TIMESTAMP NULL,
  on_deadline TEXT NOT NULL,
  created_by TEXT NOT NULL,
  created_at TIMESTAMP NOT NULL
);

CREATE TABLE bouncer_alias_gate_samples (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  gate_id INTEGER NOT NULL REFERENCES bouncer_alias_gates (id) ON DELETE CASCADE,
  at TIMESTAMP NOT NULL,
  permyriad INTEGER NOT NULL
);
CREATE INDEX ix_gate_samples_gate ON bouncer_alias_gate_samples (gate_id, at);
