use super::*;

/// The rules file shipped in deploy/, which must reproduce today's go-bouncer rules.
fn shipped() -> RuleSet {
    let specs: Vec<RuleSpec> =
        serde_json::from_str(include_str!("../../../../deploy/rewrite-rules.json")).unwrap();
    let rules = specs
        .iter()
        .enumerate()
        .map(|(i, s)| Rule::compile(i as i32 + 1, s).unwrap())
        .collect();
    RuleSet { rules }
}

const WIN7: &str = "Mozilla/5.0 (Windows NT 6.1; rv:109.0) Gecko/20100101 Firefox/115.0";
const WIN7_64: &str = "Mozilla/5.0 (Windows NT 6.1; Win64; x64; rv:109.0) Gecko/20100101";
const WIN81_WOW: &str = "Mozilla/5.0 (Windows NT 6.3; WOW64; rv:109.0) Gecko/20100101";
const WIN10: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:120.0) Gecko/20100101";
const NSIS: &str = "NSIS InetBgDL (Mozilla)";

fn rewrite(product: &str, os: &str, ua: &str, referer: &str) -> (String, String) {
    let input = RuleInput {
        product,
        os,
        lang: "en-US",
        user_agent: ua,
        referer,
    };
    match shipped().apply(&input) {
        Some(r) => (
            r.product.unwrap_or_else(|| product.into()),
            r.os.unwrap_or_else(|| os.into()),
        ),
        None => (product.into(), os.into()),
    }
}

fn pair(p: &str, o: &str) -> (String, String) {
    (p.into(), o.into())
}

#[test]
fn windows_7_to_81_get_esr115() {
    assert_eq!(
        rewrite("firefox-latest", "win", WIN7, ""),
        pair("firefox-esr115-latest-ssl", "win")
    );
    assert_eq!(
        rewrite("firefox-beta-latest-ssl", "win64", WIN7_64, ""),
        pair("firefox-esr115-latest-ssl", "win64")
    );
    // 64-bit stub: os becomes win64 as well.
    assert_eq!(
        rewrite("firefox-stub", "win", WIN7_64, ""),
        pair("firefox-esr115-latest-ssl", "win64")
    );
    assert_eq!(
        rewrite("firefox-stub", "win", WIN81_WOW, ""),
        pair("firefox-esr115-latest-ssl", "win64")
    );
    // 32-bit stub: product only.
    assert_eq!(
        rewrite("firefox-stub", "win", WIN7, ""),
        pair("firefox-esr115-latest-ssl", "win")
    );
}

#[test]
fn windows_7_rule_exceptions() {
    for product in [
        "firefox-msi-latest-ssl",
        "firefox-120.0-partial-119.0",
        "firefox-120.0-complete",
        "thunderbird-latest",
    ] {
        assert_eq!(
            rewrite(product, "win", WIN7, ""),
            pair(product, "win"),
            "{product}"
        );
    }
    assert_eq!(
        rewrite("firefox-latest", "osx", WIN7, ""),
        pair("firefox-latest", "osx")
    );
    assert_eq!(
        rewrite("firefox-latest", "win", WIN10, ""),
        pair("firefox-latest", "win")
    );
    for referer in [
        "https://www.mozilla.org/en-US/firefox/new/",
        "https://www.firefox.com/thanks/",
    ] {
        assert_eq!(
            rewrite("firefox-latest", "win", WIN7, referer),
            pair("firefox-latest", "win")
        );
    }
    // Only those exact sites: a look-alike referer still gets the rewrite.
    assert_eq!(
        rewrite(
            "firefox-latest",
            "win",
            WIN7,
            "https://www.mozilla.org.evil.example/"
        )
        .0,
        "firefox-esr115-latest-ssl"
    );
}

#[test]
fn pre_2024_stub_installers() {
    let cases = [
        ("firefox-nightly-latest", "firefox-nightly-pre2024"),
        ("firefox-nightly-latest-l10n", "firefox-nightly-pre2024"),
        ("firefox-nightly-latest-ssl", "firefox-nightly-pre2024-ssl"),
        (
            "firefox-nightly-latest-l10n-ssl",
            "firefox-nightly-pre2024-ssl",
        ),
        ("firefox-beta-latest", "firefox-127.0b9"),
        ("firefox-beta-latest-ssl", "firefox-127.0b9-ssl"),
        ("firefox-devedition-latest", "devedition-127.0b9"),
        ("firefox-devedition-latest-ssl", "devedition-127.0b9-ssl"),
        ("firefox-latest", "firefox-127.0"),
        ("firefox-latest-ssl", "firefox-127.0-ssl"),
        (
            "partner-firefox-release-unitedinternet-gmx-latest",
            "firefox-127.0-unitedinternet-gmx",
        ),
        ("firefox-esr-latest", "firefox-esr-latest"),
    ];
    for (from, to) in cases {
        assert_eq!(rewrite(from, "win", NSIS, "").0, to, "{from}");
    }
    // Not the exact user agent: untouched.
    assert_eq!(
        rewrite("firefox-latest", "win", "NSIS InetBgDL (Mozilla) x", "").0,
        "firefox-latest"
    );
}

#[test]
fn invalid_rules_are_rejected_with_a_reason() {
    let bad = RuleSpec {
        description: String::new(),
        enabled: true,
        conditions: vec![Condition {
            field: Field::Product,
            op: Op::Regex,
            value: "(".into(),
            negate: false,
        }],
        set_product: Some("x".into()),
        set_os: None,
    };
    assert!(matches!(
        Rule::compile(1, &bad),
        Err(RuleError::BadRegex { index: 0, .. })
    ));
    let no_action = RuleSpec {
        set_product: None,
        ..bad.clone()
    };
    assert_eq!(
        Rule::compile(1, &no_action).unwrap_err(),
        RuleError::NoAction
    );
    let no_conditions = RuleSpec {
        conditions: vec![],
        ..bad
    };
    assert_eq!(
        Rule::compile(1, &no_conditions).unwrap_err(),
        RuleError::NoConditions
    );
}

#[test]
fn stored_rows_skip_broken_and_disabled_rules() {
    let now = chrono::Utc::now().naive_utc();
    let row = |id, enabled, conditions: &str| RewriteRuleRow {
        id,
        position: id * 10,
        enabled,
        description: String::new(),
        conditions: conditions.into(),
        set_product: Some(format!("p{id}")),
        set_os: None,
        updated_at: now,
    };
    let any = r#"[{"field":"os","op":"prefix","value":""}]"#;
    let (set, errors) = RuleSet::from_rows(&[
        row(1, true, "not json"),
        row(2, false, any),
        row(3, true, any),
    ]);
    assert_eq!(set.len(), 1);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].0, 1);
    let input = RuleInput {
        product: "a",
        os: "win",
        lang: "de",
        user_agent: "",
        referer: "",
    };
    assert_eq!(set.apply(&input).unwrap().product.as_deref(), Some("p3"));
}

#[test]
fn a_rule_set_says_which_request_headers_it_reads() {
    let shipped = shipped();
    assert!(shipped.reads(Field::UserAgent));
    assert!(shipped.reads(Field::Referer));
    assert!(!RuleSet::default().reads(Field::UserAgent));
}
