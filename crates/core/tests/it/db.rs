//! The schema on every backend: migrations, round trips, case-insensitive names, cascades.
//! Each test runs on MariaDB and on SQLite, each in a fresh database.

use bouncer_core::db::{pending_migrations, run_migrations};
use bouncer_core::models::*;
use bouncer_core::schema::*;
use bouncer_test_support::{db_tests, TestDb};
use chrono::NaiveDateTime;
use diesel::prelude::*;

db_tests! {
    migrations_apply_once => migrations_apply_once,
    migrations_go_down_and_up_again => migrations_go_down_and_up_again,
    catalogue_round_trip => catalogue_round_trip,
    names_match_case_insensitively => names_match_case_insensitively,
    deleting_a_product_cascades => deleting_a_product_cascades,
    project_tables_round_trip => project_tables_round_trip,
}

fn migrations_apply_once(db: &TestDb) {
    let mut c = db.conn();
    assert!(pending_migrations(&mut c).unwrap().is_empty());
    assert!(
        run_migrations(&mut c).unwrap().is_empty(),
        "second run applies nothing"
    );
}

/// Every migration's `down.sql` undoes its `up.sql`: reverting all of them leaves no table
/// but diesel's own, and applying them again gives the same schema as the first time.
fn migrations_go_down_and_up_again(db: &TestDb) {
    use bouncer_core::db::revert_all_migrations;
    let mut c = db.conn();
    let first = schema_of(&mut c);
    assert!(first.len() > 20, "{first:?}");
    let reverted = revert_all_migrations(&mut c).unwrap();
    assert_eq!(reverted.len(), pending_migrations(&mut c).unwrap().len());
    assert_eq!(
        schema_of(&mut c),
        Vec::<String>::new(),
        "tables left after down"
    );
    run_migrations(&mut c).unwrap();
    assert_eq!(schema_of(&mut c), first);
}

/// The schema as text, one entry per table, index and trigger (without diesel's table).
fn schema_of(c: &mut bouncer_core::db::DbConnection) -> Vec<String> {
    use bouncer_core::db::{Backend, DbConnection};
    use diesel::sql_types::Text;
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        entry: String,
    }
    let rows = |c: &mut DbConnection, sql: &str| -> Vec<String> {
        diesel::sql_query(sql)
            .load::<Row>(c)
            .unwrap()
            .into_iter()
            .map(|r| r.entry)
            .collect()
    };
    match c.backend() {
        Backend::Sqlite => rows(
            c,
            "SELECT type || ' ' || name || ': ' || COALESCE(sql, '') AS entry FROM sqlite_master \
             WHERE name NOT LIKE 'sqlite_%' AND name != '__diesel_schema_migrations' \
             ORDER BY type, name",
        ),
        Backend::Mysql => {
            let tables = rows(
                c,
                "SELECT table_name AS entry FROM information_schema.tables \
                 WHERE table_schema = DATABASE() AND table_name != '__diesel_schema_migrations' \
                 ORDER BY table_name",
            );
            #[derive(QueryableByName)]
            struct Created {
                #[diesel(sql_type = Text, column_name = "Create Table")]
                create: String,
            }
            tables
                .iter()
                .map(|t| {
                    let created: Created = diesel::sql_query(format!("SHOW CREATE TABLE `{t}`"))
                        .get_result(c)
                        .unwrap();
                    // The next id is data, not schema.
                    let re = regex::Regex::new(r" AUTO_INCREMENT=\d+").unwrap();
                    re.replace(&created.create, "").into_owned()
                })
                .collect()
        }
    }
}

