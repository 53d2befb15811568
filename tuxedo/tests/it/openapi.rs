//! The committed OpenAPI document describes exactly the JSON API's routing table, its
//! references resolve, and tuxedo serves it as committed.

use crate::common::*;
use bouncer_test_support::TestDb;
use serde_json::Value;
use std::collections::BTreeSet;

fn committed() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/openapi.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn document_matches_the_routing_table() {
    let doc = committed();
    let routes: BTreeSet<(String, String)> = tuxedo::api::route_list()
        .into_iter()
        .map(|(m, p)| (m.as_str().to_lowercase(), p.to_owned()))
        .collect();
    let mut documented = BTreeSet::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for method in ops.as_object().unwrap().keys() {
            documented.insert((method.clone(), path.clone()));
        }
    }
    let missing: Vec<_> = routes.difference(&documented).collect();
    assert!(
        missing.is_empty(),
        "routes not in docs/openapi.json: {missing:?}"
    );
    let extra: Vec<_> = documented.difference(&routes).collect();
    assert!(extra.is_empty(), "documented but not routed: {extra:?}");
}

#[test]
fn references_resolve() {
    let doc = committed();
    fn walk(v: &Value, doc: &Value) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(r)) = m.get("$ref") {
                    let pointer = r.strip_prefix('#').unwrap();
                    assert!(doc.pointer(pointer).is_some(), "dangling {r}");
                }
                m.values().for_each(|v| walk(v, doc));
            }
            Value::Array(a) => a.iter().for_each(|v| walk(v, doc)),
            _ => {}
        }
    }
    walk(&doc, &doc);
}

#[tokio::test]
async fn served_without_credentials_as_committed() {
    let db = TestDb::sqlite();
    let t = start(&db, |_| {});
    let r = t
        .client
        .get(format!("{}/api/v2/openapi.json", t.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap(), committed());
}

/// Every limit the server enforces on a written string is stated in the document, with the
/// number from `bouncer_core::limits` (the one place the columns' widths are defined).
#[test]
fn limits_are_stated() {
    use bouncer_core::limits as l;
    let doc = committed();
    let schemas = &doc["components"]["schemas"];
    let cases: &[(&str, &str, usize)] = &[
        ("ProductCreate", "/properties/name", l::PRODUCT_NAME),
        ("ProductPatch", "/properties/name", l::PRODUCT_NAME),
        ("ProductCreate", "/properties/languages/items", l::LANGUAGE),
        ("Languages", "/properties/languages/items", l::LANGUAGE),
        ("LocationCreate", "/properties/os", l::OS_NAME),
        ("LocationCreate", "/properties/path", l::LOCATION_PATH),
        ("LocationPatch", "/properties/path", l::LOCATION_PATH),
        ("OsCreate", "/properties/name", l::OS_NAME),
        ("OsPatch", "/properties/name", l::OS_NAME),
        ("AliasSet", "/properties/related_product", l::PRODUCT_NAME),
        ("MirrorCreate", "/properties/name", l::MIRROR_NAME),
        ("MirrorCreate", "/properties/baseurl", l::BASE_URL),
        ("MirrorPatch", "/properties/name", l::MIRROR_NAME),
        ("MirrorPatch", "/properties/baseurl", l::BASE_URL),
        ("MirrorCreate", "/properties/networks/items", l::NETWORK),
        ("MirrorPatch", "/properties/networks/items", l::NETWORK),
        ("Mirror", "/properties/networks/items", l::NETWORK),
        ("RegionCreate", "/properties/name", l::REGION_NAME),
        ("RegionPatch", "/properties/name", l::REGION_NAME),
        ("CountrySet", "/properties/country_name", l::COUNTRY_NAME),
        ("CountrySet", "/properties/continent", l::CONTINENT),
        ("RuleSpec", "/properties/description", l::RULE_DESCRIPTION),
        ("RuleSpec", "/properties/set_product", l::PRODUCT_NAME),
        ("RuleSpec", "/properties/set_os", l::OS_NAME),
        ("UserCreate", "/properties/username", l::USERNAME),
        ("TokenCreate", "/properties/name", l::TOKEN_NAME),
    ];
    for (schema, pointer, limit) in cases {
        let field = schemas[schema].pointer(pointer).unwrap_or(&Value::Null);
        assert_eq!(
            field["maxLength"].as_u64(),
            Some(*limit as u64),
            "{schema}{pointer}"
        );
    }
    let conditions = l::RULE_CONDITIONS_BYTES.to_string();
    let rule = schemas["RuleSpec"]["description"].as_str().unwrap_or("");
    assert!(rule.contains(&conditions), "RuleSpec states {conditions}");
}
