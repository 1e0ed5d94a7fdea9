use super::*;

#[test]
fn the_account_must_hold_the_reservations_and_the_unreserved_hundred() {
    // 800 ingest + 25 read + 15 processor + 5 notifier + 1 migrate: the
    // same 946 pulumi/tests/rules.test.ts asks the quota for.
    let mut s = DeploymentSettings::shipped().unwrap();
    assert_eq!(s.reserved_concurrency(), 846);
    s.account_concurrency = 946;
    assert!(s.fits_account());
    s.account_concurrency = 945;
    assert!(!s.fits_account());
}

#[test]
fn the_shipped_settings_fit_the_explicit_connection_limit_with_the_reserve() {
    let s = DeploymentSettings::shipped().unwrap();
    let budget = s.connection_budget();
    assert!(
        budget.fits(),
        "{} connections needed, {} available: {budget:?}",
        budget.needed(),
        budget.available
    );
    assert_eq!(budget.available, s.max_connections - s.reserved_connections);
    // The same figures pulumi/tests/rules.test.ts computes from the file.
    assert_eq!((budget.needed(), budget.available), (45, 50));
    assert_eq!(
        budget.functions[&FunctionName::Ingest],
        (800, 0),
        "ingest has no pool"
    );
    assert_eq!(s.connection_alarm_threshold(), 48);
    assert_eq!(s.lock_wait_secs(), 10);
}

/// `edit` laid over `base`: objects key by key, anything else replaced.
fn merge(base: &mut serde_json::Value, edit: &serde_json::Value) {
    match (base, edit) {
        (serde_json::Value::Object(b), serde_json::Value::Object(e)) => {
            for (k, v) in e {
                merge(b.entry(k.clone()).or_insert(serde_json::Value::Null), v);
            }
        }
        (b, e) => *b = e.clone(),
    }
}

/// The file a case starts from: deploy/settings.json, or the one it names.
fn base_of(case: &serde_json::Value) -> serde_json::Value {
    let text = match case["base"].as_str() {
        None => SHIPPED,
        Some("deploy/first-deployment.json") => {
            include_str!("../../../../deploy/first-deployment.json")
        }
        Some(other) => panic!("a case's base this test does not know: {other}"),
    };
    serde_json::from_str(text).unwrap()
}

/// Every number the settings derive, as the Pulumi program's tests compute
/// them from the same table.
fn derived(s: &DeploymentSettings) -> serde_json::Value {
    let budget = s.connection_budget();
    let environments: serde_json::Map<String, serde_json::Value> = s
        .functions
        .iter()
        .map(|(name, _)| (name.to_string(), s.max_environments(name).into()))
        .collect();
    serde_json::json!({
        "refused_to_deploy": s.deploy_refusal(),
        "needed": budget.needed(),
        "available": budget.available,
        "fits": budget.fits(),
        "max_environments": environments,
        "connection_alarm_threshold": s.connection_alarm_threshold(),
        "lock_wait_secs": s.lock_wait_secs(),
        "reserved_concurrency": s.reserved_concurrency(),
        "fits_account": s.fits_account(),
    })
}

#[test]
fn every_settings_case_both_languages_compute_agrees_with_the_rust_rules() {
    let table: serde_json::Value =
        serde_json::from_str(include_str!("../../../../deploy/settings-cases.json")).unwrap();
    assert_eq!(table["routes"], serde_json::json!(API_ROUTES));
    let constants = &table["constants"];
    assert_eq!(constants["init_extra_connections"], INIT_EXTRA_CONNECTIONS);
    assert_eq!(constants["unreserved_minimum"], UNRESERVED_MINIMUM);
    assert_eq!(constants["migration_reserved"], MIGRATION_RESERVED);
    let cases = table["cases"].as_array().unwrap();
    assert!(cases.len() >= 20, "{} cases", cases.len());
    for case in cases {
        let name = &case["name"];
        let mut v = base_of(case);
        merge(&mut v, &case["edit"]);
        let parsed = DeploymentSettings::parse(&v.to_string());
        if let Some(why) = case["refused"].as_str() {
            let e = parsed.expect_err(&format!("{name}: parsed, but refused in the table"));
            assert!(
                e.to_string().contains(why),
                "{name}: `{e}` does not say `{why}`"
            );
            continue;
        }
        let s = parsed.unwrap_or_else(|e| panic!("{name}: refused ({e}), parsed in the table"));
        let got = derived(&s);
        match (
            case["refused_to_deploy"].as_str(),
            got["refused_to_deploy"].as_str(),
        ) {
            (None, None) => {}
            (Some(want), Some(said)) => {
                assert!(
                    said.contains(want),
                    "{name}: `{said}` does not say `{want}`"
                )
            }
            (want, said) => panic!("{name}: pulumi up refuses {want:?}, the Rust rule {said:?}"),
        }
        for field in [
            "needed",
            "available",
            "fits",
            "max_environments",
            "connection_alarm_threshold",
            "lock_wait_secs",
            "reserved_concurrency",
            "fits_account",
        ] {
            assert_eq!(got[field], case[field], "{name}: {field}");
        }
    }
}