/// Inserts firefox-latest with two languages, two OSes, a location, a mirror and its map row.
fn seed(c: &mut bouncer_core::db::DbConnection) -> (i32, i32, i32) {
    diesel::insert_into(mirror_products::table)
        .values(NewProduct {
            name: "Firefox-Latest",
            active: true,
            checknow: true,
            ssl_only: false,
        })
        .execute(c)
        .unwrap();
    let product: Product = mirror_products::table
        .filter(mirror_products::name.eq("Firefox-Latest"))
        .first(c)
        .unwrap();
    for language in ["de", "en-US"] {
        diesel::insert_into(mirror_product_langs::table)
            .values(NewProductLang {
                product_id: product.id,
                language,
            })
            .execute(c)
            .unwrap();
    }
    for (name, priority) in [("win", 1), ("osx", 2)] {
        diesel::insert_into(mirror_os::table)
            .values(NewOs { name, priority })
            .execute(c)
            .unwrap();
    }
    let win: Os = mirror_os::table
        .filter(mirror_os::name.eq("win"))
        .first(c)
        .unwrap();
    diesel::insert_into(mirror_locations::table)
        .values(NewLocation {
            product_id: product.id,
            os_id: win.id,
            path: "/firefox/:lang/setup.exe",
        })
        .execute(c)
        .unwrap();
    let loc: Location = mirror_locations::table.first(c).unwrap();
    diesel::insert_into(mirror_mirrors::table)
        .values(NewMirror {
            name: "m1",
            baseurl: "https://m1.example/pub",
            rating: 100,
            active: true,
        })
        .execute(c)
        .unwrap();
    let mirror: Mirror = mirror_mirrors::table.first(c).unwrap();
    diesel::insert_into(mirror_location_mirror_map::table)
        .values(NewLocationMirror {
            location_id: loc.id,
            mirror_id: mirror.id,
            active: true,
            healthy: true,
        })
        .execute(c)
        .unwrap();
    (product.id, loc.id, mirror.id)
}

fn catalogue_round_trip(db: &TestDb) {
    let mut c = db.conn();
    let (product_id, location_id, mirror_id) = seed(&mut c);
    let p: Product = mirror_products::table
        .find(product_id)
        .first(&mut *c)
        .unwrap();
    assert_eq!(
        (p.name.as_str(), p.count, p.active, p.checknow, p.ssl_only),
        ("Firefox-Latest", 0, true, true, false)
    );
    let langs: Vec<String> = mirror_product_langs::table
        .filter(mirror_product_langs::product_id.eq(product_id))
        .select(mirror_product_langs::language)
        .order(mirror_product_langs::language.asc())
        .load(&mut *c)
        .unwrap();
    assert_eq!(langs, ["de", "en-US"]);
    let (path, os): (String, String) = mirror_locations::table
        .inner_join(mirror_os::table)
        .filter(mirror_locations::id.eq(location_id))
        .select((mirror_locations::path, mirror_os::name))
        .first(&mut *c)
        .unwrap();
    assert_eq!(
        (path.as_str(), os.as_str()),
        ("/firefox/:lang/setup.exe", "win")
    );
    let row: LocationMirror = mirror_location_mirror_map::table
        .select(LocationMirror::as_select())
        .first(&mut *c)
        .unwrap();
    assert_eq!(
        (row.location_id, row.mirror_id, row.active, row.healthy),
        (location_id, mirror_id, true, true)
    );

    // Regions, countries, membership and the sentry log.
    diesel::insert_into(geoip_regions::table)
        .values(NewRegion {
            name: "Europe",
            priority: 1,
            throttle: 80,
            fallback_id: None,
            prevent_global_fallback: true,
        })
        .execute(&mut *c)
        .unwrap();
    let region: Region = geoip_regions::table.first(&mut *c).unwrap();
    assert_eq!(
        (
            region.throttle,
            region.fallback_id,
            region.prevent_global_fallback
        ),
        (80, None, true)
    );
    let de = CountryRegion {
        country_code: "DE".into(),
        region_id: Some(region.id),
        country_name: Some("Germany".into()),
        continent: Some("EU".into()),
    };
    diesel::insert_into(geoip_country_to_region::table)
        .values(&de)
        .execute(&mut *c)
        .unwrap();
    let got: CountryRegion = geoip_country_to_region::table
        .find("de")
        .first(&mut *c)
        .unwrap();
    assert_eq!(got, de, "country codes match case-insensitively");
    diesel::insert_into(geoip_mirror_region_map::table)
        .values(NewMirrorRegion {
            mirror_id,
            region_id: region.id,
        })
        .execute(&mut *c)
        .unwrap();
    let when = NaiveDateTime::parse_from_str("2026-11-23 10:11:12.345678", "%Y-%m-%d %H:%M:%S%.f")
        .unwrap();
    let log = SentryLog {
        log_date: when,
        check_time: when,
        mirror_id,
        mirror_active: true,
        mirror_rating: 100,
        reason: "ok".into(),
    };
    diesel::insert_into(sentry_log::table)
        .values(&log)
        .execute(&mut *c)
        .unwrap();
    let back: SentryLog = sentry_log::table.first(&mut *c).unwrap();
    assert_eq!(back, log, "timestamps keep microseconds");
}

