#![allow(clippy::result_large_err)] // figment::Jail closures return figment::Error by design.

use super::*;
use figment::Jail;

fn load_in(jail: &Jail) -> Result<Config> {
    let _ = jail;
    Config::load(None)
}

#[test]
fn zero_config_is_sqlite_without_memcached() {
    Jail::expect_with(|jail| {
        let c = load_in(jail).map_err(|e| e.to_string())?;
        assert_eq!(c.database.url, "sqlite://bouncer.db");
        assert!(c.memcached.servers.is_empty());
        assert_eq!(c.bounce.cache_time_secs, 60);
        assert_eq!(c.bounce.home_url, "https://www.mozilla.org/");
        assert_ne!(c.bounce.listen, c.tuxedo.listen);
        Ok(())
    });
}

#[test]
fn file_then_env_layering() {
    Jail::expect_with(|jail| {
        jail.create_file(
            "bouncer.toml",
            r#"
            [database]
            url = "mysql://bouncer:s3cret@db1/bouncer"
            replicas = ["mysql://ro@db2/bouncer"]
            [bounce]
            cache_time_secs = 5
            listen = "0.0.0.0:9000"
            "#,
        )?;
        jail.set_env("BOUNCER_BOUNCE__CACHE_TIME_SECS", "0");
        // Variables of the same prefix that are not SECTION__KEY are not configuration.
        jail.set_env("BOUNCER_LOG_FORMAT", "pretty");
        jail.set_env("BOUNCER_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306");
        jail.set_env(
            "BOUNCER_MEMCACHED__SERVERS",
            "[\"mc1:11211\",\"mc2:11211\"]",
        );
        let c = load_in(jail).map_err(|e| e.to_string())?;
        assert_eq!(c.bounce.cache_time_secs, 0, "env overrides the file");
        assert_eq!(c.bounce.listen.port(), 9000, "file overrides defaults");
        assert_eq!(c.memcached.servers, vec!["mc1:11211", "mc2:11211"]);
        assert_eq!(c.database.replicas.len(), 1);
        let shown = c.redacted();
        assert!(!shown.contains("s3cret"), "password leaked: {shown}");
        assert!(shown.contains("***"));
        Ok(())
    });
}

#[test]
fn errors_name_the_key() {
    let cases: &[(&str, &str, &str)] = &[
        ("BOUNCER_BOUNCE__LISTEN", "not-an-address", "bounce.listen"),
        ("BOUNCER_DATABASE__URL", "postgres://x/y", "database.url"),
        (
            "BOUNCER_BOUNCE__HOME_URL",
            "ftp://example.com/",
            "bounce.home_url",
        ),
        (
            "BOUNCER_MEMCACHED__SERVERS",
            "[\"nohostport\"]",
            "memcached.servers[0]",
        ),
        (
            "BOUNCER_NETWORK__TRUSTED_PROXIES",
            "[\"10.0.0.0/33\"]",
            "network.trusted_proxies",
        ),
        ("BOUNCER_SENTRY__CONCURRENCY", "0", "sentry.concurrency"),
        (
            "BOUNCER_BOUNCE__STATS_STOP_SECS",
            "0",
            "bounce.stats_stop_secs",
        ),
        (
            "BOUNCER_BOUNCE__PINNED_HTTP",
            "cdn.example.com",
            "bounce.pinned_https",
        ),
        ("BOUNCER_BOUNCE__NO_SUCH_KEY", "1", "no_such_key"),
    ];
    for (var, value, key) in cases {
        Jail::expect_with(|jail| {
            jail.set_env(var, value);
            let err = load_in(jail).expect_err(var).to_string();
            assert!(
                err.contains(key),
                "{var}={value}: {err:?} should name {key}"
            );
            Ok(())
        });
    }
}

