//! `POST /ctx` bodies and keys through every route.

use super::*;

/// A POST /ctx body: a well-formed object (fields of any type), arbitrary bytes, or a
/// valid body with some bytes changed or cut.
#[derive(Clone, Debug)]
enum Body {
    Object { fields: Value },
    Bytes(Vec<u8>),
}

fn body() -> impl Strategy<Value = Body> {
    let field = prop_oneof![key().prop_map(Value::from), json_value()];
    let object = (
        prop::option::of(field.clone()),
        prop::option::of(json_value()),
        prop::option::of(field),
    )
        .prop_map(|(key, value, who)| {
            let mut fields = serde_json::Map::new();
            for (name, field) in [("key", key), ("value", value), ("who", who)] {
                if let Some(field) = field {
                    fields.insert(name.to_owned(), field);
                }
            }
            Body::Object {
                fields: Value::Object(fields),
            }
        });
    let valid = br#"{"key":"k/1","value":{"a":[1,2.5,"x"],"b":null},"who":"w"}"#.to_vec();
    let mutated = (
        prop::collection::vec((0..valid.len(), any::<u8>()), 1..4),
        0..=valid.len(),
    )
        .prop_map(move |(changes, cut)| {
            let mut bytes = valid.clone();
            for (at, byte) in changes {
                bytes[at] = byte;
            }
            bytes.truncate(cut.max(1));
            Body::Bytes(bytes)
        });
    prop_oneof![
        3 => object,
        1 => prop::collection::vec(any::<u8>(), 0..64).prop_map(Body::Bytes),
        2 => mutated,
    ]
}

#[test]
fn post_bodies_get_a_json_answer_and_what_is_accepted_reads_back() {
    against_server(192, body(), async |server: &TestServer, body: Body| {
        let (bytes, expected) = match &body {
            Body::Object { fields } => (fields.to_string().into_bytes(), Some(fields.clone())),
            Body::Bytes(bytes) => (bytes.clone(), None),
        };
        let answer = server
            .request(
                Method::POST,
                "/ctx",
                Some("application/json"),
                bytes.clone(),
            )
            .await;
        let body = answered(&answer)?;
        // What the rules accept: a JSON object, `key` a valid non-empty string, `value`
        // present and not null, `who` absent, null or a string.
        let request: Option<Value> = serde_json::from_slice(&bytes).ok();
        let acceptable = request.as_ref().is_some_and(|request| {
            let key_ok = request["key"]
                .as_str()
                .is_some_and(|k| !k.is_empty() && !k.chars().any(char::is_control));
            let value_ok = !request["value"].is_null();
            let who_ok = matches!(
                request.get("who"),
                None | Some(Value::Null | Value::String(_))
            );
            request.is_object() && key_ok && value_ok && who_ok
        });
        prop_assert_eq!(
            answer.status == StatusCode::OK,
            acceptable,
            "{}",
            answer.text()
        );
        if answer.status != StatusCode::OK {
            prop_assert_eq!(&body["status"], "error");
            return Ok(());
        }
        let key = body["key"].as_str().expect("the answer names the key");
        let read = server.get(&format!("/ctx/{}", encode(key))).await;
        prop_assert_eq!(read.status, StatusCode::OK);
        prop_assert_eq!(&read.json()["value"], &body["value"]);
        if let Some(fields) = expected {
            prop_assert_eq!(&fields["value"], &body["value"], "the value round-trips");
            prop_assert_eq!(&fields["key"], &body["key"]);
        }
        Ok(())
    });
}

#[test]
fn keys_round_trip_through_every_route_or_are_refused_with_400() {
    against_server(128, key(), async |server: &TestServer, key: String| {
        let valid = !key.is_empty() && !key.chars().any(char::is_control);
        let path = format!("/ctx/{}", encode(&key));
        let set = server
            .post("/ctx", &json!({"key": key, "value": [key]}))
            .await;
        answered(&set)?;
        let read = server.get(&path).await;
        let read_body = answered(&read)?;
        if !valid {
            prop_assert_eq!(set.status, StatusCode::BAD_REQUEST, "{}", set.text());
            // An empty key is the path `/ctx/`: not a key route at all.
            if !key.is_empty() {
                prop_assert_eq!(read.status, StatusCode::BAD_REQUEST, "{}", read.text());
            }
            return Ok(());
        }
        prop_assert_eq!(set.status, StatusCode::OK, "{}", set.text());
        prop_assert_eq!(read.status, StatusCode::OK, "{}", read.text());
        prop_assert_eq!(&read_body["key"], &json!(key));
        prop_assert_eq!(&read_body["value"], &json!([key]));
        let deleted = server.delete(&path).await;
        prop_assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.text());
        // Framework0's answer for a missing key: 200 with `found: false`.
        let gone = server.get(&path).await;
        prop_assert_eq!(gone.status, StatusCode::OK);
        prop_assert_eq!(&gone.json()["found"], &json!(false));
        Ok(())
    });
}