fn names_match_case_insensitively(db: &TestDb) {
    let mut c = db.conn();
    let (product_id, _, _) = seed(&mut c);
    let found: i32 = mirror_products::table
        .filter(mirror_products::name.eq("firefox-latest"))
        .select(mirror_products::id)
        .first(&mut *c)
        .unwrap();
    assert_eq!(found, product_id);
    let dup = diesel::insert_into(mirror_products::table)
        .values(NewProduct {
            name: "FIREFOX-LATEST",
            active: true,
            checknow: true,
            ssl_only: false,
        })
        .execute(&mut *c);
    assert!(dup.is_err(), "names are unique regardless of case");
    let lang = diesel::insert_into(mirror_product_langs::table)
        .values(NewProductLang {
            product_id,
            language: "EN-us",
        })
        .execute(&mut *c);
    assert!(
        lang.is_err(),
        "languages are unique per product regardless of case"
    );
    assert!(mirror_os::table
        .filter(mirror_os::name.eq("WIN"))
        .first::<Os>(&mut *c)
        .is_ok());
    diesel::insert_into(mirror_aliases::table)
        .values(NewAlias {
            alias: "Firefox-Stub",
            related_product: "firefox-latest",
        })
        .execute(&mut *c)
        .unwrap();
    let related: String = mirror_aliases::table
        .filter(mirror_aliases::alias.eq("firefox-stub"))
        .select(mirror_aliases::related_product)
        .first(&mut *c)
        .unwrap();
    assert_eq!(related, "firefox-latest");
    // Exact: no wildcard semantics for `=`.
    let wild = mirror_products::table
        .filter(mirror_products::name.eq("%"))
        .count()
        .get_result::<i64>(&mut *c)
        .unwrap();
    assert_eq!(wild, 0);
}

fn deleting_a_product_cascades(db: &TestDb) {
    let mut c = db.conn();
    let (product_id, _, _) = seed(&mut c);
    diesel::delete(mirror_products::table.find(product_id))
        .execute(&mut *c)
        .unwrap();
    let langs: i64 = mirror_product_langs::table
        .count()
        .get_result(&mut *c)
        .unwrap();
    let locs: i64 = mirror_locations::table.count().get_result(&mut *c).unwrap();
    let map: i64 = mirror_location_mirror_map::table
        .count()
        .get_result(&mut *c)
        .unwrap();
    assert_eq!((langs, locs, map), (0, 0, 0));
    let mirrors: i64 = mirror_mirrors::table.count().get_result(&mut *c).unwrap();
    assert_eq!(mirrors, 1, "mirrors are not owned by products");
    let orphan = diesel::insert_into(mirror_locations::table)
        .values(NewLocation {
            product_id: 9999,
            os_id: 9999,
            path: "/x",
        })
        .execute(&mut *c);
    assert!(orphan.is_err(), "foreign keys are enforced");
}

fn project_tables_round_trip(db: &TestDb) {
    let mut c = db.conn();
    let now = chrono::Utc::now().naive_utc();
    diesel::insert_into(bouncer_users::table)
        .values(NewUser {
            username: "Admin",
            password_hash: "$argon2id$x",
            role: "admin",
            active: true,
            created_at: now,
        })
        .execute(&mut *c)
        .unwrap();
    let u: User = bouncer_users::table
        .filter(bouncer_users::username.eq("admin"))
        .first(&mut *c)
        .unwrap();
    assert_eq!(u.role, "admin");
    diesel::insert_into(bouncer_audit_log::table)
        .values(NewAuditEntry {
            created_at: now,
            actor: "admin",
            action: "product.create",
            target: "firefox",
            before_json: None,
            after_json: Some("{}"),
        })
        .execute(&mut *c)
        .unwrap();
    let a: AuditEntry = bouncer_audit_log::table.first(&mut *c).unwrap();
    assert_eq!(
        (a.action.as_str(), a.before_json, a.after_json.as_deref()),
        ("product.create", None, Some("{}"))
    );
    diesel::insert_into(bouncer_rewrite_rules::table)
        .values(NewRewriteRule {
            position: 10,
            enabled: true,
            description: "win7",
            conditions: "[]",
            set_product: Some("firefox-esr115-latest-ssl"),
            set_os: None,
            updated_at: now,
        })
        .execute(&mut *c)
        .unwrap();
    let r: RewriteRuleRow = bouncer_rewrite_rules::table.first(&mut *c).unwrap();
    assert_eq!(
        (r.position, r.set_product.as_deref(), r.set_os),
        (10, Some("firefox-esr115-latest-ssl"), None)
    );
}

db_tests! {
    generation_moves_with_the_transaction => generation_moves_with_the_transaction,
}

