use super::*;

#[test]
fn the_account_must_hold_the_reservations_and_the_unreserved_hundred() {
    // 800 ingest + 25 read + 15 processor + 5 notifier + 1 migrate: the
    // same 946 pulumi/tests/infra.test.ts asks the quota for.
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
    // The same figures pulumi/tests/infra.test.ts computes from the file.
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

#[test]
fn the_budget_agrees_with_the_hand_worked_cases_pulumi_also_computes() {
    // Every environment a function can have (its reserved concurrency,
    // its mapping's maximumConcurrency, the account's limit) times its
    // pool and init, beside the limit less the reserve.
    let table: serde_json::Value =
        serde_json::from_str(include_str!("../../../../deploy/budget-cases.json")).unwrap();
    let cases = table["cases"].as_array().unwrap();
    assert!(cases.len() >= 8);
    for case in cases {
        let mut v: serde_json::Value = serde_json::from_str(SHIPPED).unwrap();
        merge(&mut v, &case["edit"]);
        let s = DeploymentSettings::parse(&v.to_string()).unwrap();
        let budget = s.connection_budget();
        let name = &case["name"];
        assert_eq!(u64::from(budget.needed()), case["needed"], "{name}");
        assert_eq!(u64::from(budget.available), case["available"], "{name}");
        assert_eq!(budget.fits(), case["fits"], "{name}");
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
