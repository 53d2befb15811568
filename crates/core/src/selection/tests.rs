use super::*;
use crate::networks::NetworkMode;
use proptest::prelude::*;
use rand::{rngs::SmallRng, RngExt, SeedableRng};

fn cand(id: i32, url: &str, rating: i32, regions: &[RegionId]) -> MirrorCandidate {
    MirrorCandidate {
        mirror_id: id,
        base_url: url.into(),
        rating,
        mirror_active: true,
        location_active: true,
        healthy: true,
        regions: regions.to_vec(),
        reach: Reach::default(),
    }
}

fn region(id: RegionId, throttle: i32, fallback: Option<RegionId>, prevent: bool) -> RegionPolicy {
    RegionPolicy {
        id,
        throttle,
        fallback,
        prevent_global_fallback: prevent,
    }
}

/// Counts picks per mirror id over `n` random draws.
fn frequencies(
    set: &LocationMirrors,
    scopes: &[Scope],
    https: bool,
    n: usize,
    seed: u64,
) -> HashMap<i32, u64> {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut counts = HashMap::new();
    for _ in 0..n {
        if let Some(c) = set.choose(scopes, https, rng.random()) {
            *counts.entry(c.mirror_id).or_insert(0) += 1;
        }
    }
    counts
}

/// Pearson's chi-square statistic of observed counts against weights.
fn chi_square(weights: &[(i32, u64)], counts: &HashMap<i32, u64>, n: usize) -> f64 {
    let total: u64 = weights.iter().map(|w| w.1).sum();
    weights
        .iter()
        .map(|&(id, w)| {
            let expected = n as f64 * w as f64 / total as f64;
            let observed = *counts.get(&id).unwrap_or(&0) as f64;
            (observed - expected).powi(2) / expected
        })
        .sum()
}

/// Upper critical value of chi-square with `df` degrees of freedom at p = 1e-6
/// (Wilson–Hilferty approximation; z = 4.753).
fn chi_square_critical(df: usize) -> f64 {
    let k = df as f64;
    let z = 4.753;
    k * (1.0 - 2.0 / (9.0 * k) + z * (2.0 / (9.0 * k)).sqrt()).powi(3)
}

#[test]
fn empty_and_all_zero_sets_pick_nothing() {
    let empty = LocationMirrors::build(Vec::new());
    assert!(empty.select(None, false, 42).is_none());
    let zeros = LocationMirrors::build(vec![
        cand(1, "http://a/", 0, &[]),
        cand(2, "http://b/", 0, &[]),
    ]);
    assert!(zeros.is_empty());
    for e in [0, 1, u64::MAX] {
        assert!(zeros.select(None, false, e).is_none());
    }
    let negative = LocationMirrors::build(vec![cand(1, "http://a/", -5, &[])]);
    assert!(negative.select(None, false, 7).is_none());
}

#[test]
fn extreme_entropy_and_huge_ratings_stay_in_bounds() {
    let set = LocationMirrors::build(vec![
        cand(1, "http://a/", i32::MAX, &[]),
        cand(2, "http://b/", i32::MAX, &[]),
        cand(3, "http://c/", 1, &[]),
    ]);
    assert_eq!(set.select(None, false, 0).unwrap().mirror_id, 1);
    assert_eq!(set.select(None, false, u64::MAX).unwrap().mirror_id, 3);
    let w = WeightedIndex::new([(1, u64::MAX), (2, 5)]);
    assert_eq!(
        w.len(),
        1,
        "an item past saturation is dropped, not wrapped"
    );
    assert_eq!(w.pick(u64::MAX), Some(&1));
}

#[test]
fn mirror_in_several_regions_counts_once() {
    let set = LocationMirrors::build(vec![
        cand(1, "http://a/", 100, &[1, 2, 3]),
        cand(1, "http://a/", 100, &[4]),
        cand(2, "http://b/", 100, &[1]),
    ]);
    assert_eq!(set.len(), 2);
    let n = 100_000;
    let counts = frequencies(&set, &[Scope::Global], false, n, 7);
    let stat = chi_square(&[(1, 100), (2, 100)], &counts, n);
    assert!(
        stat < chi_square_critical(1),
        "mirror 1 over-weighted: {counts:?}"
    );
    // Regions merged from both rows.
    assert_eq!(
        set.choose(&[Scope::Region(4)], false, 1).unwrap().mirror_id,
        1
    );
}

#[test]
fn fallback_region_is_the_fallback_not_the_clients() {
    // Region 1 (client's) has no mirror for this file; region 2 is its fallback.
    let set = LocationMirrors::build(vec![
        cand(20, "http://r2/", 10, &[2]),
        cand(30, "http://r3/", 10, &[3]),
    ]);
    let policy = region(1, 100, Some(2), true);
    for e in 0..1_000u64 {
        let got = set
            .select(Some(&policy), false, crate::hash::mix64(e))
            .unwrap();
        assert_eq!(got.mirror_id, 20);
    }
}