fn generation_moves_with_the_transaction(db: &TestDb) {
    use bouncer_core::generation;
    let mut c = db.conn();
    let start = generation::current(&mut c).unwrap();
    assert_eq!(start, 1, "migrations seed the counter");
    assert_eq!(generation::bump(&mut c).unwrap(), start + 1);
    // A rolled-back write takes its bump along.
    let _ = c.transaction::<(), diesel::result::Error, _>(|t| {
        generation::bump(t).unwrap();
        Err(diesel::result::Error::RollbackTransaction)
    });
    assert_eq!(generation::current(&mut c).unwrap(), start + 1);
}

db_tests! {
    rules_replace_is_all_or_nothing => rules_replace_is_all_or_nothing,
}

fn rules_replace_is_all_or_nothing(db: &TestDb) {
    use bouncer_core::rules::{self, RuleInput, RuleSet, RuleSpec};
    let mut c = db.conn();
    let specs: Vec<RuleSpec> =
        serde_json::from_str(include_str!("../../../../deploy/rewrite-rules.json")).unwrap();
    let gen_before = bouncer_core::generation::current(&mut c).unwrap();
    assert_eq!(
        rules::replace_all(&mut c, &specs, "test").unwrap(),
        Ok(specs.len())
    );
    assert_eq!(
        bouncer_core::generation::current(&mut c).unwrap(),
        gen_before + 1
    );
    let rows = rules::load_rows(&mut c).unwrap();
    assert_eq!(rows.len(), specs.len());
    let (set, errors) = RuleSet::from_rows(&rows);
    assert!(errors.is_empty(), "{errors:?}");
    let input = RuleInput {
        product: "firefox-latest",
        os: "win",
        lang: "de",
        user_agent: "NSIS InetBgDL (Mozilla)",
        referer: "",
    };
    assert_eq!(
        set.apply(&input).unwrap().product.as_deref(),
        Some("firefox-127.0")
    );

    // One invalid rule rejects the whole replacement; the stored rules stay.
    let mut broken = specs.clone();
    broken[3].conditions[1].value = "(unclosed".into();
    let (index, _) = rules::replace_all(&mut c, &broken, "test")
        .unwrap()
        .unwrap_err();
    assert_eq!(index, 3);
    assert_eq!(rules::load_rows(&mut c).unwrap(), rows);
    let audits: i64 = bouncer_audit_log::table
        .filter(bouncer_audit_log::action.eq("rules.replace"))
        .count()
        .get_result(&mut *c)
        .unwrap();
    assert_eq!(audits, 1);
}

/// The limits every writer validates against are the MariaDB schema's widths (SQLite
/// enforces none, so the numbers in `limits` are the only guard there).
#[test]
fn column_limits_match_the_mariadb_schema() {
    use diesel::sql_types::{BigInt, Nullable, Text};
    #[derive(QueryableByName)]
    struct Width {
        #[diesel(sql_type = Nullable<BigInt>)]
        width: Option<i64>,
    }
    let db = TestDb::mysql();
    let mut c = db.conn();
    run_migrations(&mut c).unwrap();
    for &(table, column, limit) in bouncer_core::limits::COLUMNS {
        let w: Width = diesel::sql_query(
            "SELECT CAST(COALESCE(character_maximum_length, 0) AS SIGNED) AS width \
             FROM information_schema.columns \
             WHERE table_schema = DATABASE() AND table_name = ? AND column_name = ?",
        )
        .bind::<Text, _>(table)
        .bind::<Text, _>(column)
        .get_result(&mut c)
        .unwrap_or_else(|e| panic!("{table}.{column}: {e}"));
        assert_eq!(w.width, Some(limit as i64), "{table}.{column}");
    }
}

/// A writer queued behind a row lock gives up by its deadline, server-side: each pooled
/// MariaDB session carries the pool's lock wait timeout (rounded up to whole seconds).
#[test]
fn sessions_carry_the_lock_wait_timeout() {
    use bouncer_core::db::{self, PoolOptions};
    use diesel::prelude::*;
    use std::time::Duration;
    let test = TestDb::mysql();
    let pool = db::pool(
        &test.url,
        PoolOptions {
            lock_wait_timeout: Some(Duration::from_millis(1500)),
            ..PoolOptions::default()
        },
    )
    .unwrap();
    #[derive(QueryableByName)]
    struct Secs {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        secs: i64,
    }
    let got: Secs =
        diesel::sql_query("SELECT CAST(@@session.innodb_lock_wait_timeout AS SIGNED) AS secs")
            .get_result(&mut *db::conn(&pool).unwrap())
            .unwrap();
    assert_eq!(got.secs, 2);
}

