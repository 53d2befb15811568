DROP TABLE bouncer_alias_gate_samples;
DROP TABLE bouncer_alias_gates;