#[test]
fn prevent_global_fallback_has_effect() {
    let set = LocationMirrors::build(vec![cand(30, "http://r3/", 10, &[3])]);
    assert!(set
        .select(Some(&region(1, 100, Some(2), true)), false, 5)
        .is_none());
    assert!(set
        .select(Some(&region(1, 100, None, true)), false, 5)
        .is_none());
    assert_eq!(
        set.select(Some(&region(1, 100, Some(2), false)), false, 5)
            .unwrap()
            .mirror_id,
        30
    );
    assert_eq!(set.select(None, false, 5).unwrap().mirror_id, 30);
}

#[test]
fn throttle_splits_clients_between_region_and_fallback() {
    let set = LocationMirrors::build(vec![
        cand(1, "http://own/", 10, &[1]),
        cand(2, "http://fb/", 10, &[2]),
    ]);
    let policy = region(1, 30, Some(2), false);
    let n = 100_000u64;
    let own = (0..n)
        .filter(|&e| {
            set.select(Some(&policy), false, crate::hash::mix64(e))
                .unwrap()
                .mirror_id
                == 1
        })
        .count() as f64;
    let share = own / n as f64;
    assert!((share - 0.30).abs() < 0.01, "kept {share}");
    assert_eq!(
        scopes(Some(&region(1, 0, None, false)), 0),
        vec![Scope::Global]
    );
    assert_eq!(
        scopes(Some(&region(1, 0, None, true)), 0),
        vec![Scope::Region(1)]
    );
    assert_eq!(
        scopes(Some(&region(1, 100, None, false)), 99),
        vec![Scope::Region(1), Scope::Global]
    );
}

#[test]
fn https_scheme_is_case_insensitive() {
    assert!(is_https("HTTPS://a/"));
    assert!(!is_https("http://a/"));
    assert!(!is_https("https:/"));
}