db_tests! {
    uptake_counts_per_family => uptake_counts_per_family,
}

/// Uptake per address family: a pair probed per family counts for the families it is
/// healthy over; a pair without family rows counts for the families its host has (both
/// when unknown).
fn uptake_counts_per_family(db: &TestDb) {
    use bouncer_core::networks::Family;
    let mut c = db.conn();
    let (_, loc, legacy) = seed(&mut c);
    let mut add = |name: &str, rating: i32, v4: bool, v6: bool| {
        diesel::insert_into(mirror_mirrors::table)
            .values(NewMirror {
                name,
                baseurl: "https://x.example",
                rating,
                active: true,
            })
            .execute(&mut c)
            .unwrap();
        let id: i32 = mirror_mirrors::table
            .filter(mirror_mirrors::name.eq(name))
            .select(mirror_mirrors::id)
            .first(&mut c)
            .unwrap();
        diesel::insert_into(mirror_location_mirror_map::table)
            .values(NewLocationMirror {
                location_id: loc,
                mirror_id: id,
                active: true,
                healthy: v4 || v6,
            })
            .execute(&mut c)
            .unwrap();
        for (family, healthy) in [(4i16, v4), (6, v6)] {
            diesel::insert_into(bouncer_family_health::table)
                .values((
                    bouncer_family_health::location_id.eq(loc),
                    bouncer_family_health::mirror_id.eq(id),
                    bouncer_family_health::family.eq(family),
                    bouncer_family_health::healthy.eq(healthy),
                ))
                .execute(&mut c)
                .unwrap();
        }
    };
    add("v4only", 300, true, false);
    add("v6only", 200, false, true);
    add("down", 400, false, false);
    let _ = legacy; // m1, rating 100, no family rows
    let cap = bouncer_core::uptake::capacity(&mut c, None, &[(loc, false)]).unwrap()[&loc];
    assert_eq!(
        (cap.total, cap.available, cap.available_v4, cap.available_v6),
        (1_000, 600, 400, 300)
    );
    assert_eq!(cap.percent_for(Family::V6), 30.0);
    // The legacy pair's host turns out to have IPv4 only (sentry keeps no family rows for
    // a mirror with one family): it no longer counts for IPv6.
    bouncer_test_support::health::record_host_families(&mut c, legacy, &[Family::V4]);
    let cap = bouncer_core::uptake::capacity(&mut c, None, &[(loc, false)]).unwrap()[&loc];
    assert_eq!(
        (cap.available, cap.available_v4, cap.available_v6),
        (600, 400, 200)
    );
    // Down as a whole (sentry's mirror state after a mirror-wide failure, weight 0): its
    // rows are kept as they were, and it serves nothing meanwhile.
    diesel::update(bouncer_mirror_health::table.find(legacy))
        .set((
            bouncer_mirror_health::state.eq("down"),
            bouncer_mirror_health::weight_percent.eq(0),
        ))
        .execute(&mut c)
        .unwrap();
    let cap = bouncer_core::uptake::capacity(&mut c, None, &[(loc, false)]).unwrap()[&loc];
    assert_eq!(
        (cap.total, cap.available, cap.available_v4, cap.available_v6),
        (1_000, 500, 300, 200)
    );
}

db_tests! {
    reference_flag_keeps_the_network_mode => reference_flag_keeps_the_network_mode,
}

/// Unflagging a reference origin leaves the mirror's other settings in place.
fn reference_flag_keeps_the_network_mode(db: &TestDb) {
    let mut c = db.conn();
    let (_, _, mirror) = seed(&mut c);
    bouncer_core::files::set_reference(&mut c, mirror, true).unwrap();
    bouncer_core::files::set_reference(&mut c, mirror, true).unwrap();
    diesel::update(bouncer_mirror_settings::table.find(mirror))
        .set(bouncer_mirror_settings::network_mode.eq("only"))
        .execute(&mut c)
        .unwrap();
    bouncer_core::files::set_reference(&mut c, mirror, false).unwrap();
    let row: (bool, String) = bouncer_mirror_settings::table
        .find(mirror)
        .select((
            bouncer_mirror_settings::reference,
            bouncer_mirror_settings::network_mode,
        ))
        .first(&mut c)
        .unwrap();
    assert_eq!(row, (false, "only".to_owned()));
}
