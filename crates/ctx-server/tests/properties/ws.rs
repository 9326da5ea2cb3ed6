//! `/ws` messages: the parser accepts exactly the documented shapes, and random
//! frames get answers without breaking the connection.

use super::*;

/// A `/ws` text frame: any text, any JSON, or a valid message with a changed field.
fn ws_frame() -> impl Strategy<Value = String> {
    let message_type = prop_oneof![
        Just(json!("subscribe")),
        Just(json!("set")),
        Just(json!("delete")),
        Just(json!("ping")),
        json_value(),
    ];
    let message = (
        message_type,
        prop::option::of(key().prop_map(Value::from)),
        prop::option::of(json_value()),
        prop::option::of(json_value()),
        prop::option::of(json_value()),
    )
        .prop_map(|(kind, key, value, prefixes, since)| {
            let mut message = json!({"type": kind});
            for (name, field) in [
                ("key", key),
                ("value", value),
                ("prefixes", prefixes),
                ("since_revision", since),
            ] {
                if let Some(field) = field {
                    message[name] = field;
                }
            }
            message.to_string()
        });
    prop_oneof![
        2 => message,
        1 => json_value().prop_map(|value| value.to_string()),
        1 => "\\PC{0,24}",
    ]
}

#[test]
fn the_ws_message_parser_never_panics_and_accepts_exactly_the_documented_shapes() {
    let mut runner = TestRunner::new(ProptestConfig {
        cases: 2048,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    runner
        .run(&ws_frame(), |text| {
            let parsed = ClientMessage::parse(&text);
            if let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(&text) {
                let kind = fields.get("type").and_then(Value::as_str);
                let known = matches!(kind, Some("subscribe" | "set" | "delete" | "ping"));
                if !known {
                    prop_assert!(parsed.is_err(), "{text}");
                }
                if kind == Some("set") && fields.get("value").is_none_or(Value::is_null) {
                    prop_assert!(parsed.is_err(), "a set without a value: {text}");
                }
            } else {
                prop_assert!(parsed.is_err(), "not a JSON object: {text}");
            }
            if let Err(message) = parsed {
                prop_assert!(
                    !message.is_empty() && !message.contains('\n'),
                    "{message:?}"
                );
            }
            Ok(())
        })
        .unwrap_or_else(|failure| panic!("{failure}"));
}

#[test]
fn random_ws_frames_get_answers_and_never_break_the_connection() {
    let (runtime, server) = runtime_with_server();
    let url = format!("{}/ws", server.base.replace("http://", "ws://"));
    let socket = runtime
        .block_on(tokio_tungstenite::connect_async(url))
        .expect("connect")
        .0;
    let socket = tokio::sync::Mutex::new(socket);
    let mut runner = TestRunner::new(ProptestConfig {
        cases: 128,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let sequence = std::sync::atomic::AtomicU64::new(0);
    let result = runner.run(&ws_frame(), |text| {
        let id = format!(
            "probe-{}",
            sequence.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        runtime.block_on(async {
            let mut socket = socket.lock().await;
            let parsed = ClientMessage::parse(&text);
            socket
                .send(Message::text(text.clone()))
                .await
                .expect("send");
            socket
                .send(Message::text(json!({"type": "ping", "id": id}).to_string()))
                .await
                .expect("send ping");
            // Read until our pong: the frame's own answer (an error for a bad frame) comes
            // first; events from earlier subscribes may be interleaved.
            let mut saw_error = false;
            loop {
                let frame = tokio::time::timeout(Duration::from_secs(20), socket.next())
                    .await
                    .map_err(|_| TestCaseError::fail("no pong within 20 s"))?;
                let Some(Ok(frame)) = frame else {
                    return Err(TestCaseError::fail(format!(
                        "connection ended after {text:?}"
                    )));
                };
                let Message::Text(frame) = frame else {
                    continue;
                };
                let message: Value = serde_json::from_str(&frame).expect("the server sends JSON");
                match message["type"].as_str() {
                    Some("pong") if message["id"] == json!(id) => break,
                    Some("error") => saw_error = true,
                    _ => {}
                }
            }
            if parsed.is_err() {
                prop_assert!(saw_error, "a bad frame is answered with an error: {text}");
            }
            Ok(())
        })
    });
    drop(socket);
    runtime.block_on(server.stop());
    if let Err(failure) = result {
        panic!("{failure}");
    }
}