/// Random candidate sets: ratings span zero, negatives and huge values; some mirrors come
/// twice (as a join over several regions yields them), with the same mirror fields.
fn candidates() -> impl Strategy<Value = Vec<MirrorCandidate>> {
    let one = (
        0i32..40,
        any::<bool>(),
        prop_oneof![Just(0i32), -5i32..0, 1i32..1_000, Just(i32::MAX)],
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        proptest::collection::vec(1i32..5, 0..3),
    )
        .prop_map(|(id, https, rating, ma, la, h, regions)| MirrorCandidate {
            mirror_id: id,
            base_url: if https {
                format!("https://m{id}/")
            } else {
                format!("http://m{id}/")
            }
            .into(),
            rating,
            mirror_active: ma,
            location_active: la,
            healthy: h,
            regions,
            reach: Reach::default(),
        });
    proptest::collection::vec(one, 0..30).prop_map(|mut v| {
        let mut seen = std::collections::HashSet::new();
        v.retain(|c| seen.insert(c.mirror_id));
        let dups: Vec<_> = v
            .iter()
            .step_by(3)
            .map(|c| MirrorCandidate {
                regions: vec![(c.mirror_id % 4) + 1],
                ..c.clone()
            })
            .collect();
        v.extend(dups);
        v
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Never an ineligible mirror, never a downgrade, never a panic, whatever the input.
    #[test]
    fn only_eligible_and_never_downgraded(
        cands in candidates(),
        region_id in proptest::option::of(1i32..5),
        throttle in -10i32..120,
        fallback in proptest::option::of(1i32..5),
        prevent in any::<bool>(),
        https in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let set = LocationMirrors::build(cands.clone());
        let policy = region_id.map(|id| region(id, throttle, fallback, prevent));
        let mut rng = SmallRng::seed_from_u64(seed);
        for _ in 0..200 {
            if let Some(c) = set.select(policy.as_ref(), https, rng.random()) {
                prop_assert!(cands.iter().any(|x| x.mirror_id == c.mirror_id && x.eligible()),
                    "picked ineligible mirror {}", c.mirror_id);
                if https {
                    prop_assert!(is_https(&c.base_url), "downgrade to {}", c.base_url);
                }
            }
        }
        // Something qualifies globally ⇒ a client with no region always gets an answer.
        let any_ok = cands.iter().any(|c| c.eligible() && (!https || is_https(&c.base_url)));
        prop_assert_eq!(set.select(None, https, seed).is_some(), any_ok);
    }

    /// Deterministic mode: same entropy, same mirror.
    #[test]
    fn same_entropy_same_choice(cands in candidates(), e in any::<u64>()) {
        let set = LocationMirrors::build(cands);
        prop_assert_eq!(set.select(None, false, e), set.select(None, false, e));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// Observed frequencies over 100,000 picks match rating / Σ rating (chi-square, p = 1e-6).
    #[test]
    fn frequencies_match_weights(
        ratings in proptest::collection::vec(1i32..500, 2..12),
        seed in any::<u64>(),
    ) {
        let cands: Vec<_> = ratings.iter().enumerate()
            .map(|(i, &r)| cand(i as i32, "https://m/", r, &[])).collect();
        let set = LocationMirrors::build(cands);
        let weights: Vec<(i32, u64)> = ratings.iter().enumerate().map(|(i, &r)| (i as i32, r as u64)).collect();
        let n = 100_000;
        let counts = frequencies(&set, &[Scope::Global], false, n, seed);
        let stat = chi_square(&weights, &counts, n);
        prop_assert!(stat < chi_square_critical(weights.len() - 1),
            "chi2 {stat:.1} over critical {:.1}; counts {counts:?}", chi_square_critical(weights.len() - 1));
    }
}

fn reach(c: MirrorCandidate, f: impl FnOnce(&mut Reach)) -> MirrorCandidate {
    let mut c = c;
    f(&mut c.reach);
    c
}

#[test]
fn continents_catch_clients_whose_country_has_no_region() {
    let set = LocationMirrors::build([
        reach(cand(1, "https://eu/", 10, &[1]), |r| {
            r.continents = vec![*b"EU"]
        }),
        cand(2, "https://us/", 1_000, &[2]),
    ]);
    let scopes = set.scopes_for(None, Some(*b"EU"), 0);
    assert_eq!(scopes, [Scope::Continent(*b"EU"), Scope::Global]);
    let f = frequencies(&set, &scopes, false, 1_000, 1);
    assert_eq!(
        f.get(&1),
        Some(&1_000),
        "the continent's mirror, whatever the weights"
    );
    // No mirror on that continent: every mirror, by weight.
    let f = frequencies(
        &set,
        &set.scopes_for(None, Some(*b"AF"), 0),
        false,
        10_000,
        2,
    );
    assert!(f[&2] > 9_700, "{f:?}");
    // Off (no continent given): as before.
    assert_eq!(set.scopes_for(None, None, 0), [Scope::Global]);
}

#[test]
fn networks_prefer_keep_weights_and_only_serves_nobody_else() {
    let campus: Arc<crate::networks::NetList> = Arc::new(
        ["AS64500", "192.0.2.0/24"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect(),
    );
    let set = LocationMirrors::build([
        cand(1, "https://public/", 1_000, &[]),
        reach(cand(2, "https://isp/", 30, &[]), |r| {
            r.networks = campus.clone();
            r.mode = NetworkMode::Prefer;
        }),
        reach(cand(3, "https://campus/", 10, &[]), |r| {
            r.networks = campus.clone();
            r.mode = NetworkMode::Only;
        }),
    ]);
    let outsider: IpAddr = "198.51.100.1".parse().unwrap();
    assert_eq!(set.variant_key(None, Some(outsider), Some(1)), None);
    let f = frequencies(&set, &set.scopes_for(None, None, 0), false, 20_000, 3);
    assert!(
        !f.contains_key(&3),
        "an `only` mirror never serves outsiders: {f:?}"
    );
    assert!(f.contains_key(&2), "a `prefer` mirror serves everyone");
    for (ip, asn) in [("192.0.2.9", None), ("203.0.113.1", Some(64500))] {
        let key = set.variant_key(None, ip.parse().ok(), asn).unwrap();
        assert_eq!(key, (None, vec![1, 2]));
        let mine = set.variant(key.0, &key.1);
        let scopes = mine.scopes_for(None, None, 0);
        assert_eq!(scopes, [Scope::Network, Scope::Global]);
        let f = frequencies(&mine, &scopes, false, 20_000, 4);
        assert!(!f.contains_key(&1), "its networks' mirrors first: {f:?}");
        // 30 : 10 kept.
        let share = f[&2] as f64 / 20_000.0;
        assert!((share - 0.75).abs() < 0.02, "{share}");
    }
}

#[test]
fn excluded_countries_never_get_the_mirror() {
    let set = LocationMirrors::build([
        cand(1, "https://a/", 10, &[]),
        reach(cand(2, "https://b/", 1_000, &[]), |r| {
            r.excludes = Arc::from(vec![*b"XK"])
        }),
    ]);
    assert_eq!(set.variant_key(Some(*b"DE"), None, None), None);
    let key = set.variant_key(Some(*b"XK"), None, None).unwrap();
    let theirs = set.variant(key.0, &key.1);
    let f = frequencies(&theirs, &[Scope::Global], false, 5_000, 5);
    assert_eq!(f.get(&1), Some(&5_000), "{f:?}");
    assert!(theirs.id != set.id, "a variant is its own build");
}
