//! `GET /ctx/history` filters: 200 with matching entries, or 400.

use super::*;

/// One `GET /ctx/history` query: each parameter absent, well-formed, or junk.
#[derive(Clone, Debug)]
struct HistoryParams {
    key: Option<String>,
    who: Option<String>,
    prefix: Option<String>,
    since_revision: Option<String>,
    limit: Option<String>,
    /// Appended as is (already a query fragment, maybe malformed).
    junk: String,
}

fn number_text() -> impl Strategy<Value = String> {
    prop_oneof![
        (0u64..40).prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        Just("18446744073709551616".to_owned()),
        "-[0-9]{1,3}|[a-z]{1,3}|[0-9]\\.[0-9]|",
    ]
}

fn history_params() -> impl Strategy<Value = HistoryParams> {
    let text = prop_oneof!["a|a/b|b|c/|x|y|", "\\PC{0,4}"];
    (
        prop::option::of(text.clone()),
        prop::option::of(text.clone()),
        prop::option::of(text),
        prop::option::of(number_text()),
        prop::option::of(number_text()),
        prop_oneof![Just(String::new()), "&[a-z_=%&0-9]{0,12}"],
    )
        .prop_map(
            |(key, who, prefix, since_revision, limit, junk)| HistoryParams {
                key,
                who,
                prefix,
                since_revision,
                limit,
                junk,
            },
        )
}

#[test]
fn history_filters_answer_200_with_matching_entries_or_400() {
    let seed = async |server: &TestServer| {
        for (i, key) in ["a", "a/b", "b", "c/d", "a", "c/e", "b"]
            .iter()
            .cycle()
            .take(21)
            .enumerate()
        {
            let who = if i % 3 == 0 { "x" } else { "y" };
            let answer = server
                .post("/ctx", &json!({"key": key, "value": i, "who": who}))
                .await;
            assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
        }
    };
    let seeded = std::sync::Once::new();
    against_server(
        192,
        history_params(),
        async |server: &TestServer, params: HistoryParams| {
            {
                if !seeded.is_completed() {
                    seed(server).await;
                    seeded.call_once(|| {});
                }
                let mut query = Vec::new();
                for (name, value) in [
                    ("key", &params.key),
                    ("who", &params.who),
                    ("prefix", &params.prefix),
                    ("since_revision", &params.since_revision),
                    ("limit", &params.limit),
                ] {
                    if let Some(value) = value {
                        query.push(format!("{name}={}", encode(value)));
                    }
                }
                let path = format!("/ctx/history?{}{}", query.join("&"), params.junk);
                let answer = server.get(&path).await;
                let body = answered(&answer)?;
                let number_ok = |text: &Option<String>| {
                    text.as_ref().is_none_or(|text| text.parse::<u64>().is_ok())
                };
                let well_formed = number_ok(&params.since_revision)
                    && number_ok(&params.limit)
                    && params.junk.is_empty();
                if well_formed {
                    prop_assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
                }
                if answer.status != StatusCode::OK {
                    prop_assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.text());
                    return Ok(());
                }
                if !well_formed {
                    return Ok(()); // junk that happened to parse: only "no 5xx" holds
                }
                let entries = body["history"].as_array().expect("history array");
                let since: u64 = params
                    .since_revision
                    .as_deref()
                    .map_or(0, |s| s.parse().unwrap_or(0));
                let mut last = since;
                for entry in entries {
                    let revision = entry["revision"].as_u64().expect("revision");
                    prop_assert!(revision > last, "ascending, after since_revision");
                    last = revision;
                    let key = entry["key"].as_str().expect("key");
                    if let Some(wanted) = &params.key {
                        prop_assert_eq!(key, wanted.as_str());
                    }
                    if let Some(prefix) = &params.prefix {
                        prop_assert!(key.starts_with(prefix.as_str()));
                    }
                    if let Some(who) = &params.who {
                        prop_assert_eq!(entry["who"].as_str(), Some(who.as_str()));
                    }
                }
                if let Some(limit) = params.limit.as_deref().and_then(|l| l.parse::<u64>().ok()) {
                    prop_assert!(entries.len() as u64 <= limit);
                }
                Ok(())
            }
        },
    );
}
