//! Products and aliases share one name space (`bouncer_core::name_space`): bounce resolves
//! `?product=X` to the product X before the alias X, so no path may create a product named
//! like an alias or a pending gate's alias, or flip a gate into a name a product took —
//! also when the two writes race.

use crate::common::*;
use bouncer_core::schema::{mirror_aliases, mirror_products};
use bouncer_test_support::{db_tests, TestDb};
use diesel::prelude::*;
use serde_json::json;

db_tests! {
    one_name_space_on_every_path => one_name_space,
    racing_product_and_alias_writes_never_share_a_name => racing_writes,
}

fn names(db: &TestDb) -> (Vec<String>, Vec<String>) {
    let mut c = db.conn();
    let products = mirror_products::table
        .select(mirror_products::name)
        .load(&mut *c)
        .unwrap();
    let aliases = mirror_aliases::table
        .select(mirror_aliases::alias)
        .load(&mut *c)
        .unwrap();
    (products, aliases)
}

fn one_name_space(db: &TestDb) {
    block_on(async {
        let t = start(db, |c| c.tuxedo.gate_check_secs = 0);
        assert_eq!(
            t.post("product_add", &[("product", "Firefox-1")]).await.0,
            200
        );
        let (s, body) = t
            .post(
                "create_update_alias",
                &[
                    ("alias", "firefox-latest"),
                    ("related_product", "Firefox-1"),
                ],
            )
            .await;
        assert_eq!(s, 200, "{body}");

        // A product named like an alias (any case), through the XML and the JSON API.
        let (s, body) = t
            .post("product_add", &[("product", "FIREFOX-LATEST")])
            .await;
        assert_eq!(s, 400, "{body}");
        assert!(
            body.contains("You cannot create a product with the same name as an alias"),
            "{body}"
        );
        let (s, r) = t
            .admin("POST", "/products", Some(json!({"name": "Firefox-Latest"})))
            .await;
        assert_eq!(s, 409, "{r}");
        assert!(
            r["error"]["message"]
                .as_str()
                .unwrap()
                .contains("is an alias"),
            "{r}"
        );

        // A pending gate's alias is taken too: it becomes an alias when the gate flips.
        let (s, r) = t
            .admin(
                "PUT",
                "/aliases/shadow-x",
                Some(json!({"related_product": "Firefox-1", "gate": {"uptake_percent": 90}})),
            )
            .await;
        assert_eq!(s, 202, "{r}");
        let (_, body) = t.post("product_add", &[("product", "shadow-x")]).await;
        assert!(body.contains("same name as an alias"), "{body}");
        let (s, _) = t
            .admin("POST", "/products", Some(json!({"name": "Shadow-X"})))
            .await;
        assert_eq!(s, 409);
        // Renaming a product into either name is refused the same way.
        let (_, p) = t
            .admin("POST", "/products", Some(json!({"name": "Firefox-2"})))
            .await;
        let id = p["id"].as_i64().unwrap();
        for name in ["firefox-latest", "SHADOW-X"] {
            let (s, r) = t
                .admin(
                    "PATCH",
                    &format!("/products/{id}"),
                    Some(json!({"name": name})),
                )
                .await;
            assert_eq!(s, 409, "{name}: {r}");
        }
        assert_eq!(
            names(db),
            (
                vec!["Firefox-1".to_owned(), "Firefox-2".to_owned()],
                vec!["firefox-latest".to_owned()]
            )
        );

        // A product that took a gate's name anyway (written outside tuxedo): the gate
        // gives up instead of flipping the alias into a name bounce resolves to the product.
        let (s, r) = t
            .admin(
                "PUT",
                "/aliases/shadow-y",
                Some(json!({"related_product": "Firefox-1", "gate": {
                    "uptake_percent": 90,
                    "deadline": (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339(),
                    "on_deadline": "flip"}})),
            )
            .await;
        assert_eq!(s, 202, "{r}");
        let mut conn = db.conn();
        diesel::insert_into(mirror_products::table)
            .values(bouncer_core::models::NewProduct {
                name: "Shadow-Y",
                active: true,
                checknow: false,
                ssl_only: false,
            })
            .execute(&mut *conn)
            .unwrap();
        let later = chrono::Utc::now().naive_utc() + chrono::Duration::hours(2);
        let outcomes = bouncer_core::gates::check_all(&mut conn, None, "test", later).unwrap();
        let shadow_y = outcomes
            .iter()
            .find(|(g, _)| g.alias == "shadow-y")
            .map(|(_, o)| o.clone());
        assert_eq!(
            shadow_y,
            Some(bouncer_core::gates::Outcome::GaveUp {
                reason: "a product has the alias's name".into()
            })
        );
        assert!(!names(db).1.contains(&"shadow-y".to_owned()));
    });
}

/// Product creations and alias sets of the same names, raced in pairs: whichever commits
/// first wins the name, the other is refused; never both.
fn racing_writes(db: &TestDb) {
    block_on(async {
        let t = start(db, |_| {});
        assert_eq!(
            t.post("product_add", &[("product", "Firefox-1")]).await.0,
            200
        );
        let names_raced: Vec<String> = (0..24).map(|i| format!("race-{i}")).collect();
        let pairs = names_raced.iter().map(|name| {
            let t = &t;
            async move {
                let product = [("product", name.as_str())];
                let alias = [("alias", name.as_str()), ("related_product", "Firefox-1")];
                tokio::join!(
                    t.post("product_add", &product),
                    t.post("create_update_alias", &alias)
                )
            }
        });
        for ((ps, pb), (as_, ab)) in futures_util::future::join_all(pairs).await {
            // One wins, the other is refused with the old admin's kind of answer.
            assert!(
                matches!((ps, as_), (200, 400) | (400, 200)),
                "{ps} {pb} / {as_} {ab}"
            );
        }
        let (products, aliases) = names(db);
        let both: Vec<&String> = names_raced
            .iter()
            .filter(|n| products.contains(n) && aliases.contains(n))
            .collect();
        assert!(both.is_empty(), "names that are both: {both:?}");
        for n in &names_raced {
            assert!(products.contains(n) || aliases.contains(n), "{n}: neither");
        }
    });
}
