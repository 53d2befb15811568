//! The example configurations shipped in deploy/ are valid configurations.

use bouncer_core::config::Config;
use std::path::Path;

#[test]
fn production_example_config_is_valid() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/config/production.example.toml");
    let config =
        Config::load(Some(&path)).expect("deploy/config/production.example.toml must load");
    assert_eq!(config.database.replicas.len(), 2);
    assert_eq!(config.memcached.servers.len(), 2);
}
