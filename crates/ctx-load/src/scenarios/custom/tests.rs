//! The scenario-file parser, from text to generated requests.

use hyper::Method;
use serde_json::Value;

use super::parse;
use super::template::fill;

const GOOD: &str = r#"
[[scenario]]
name = "hot_keys"
clients = 2
ops = 10
setup = [ { method = "POST", path = "/ctx", body = { key = "hot.0", value = 0 } } ]

[[scenario.request]]
path = "/ctx/hot.{op}"
weight = 2

[[scenario.request]]
method = "post"
path = "/ctx"
body = { key = "hot.{client}", value = "{op}", who = "c{client}" }

[scenario.thresholds]
success_rate = 99
p99_ms = 50.5
leak = true
"#;

#[test]
fn parses_and_generates() {
    let s = parse(GOOD, "t.toml").unwrap();
    assert_eq!(s.len(), 1);
    let s = &s[0];
    assert_eq!(
        (s.name.as_str(), s.clients, s.ops_per_client, s.setup.len()),
        ("hot_keys", 2, 10, 1)
    );
    assert_eq!(s.thresholds.min_success_rate_pct, Some(99.0));
    assert_eq!(s.thresholds.max_p99_ms, Some(50.5));
    assert!(s.thresholds.fail_on_leak);
    let g = &s.generator;
    assert_eq!(g(1, 0).path, "/ctx/hot.0");
    assert_eq!(g(1, 1).path, "/ctx/hot.1");
    let w = g(1, 5);
    assert_eq!(w.method, Method::POST);
    let body: Value = serde_json::from_slice(w.body.as_ref().unwrap()).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"key": "hot.1", "value": 5, "who": "c1"})
    );
}

#[test]
fn a_file_scenario_must_succeed_unless_it_says_otherwise() {
    let plain = "[[scenario]]\nname='a'\nclients=1\nops=1\nrequest=[{path='/x'}]";
    let s = parse(plain, "t.toml").unwrap();
    assert_eq!(s[0].thresholds.min_success_rate_pct, Some(99.0));
    let off = format!("{plain}\nthresholds={{success_rate='off'}}");
    let s = parse(&off, "t.toml").unwrap();
    assert_eq!(s[0].thresholds.min_success_rate_pct, None);
}

#[test]
fn rand_placeholders_spread_over_a_padded_range() {
    let path = fill("/ctx/bench_00{rand:100000}/{rand:7}", 3, 0);
    let (key, small) = path["/ctx/bench_00".len()..].split_once('/').unwrap();
    assert_eq!(key.len(), 5, "{path}");
    assert!(small.parse::<u64>().unwrap() < 7, "{path}");
    let keys: std::collections::HashSet<String> =
        (0..1000).map(|op| fill("{rand:100000}", 1, op)).collect();
    assert!(
        keys.len() > 990,
        "1000 ops hit {} distinct keys",
        keys.len()
    );
    assert!(
        keys.iter()
            .all(|k| k.len() == 5 && k.parse::<u64>().unwrap() < 100_000)
    );
    assert_eq!(fill("{rand:100000}", 1, 9), fill("{rand:100000}", 1, 9));
    assert_ne!(fill("{rand:100000}", 1, 9), fill("{rand:100000}", 2, 9));
    assert_eq!(fill("{rand:1}", 5, 5), "0");
}

#[test]
fn rejects_bad_files() {
    for (text, needle) in [
        ("", "no [[scenario]]"),
        (
            "[[scenario]]\nname='a'\nclients=1\nops=1\nrequest=[]",
            "at least one",
        ),
        (
            "[[scenario]]\nname='a b'\nclients=1\nops=1\nrequest=[{path='/x'}]",
            "name",
        ),
        (
            "[[scenario]]\nname='a'\nclients=0\nops=1\nrequest=[{path='/x'}]",
            "at least 1",
        ),
        (
            "[[scenario]]\nname='a'\nclients=1\nops=1\nrequest=[{path='/x y'}]",
            "valid URL path",
        ),
        (
            "[[scenario]]\nname='a'\nclients=1\nops=1\nrequest=[{path='/x'}]\nthresholds={p98_ms=1}",
            "unknown metric",
        ),
        (
            "[[scenario]]\nname='a'\nclients=1\nops=1\nrequest=[{path='/x', colour=1}]",
            "unknown field",
        ),
        (
            "[[scenario]]\nname='a'\nclients=1\nops=1\nrequest=[{path='/x/{rand:0}'}]",
            "{rand:N}",
        ),
        (
            "[[scenario]]\nname='a'\nclients=1\nops=1\nrequest=[{path='/x'}]\ncheck=[{status=200, json='a'}]",
            "exactly one of status, header or json",
        ),
        (
            "[[scenario]]\nname='a'\nclients=1\nops=1\nrequest=[{path='/x'}]\ncheck=[{status=99}]",
            "not an HTTP status",
        ),
        (
            "[[scenario]]\nname='a'\nclients=1\nops=1\nrequest=[{path='/x'}]\ncheck=[{json='a..b'}]",
            "field path",
        ),
        (
            "[[scenario]]\nname='a'\nclients=1\nops=1\nrequest=[{path='/x', body={k='{rand:many}'}}]",
            "{rand:N}",
        ),
    ] {
        let err = parse(text, "t.toml").unwrap_err().to_string();
        assert!(err.contains(needle), "{text:?}: {err}");
    }
}

#[test]
fn stages_and_think_time_come_from_the_file() {
    let base = "[[scenario]]\nname='a'\nclients=1\nops=1\nrequest=[{path='/x'}]\n";
    let rate = format!(
        "{base}think_time='250ms'\nstage=[{{duration='10s', rate=100}}, {{duration=30, rate=1000}}]"
    );
    let s = parse(&rate, "t.toml").unwrap();
    let plan = s[0].stages.as_ref().expect("stages");
    assert_eq!(plan.ramps, crate::model::StageKind::Rate);
    assert_eq!(plan.describe(), "10s:100,30s:1000");
    assert_eq!(s[0].think_time, Some(std::time::Duration::from_millis(250)));
    let clients = format!("{base}stage=[{{duration='1m', clients=5}}]");
    let s = parse(&clients, "t.toml").unwrap();
    assert_eq!(
        s[0].stages.as_ref().map(|p| p.ramps),
        Some(crate::model::StageKind::Clients)
    );
    for (extra, needle) in [
        (
            "stage=[{duration='1s', rate=1}, {duration='1s', clients=1}]",
            "the same in every stage",
        ),
        ("stage=[{duration='1s', rate=1, clients=1}]", "exactly one"),
        ("stage=[{duration='1y', rate=1}]", "unit"),
        ("stage=[{duration='1s', rate=0}]", "no request"),
        ("think_time=true", "not a duration"),
    ] {
        let err = parse(&format!("{base}{extra}"), "t.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains(needle), "{extra}: {err}");
    }
}
