//! The one diesel schema for every backend.
//!
//! Table and column names are those of existing Bouncer deployments (see
//! `shared/spec/schema.md`), so an operator can point this project at an old database.
//! Column types are limited to what both MySQL and SQLite support (`Integer`, `BigInt`,
//! `Text`, `Bool`, `Timestamp`); tables added by this project carry the `bouncer_` prefix.

diesel::table! {
    mirror_aliases (id) {
        id -> Integer,
        alias -> Text,
        related_product -> Text,
    }
}

diesel::table! {
    mirror_products (id) {
        id -> Integer,
        name -> Text,
        priority -> Integer,
        count -> BigInt,
        active -> Bool,
        checknow -> Bool,
        ssl_only -> Bool,
    }
}

diesel::table! {
    mirror_product_langs (id) {
        id -> Integer,
        product_id -> Integer,
        language -> Text,
    }
}

diesel::table! {
    mirror_os (id) {
        id -> Integer,
        name -> Text,
        priority -> Integer,
    }
}

diesel::table! {
    mirror_locations (id) {
        id -> Integer,
        product_id -> Integer,
        os_id -> Integer,
        path -> Text,
    }
}

diesel::table! {
    mirror_mirrors (id) {
        id -> Integer,
        name -> Text,
        baseurl -> Text,
        rating -> Integer,
        active -> Bool,
        count -> BigInt,
    }
}

diesel::table! {
    mirror_location_mirror_map (id) {
        id -> BigInt,
        location_id -> Integer,
        mirror_id -> Integer,
        active -> Bool,
        healthy -> Bool,
        /// sentry's hysteresis: consecutive failed / good probes of this pair.
        fail_streak -> Integer,
        ok_streak -> Integer,
        /// Why sentry last changed the pair's health; `''` while healthy.
        reason -> Text,
    }
}

diesel::table! {
    geoip_regions (id) {
        id -> Integer,
        name -> Text,
        priority -> Integer,
        throttle -> Integer,
        fallback_id -> Nullable<Integer>,
        prevent_global_fallback -> Bool,
    }
}

diesel::table! {
    geoip_country_to_region (country_code) {
        country_code -> Text,
        region_id -> Nullable<Integer>,
        country_name -> Nullable<Text>,
        continent -> Nullable<Text>,
    }
}

diesel::table! {
    geoip_mirror_region_map (id) {
        id -> Integer,
        mirror_id -> Integer,
        region_id -> Integer,
    }
}

diesel::table! {
    sentry_log (mirror_id, log_date) {
        log_date -> Timestamp,
        check_time -> Timestamp,
        mirror_id -> Integer,
        mirror_active -> Bool,
        mirror_rating -> Integer,
        reason -> Text,
    }
}

diesel::table! {
    /// Accounts for tuxedo (API and web UI).
    bouncer_users (id) {
        id -> Integer,
        username -> Text,
        password_hash -> Text,
        role -> Text,
        active -> Bool,
        created_at -> Timestamp,
    }
}