#[test]
fn agents_and_agent_mode_are_read_and_checked() {
    let hash = "a".repeat(64);
    let ok = format!(
        "vantage = \"hq\"\nvantage_regions = [\"Europe\"]\n[sentry.agents.eu-1]\ntoken_sha256 = \"{hash}\"\nregions = [\"Europe\"]"
    );
    Jail::expect_with(|jail| {
        jail.create_file("bouncer.toml", &format!("[sentry]\n{ok}\n"))?;
        let c = load_in(jail).unwrap();
        assert_eq!(c.sentry.agents["eu-1"].regions, ["Europe"]);
        assert_eq!(c.sentry.vantage, "hq");
        jail.set_env("BOUNCER_SENTRY__AGENT_TOKEN", "a-secret-of-twenty-bytes");
        jail.set_env("BOUNCER_SENTRY__CONTROLLER", "http://controller:8002");
        let c = load_in(jail).unwrap();
        let token = c.sentry.agent_token.clone().unwrap();
        assert_eq!(token.expose(), "a-secret-of-twenty-bytes");
        assert!(
            !format!("{c:?}").contains("a-secret-of-twenty-bytes"),
            "masked"
        );
        Ok(())
    });
    for (toml, key) in [
        ("vantage = \"a b\"".to_owned(), "sentry.vantage"),
        (
            "vantage_lease_secs = 0".to_owned(),
            "sentry.vantage_lease_secs",
        ),
        (
            "[sentry.agents.eu-1]\ntoken_sha256 = \"abc\"".to_owned(),
            "sentry.agents.eu-1",
        ),
        (
            format!("[sentry.agents.controller]\ntoken_sha256 = \"{hash}\""),
            "sentry.agents.controller",
        ),
        (
            format!("[sentry.agents.eu-1]\ntoken_sha256 = \"{hash}\"\nregions = [\"\"]"),
            "sentry.agents",
        ),
        ("agent_token = \"short\"".to_owned(), "sentry.agent_token"),
        ("controller = \"ftp://x\"".to_owned(), "sentry.controller"),
    ] {
        Jail::expect_with(|jail| {
            jail.create_file("bouncer.toml", &format!("[sentry]\n{toml}\n"))?;
            let e = load_in(jail).unwrap_err().to_string();
            assert!(e.contains(key), "{toml}: {e}");
            Ok(())
        });
    }
}

#[test]
fn the_vantage_rule_is_read_and_checked() {
    use crate::vantage::Rule;
    for (toml, want) in [
        ("", Ok(Rule::Majority)),
        (
            "vantage_rule = { rule = \"threshold\", percent = 18 }",
            Ok(Rule::Threshold { percent: 18 }),
        ),
        (
            "vantage_rule = { rule = \"all_agree\", quorum = 2 }",
            Ok(Rule::AllAgree { quorum: 2 }),
        ),
        (
            "vantage_rule = { rule = \"threshold\", percent = 100 }",
            Err("percent"),
        ),
        (
            "vantage_rule = { rule = \"all_agree\", quorum = 0 }",
            Err("quorum"),
        ),
    ] {
        Jail::expect_with(|jail| {
            jail.create_file("bouncer.toml", &format!("[sentry]\n{toml}\n"))?;
            match (load_in(jail), want) {
                (Ok(c), Ok(rule)) => assert_eq!(c.sentry.vantage_rule, rule),
                (Err(e), Err(what)) => {
                    let e = e.to_string();
                    assert!(e.contains("sentry.vantage_rule") && e.contains(what), "{e}");
                }
                (got, want) => panic!("{toml}: {got:?}, wanted {want:?}"),
            }
            Ok(())
        });
    }
}

#[test]
fn missing_explicit_file_is_an_error() {
    let err = Config::load(Some(Path::new("/nonexistent/bouncer.toml"))).unwrap_err();
    assert!(err.to_string().contains("does not exist"));
}

#[test]
fn mask_url_only_touches_passwords() {
    assert_eq!(mask_url("mysql://u:p@h/db"), "mysql://u:***@h/db");
    assert_eq!(mask_url("mysql://u@h/db"), "mysql://u@h/db");
    assert_eq!(mask_url("sqlite://x.db"), "sqlite://x.db");
}

/// A file written for the per-worker key count still starts an instance: the key is
/// ignored (bounce warns), the byte budget applies.
#[test]
fn the_replaced_link_cache_key_is_accepted() {
    Jail::expect_with(|jail| {
        jail.create_file("bouncer.toml", "[bounce]\nlink_cache_entries = 20000\n")?;
        let c = load_in(jail).map_err(|e| e.to_string())?;
        assert_eq!(c.bounce.link_cache_entries, Some(20_000));
        assert_eq!(c.bounce.link_cache_mb, 128);
        Ok(())
    });
}