#[test]
fn the_committed_schema_is_the_one_the_type_describes_and_names_are_checked() {
    let committed = include_str!("../../../../deploy/settings.schema.json");
    assert!(
        committed == DeploymentSettings::json_schema(),
        "deploy/settings.schema.json is stale: cargo run -p sim -- deployment --schema > deploy/settings.schema.json"
    );
    let mut v: serde_json::Value = serde_json::from_str(SHIPPED).unwrap();
    let f = v["functions"].as_object_mut().unwrap();
    let read = f.remove("read").unwrap();
    f.insert("reader".into(), read);
    let e = DeploymentSettings::parse(&v.to_string())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("unknown field `reader`, expected one of `ingest`"),
        "{e}"
    );
    let mut v: serde_json::Value = serde_json::from_str(SHIPPED).unwrap();
    v["event_sources"]
        .as_object_mut()
        .unwrap()
        .remove("notifier");
    let e = DeploymentSettings::parse(&v.to_string())
        .unwrap_err()
        .to_string();
    assert!(e.contains("missing field `notifier`"), "{e}");
}

#[test]
fn uncapped_functions_overrun_the_budget() {
    let mut s = DeploymentSettings::shipped().unwrap();
    for f in s.functions.iter_mut() {
        f.reserved_concurrency = None;
    }
    for e in s.event_sources.iter_mut() {
        e.maximum_concurrency = None;
    }
    let budget = s.connection_budget();
    assert_eq!(budget.functions[&FunctionName::Processor], (1000, 1000));
    assert!(!budget.fits());
    assert!(DeploymentSettings::parse(r#"{"instance_class": 3}"#).is_err());
}

#[test]
fn a_settings_file_without_an_explicit_connection_limit_is_refused() {
    let without = SHIPPED.replace("\"max_connections\"", "\"max_connection\"");
    let e = DeploymentSettings::parse(&without).unwrap_err().to_string();
    assert!(e.contains("max_connection"), "{e}");
}

#[test]
fn an_ingest_without_a_database_needs_a_read_function_and_route_throttles_stay_within_the_stage() {
    let mut v: serde_json::Value = serde_json::from_str(SHIPPED).unwrap();
    v["functions"].as_object_mut().unwrap().remove("read");
    let e = DeploymentSettings::parse(&v.to_string())
        .unwrap_err()
        .to_string();
    assert!(e.contains("no `read` function"), "{e}");

    let mut v: serde_json::Value = serde_json::from_str(SHIPPED).unwrap();
    v["route_throttles"]["GET /api/dlq"] = serde_json::json!({"rate": 1, "burst": 1});
    let e = DeploymentSettings::parse(&v.to_string())
        .unwrap_err()
        .to_string();
    assert!(e.contains("not a route of the API"), "{e}");

    let mut v: serde_json::Value = serde_json::from_str(SHIPPED).unwrap();
    v["route_throttles"]["GET /health"] = serde_json::json!({"rate": 1_000_000, "burst": 1});
    let e = DeploymentSettings::parse(&v.to_string())
        .unwrap_err()
        .to_string();
    assert!(e.contains("more than the stage's throttle"), "{e}");

    let s = DeploymentSettings::shipped().unwrap();
    assert_eq!(s.read_function(), FunctionName::Read);
    assert_eq!(s.throttle_of("GET /health").rate, 10);
    assert_eq!(s.throttle_of("POST /api/orders"), s.stage_throttle);
}