diesel::table! {
    /// Scoped API tokens; only a hash of the secret is stored.
    bouncer_api_tokens (id) {
        id -> Integer,
        user_id -> Integer,
        name -> Text,
        token_hash -> Text,
        role -> Text,
        created_at -> Timestamp,
        expires_at -> Nullable<Timestamp>,
        last_used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    /// Every write through tuxedo or sentry: who, when, what, before and after (JSON).
    bouncer_audit_log (id) {
        id -> BigInt,
        created_at -> Timestamp,
        actor -> Text,
        action -> Text,
        target -> Text,
        before_json -> Nullable<Text>,
        after_json -> Nullable<Text>,
    }
}

diesel::table! {
    /// Ordered rewrite rules bounce applies before resolving; conditions are a JSON list.
    bouncer_rewrite_rules (id) {
        id -> Integer,
        position -> Integer,
        enabled -> Bool,
        description -> Text,
        conditions -> Text,
        set_product -> Nullable<Text>,
        set_os -> Nullable<Text>,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    /// One holder at a time for work that must not run twice at once (see `lease`).
    bouncer_leases (name) {
        name -> Text,
        holder -> Text,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    /// The bounce instances writes wait for, each under a lease (see `fleet`).
    bouncer_instances (url) {
        url -> Text,
        applied -> BigInt,
        registered_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    /// Each location's health on the pinned CDN, per scheme (`http`, `https`), as sentry
    /// last found it at `base_url`; uptake counts it in CDN mode.
    bouncer_cdn_health (location_id, scheme) {
        location_id -> Integer,
        scheme -> Text,
        base_url -> Text,
        active -> Bool,
        healthy -> Bool,
        reason -> Text,
        checked_at -> Timestamp,
    }
}

diesel::table! {
    /// Pending gated alias flips (see `gates`): one per alias.
    bouncer_alias_gates (id) {
        id -> Integer,
        alias -> Text,
        product -> Text,
        os -> Nullable<Text>,
        uptake_percent -> Integer,
        deadline -> Nullable<Timestamp>,
        on_deadline -> Text,
        created_by -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    /// A gate's uptake (the worst location's, in 1/100 %) each time it changed.
    bouncer_alias_gate_samples (id) {
        id -> BigInt,
        gate_id -> Integer,
        at -> Timestamp,
        permyriad -> Integer,
    }
}

diesel::table! {
    /// Counters bumped by every write that changes what bounce serves (see `generation`).
    bouncer_generation (name) {
        name -> Text,
        value -> BigInt,
    }
}

diesel::table! {
    /// sentry's hysteresis and ramp state per mirror; no row = up at 100 %.
    /// `state` is `up`, `down` or `ramping`; bounce multiplies the rating by
    /// `weight_percent / 100`.
    bouncer_mirror_health (mirror_id) {
        mirror_id -> Integer,
        state -> Text,
        weight_percent -> Integer,
        fail_streak -> Integer,
        ok_streak -> Integer,
        last_checked_at -> Nullable<Timestamp>,
        last_reason -> Text,
        changed_at -> Timestamp,
        /// Address families the host has (bit 1 IPv4, bit 2 IPv6); NULL = every family.
        families -> Nullable<SmallInt>,
    }
}

diesel::table! {
    /// The change log: what each generation changed (see `changes`).
    bouncer_changes (id) {
        id -> BigInt,
        generation -> BigInt,
        kind -> Text,
        entity -> BigInt,
        stamp -> BigInt,
    }
}

diesel::table! {
    /// What each file is, per location and language (`''`: the path has no `:lang`): size
    /// and hashes from the operator (`source = "operator"`) or learned by sentry from the
    /// reference origin (`"reference"`). See `files`.
    bouncer_files (location_id, lang) {
        location_id -> Integer,
        lang -> Text,
        size -> Nullable<BigInt>,
        sha256 -> Nullable<Text>,
        sha512 -> Nullable<Text>,
        etag -> Nullable<Text>,
        last_modified -> Nullable<Text>,
        source -> Text,
        updated_at -> Timestamp,
        /// The source a learned row came from: a reference mirror's id, 0 for the pinned
        /// https CDN; NULL for the operator's rows (and learned ones older than the column).
        learned_from -> Nullable<Integer>,
        /// Why a learned size is not enforced (most mirrors contradicted it); NULL: it is.
        disputed -> Nullable<Text>,
    }
}

diesel::table! {
    /// Settings this project adds per mirror; no row = defaults. `reference`: sentry learns
    /// file sizes from this mirror and compares sampled bytes with it.
    bouncer_mirror_settings (mirror_id) {
        mirror_id -> Integer,
        reference -> Bool,
        /// What the mirror's `bouncer_mirror_networks` mean: `''`, `prefer` or `only`.
        network_mode -> Text,
        /// Where the mirror stands (ISO 3166 alpha-2), for `geo=` and Metalink `location`.
        country -> Nullable<Text>,
    }
}

diesel::table! {
    /// Health per address family (4, 6) of a (location, mirror) pair, as sentry probes it;
    /// no row for a pair = the map's `healthy` holds for either family.
    bouncer_family_health (mirror_id, location_id, family) {
        location_id -> Integer,
        mirror_id -> Integer,
        family -> SmallInt,
        healthy -> Bool,
        fail_streak -> Integer,
        ok_streak -> Integer,
        reason -> Text,
    }
}

diesel::table! {
    /// The networks a mirror serves (`AS64500` or a CIDR); see `network_mode`.
    bouncer_mirror_networks (mirror_id, network) {
        mirror_id -> Integer,
        network -> Text,
    }
}

diesel::table! {
    /// Countries (ISO 3166 alpha-2) a mirror must not serve.
    bouncer_mirror_exclusions (mirror_id, country_code) {
        mirror_id -> Integer,
        country_code -> Text,
    }
}

diesel::table! {
    /// Downloads per period and dimension, added from bounce's batches (see `stats`).
    bouncer_download_counts (granularity, bucket, dims) {
        granularity -> Text,
        bucket -> BigInt,
        dims -> BigInt,
        product -> Text,
        os -> Text,
        lang -> Text,
        country -> Text,
        target -> Text,
        family -> SmallInt,
        scheme -> Text,
        downloads -> BigInt,
        bytes -> BigInt,
        agent -> Text,
    }
}

diesel::table! {
    /// Statistics batches already added, so a batch sent again counts once (see `stats`).
    bouncer_stats_batches (id) {
        id -> Text,
        instance -> Text,
        received_at -> BigInt,
    }
}

diesel::table! {
    /// Each vantage's health of a (location, mirror, family), with its streaks; `family`
    /// 0 = not probed per family (see `vantage`).
    bouncer_vantage_health (location_id, mirror_id, family, vantage) {
        location_id -> Integer,
        mirror_id -> Integer,
        family -> SmallInt,
        vantage -> Text,
        active -> Bool,
        healthy -> Bool,
        fail_streak -> Integer,
        ok_streak -> Integer,
        reason -> Text,
    }
}

diesel::table! {
    /// When each vantage last reported (Unix seconds); its lease runs from there.
    bouncer_vantages (name) {
        name -> Text,
        reported_at -> BigInt,
    }
}

diesel::table! {
    /// The vantage rule's verdicts: per region, and globally (`region_id` 0).
    bouncer_region_health (location_id, mirror_id, family, region_id) {
        location_id -> Integer,
        mirror_id -> Integer,
        family -> SmallInt,
        region_id -> Integer,
        healthy -> Bool,
        reason -> Text,
    }
}

diesel::table! {
    /// Each vantage's smoothed timings of a mirror per family (see `vantage`).
    bouncer_vantage_rtt (mirror_id, family, vantage) {
        mirror_id -> Integer,
        family -> SmallInt,
        vantage -> Text,
        connect_us -> Integer,
        ttfb_us -> Integer,
        samples -> Integer,
    }
}

diesel::table! {
    /// A region's nearest live vantage's timing of each mirror (`bounce.proximity`).
    bouncer_region_rtt (region_id, mirror_id, family) {
        region_id -> Integer,
        mirror_id -> Integer,
        family -> SmallInt,
        ttfb_us -> Integer,
        samples -> Integer,
    }
}

diesel::joinable!(mirror_product_langs -> mirror_products (product_id));
diesel::joinable!(mirror_locations -> mirror_products (product_id));
diesel::joinable!(mirror_locations -> mirror_os (os_id));
diesel::joinable!(mirror_location_mirror_map -> mirror_locations (location_id));
diesel::joinable!(bouncer_cdn_health -> mirror_locations (location_id));
diesel::joinable!(bouncer_files -> mirror_locations (location_id));
diesel::joinable!(bouncer_mirror_settings -> mirror_mirrors (mirror_id));
diesel::joinable!(bouncer_family_health -> mirror_mirrors (mirror_id));
diesel::joinable!(bouncer_mirror_networks -> mirror_mirrors (mirror_id));
diesel::joinable!(bouncer_mirror_exclusions -> mirror_mirrors (mirror_id));
diesel::joinable!(bouncer_alias_gate_samples -> bouncer_alias_gates (gate_id));
diesel::joinable!(mirror_location_mirror_map -> mirror_mirrors (mirror_id));
diesel::joinable!(geoip_mirror_region_map -> mirror_mirrors (mirror_id));
diesel::joinable!(geoip_mirror_region_map -> geoip_regions (region_id));
diesel::joinable!(geoip_country_to_region -> geoip_regions (region_id));
diesel::joinable!(sentry_log -> mirror_mirrors (mirror_id));
diesel::joinable!(bouncer_api_tokens -> bouncer_users (user_id));
diesel::joinable!(bouncer_mirror_health -> mirror_mirrors (mirror_id));

diesel::allow_tables_to_appear_in_same_query!(
    mirror_aliases,
    mirror_products,
    mirror_product_langs,
    mirror_os,
    mirror_locations,
    mirror_mirrors,
    mirror_location_mirror_map,
    geoip_regions,
    geoip_country_to_region,
    geoip_mirror_region_map,
    sentry_log,
    bouncer_users,
    bouncer_api_tokens,
    bouncer_audit_log,
    bouncer_rewrite_rules,
    bouncer_generation,
    bouncer_mirror_health,
    bouncer_changes,
    bouncer_leases,
    bouncer_cdn_health,
    bouncer_alias_gates,
    bouncer_alias_gate_samples,
    bouncer_files,
    bouncer_family_health,
    bouncer_vantage_health,
    bouncer_region_health,
    bouncer_vantages,
    bouncer_vantage_rtt,
    bouncer_region_rtt,
    bouncer_mirror_networks,
    bouncer_mirror_exclusions,
    bouncer_mirror_settings,
    bouncer_instances,
    bouncer_download_counts,
    bouncer_stats_batches,
);
