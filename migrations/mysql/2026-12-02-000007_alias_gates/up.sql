-- Gated alias flips: point an alias at a product once the product is really out there
-- (uptake of each of its locations at least `uptake_percent`), or at a deadline flip anyway
-- or give up. One pending gate per alias; whichever process sees it due first (tuxedo's
-- checker, sentry after a run) carries it out, exactly once: it deletes the row and flips
-- in one transaction. Samples are the uptake seen at each check, for the progress chart.
CREATE TABLE bouncer_alias_gates (
  id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  alias VARCHAR(255) NOT NULL,
  product VARCHAR(255) NOT NULL,
  os VARCHAR(32) NULL,
  uptake_percent INT NOT NULL,
  deadline DATETIME(6) NULL,
  on_deadline VARCHAR(8) NOT NULL,
  created_by VARCHAR(255) NOT NULL,
  created_at DATETIME(6) NOT NULL,
  UNIQUE KEY uq_alias_gates_alias (alias)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

CREATE TABLE bouncer_alias_gate_samples (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  gate_id INT NOT NULL,
  at DATETIME(6) NOT NULL,
  permyriad INT NOT NULL,
  KEY ix_gate_samples_gate (gate_id, at),
  CONSTRAINT fk_gate_samples_gate FOREIGN KEY (gate_id) REFERENCES bouncer_alias_gates (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
