//! Writes over the socket: confirmed with revisions, bad input answered to its
//! sender only, API keys and roles.

use super::*;

#[tokio::test]
async fn socket_writes_are_confirmed_with_revisions() {
    let server = TestServer::start().await;
    let mut writer = WsClient::connect(&server).await;
    let mut watcher = WsClient::connect(&server).await;
    watcher.subscribe(&[], None).await;

    writer
        .send(json!({"type": "set", "key": "w/a", "value": {"n": 1}, "who": "runner-7", "id": 1}))
        .await;
    let confirmed = writer.json().await;
    assert_eq!(confirmed["type"], "set_confirmed", "{confirmed}");
    assert_eq!(confirmed["id"], 1);
    assert_eq!(confirmed["key"], "w/a");
    assert_eq!(confirmed["revision"], 1);
    assert_eq!(confirmed["changed"], true);
    let read = server.get("/ctx/w/a").await.json();
    assert_eq!(read["value"], json!({"n": 1}));
    assert_eq!(read["revision"], 1);

    writer
        .send(json!({"type": "delete", "key": "w/a", "id": "del-1"}))
        .await;
    let confirmed = writer.json().await;
    assert_eq!(confirmed["type"], "delete_confirmed", "{confirmed}");
    assert_eq!(confirmed["id"], "del-1");
    assert_eq!(confirmed["revision"], 2);

    let events = watcher.events_through(2).await;
    assert_eq!(events[0]["who"], "runner-7");
    assert_eq!(events[1]["type"], "context_deleted");
    assert_eq!(events[1]["who"], "ws_client");

    // Refused writes answer an error carrying the request id.
    writer
        .send(json!({"type": "set", "key": "", "value": 1, "id": 9}))
        .await;
    let error = writer.json().await;
    assert_eq!(error["type"], "error", "{error}");
    assert_eq!(error["id"], 9);
    writer
        .send(json!({"type": "set", "key": "k", "value": null}))
        .await;
    let error = writer.json().await;
    assert_eq!(error["type"], "error", "{error}");
}

#[tokio::test]
async fn bad_input_gets_an_error_for_that_client_only() {
    let server = TestServer::start_with(|c| c.live.max_message_bytes = 1024).await;
    let mut bad = WsClient::connect(&server).await;
    let mut good = WsClient::connect(&server).await;
    good.subscribe(&[], None).await;

    bad.send_text("{not json".into()).await;
    let error = bad.json().await;
    assert_eq!(error["type"], "error");
    assert!(
        error["error"].as_str().unwrap_or("").contains("malformed"),
        "{error}"
    );

    bad.send(json!({"type": "launch_rockets"})).await;
    let error = bad.json().await;
    assert!(
        error["error"]
            .as_str()
            .unwrap_or("")
            .contains("unknown message type"),
        "{error}"
    );

    bad.send(json!([1, 2])).await;
    assert_eq!(bad.json().await["type"], "error");
    bad.send(json!({"type": "subscribe", "prefixes": "not-a-list"}))
        .await;
    assert_eq!(bad.json().await["type"], "error");
    bad.ws
        .send(Message::binary(vec![1u8, 2, 3]))
        .await
        .expect("send");
    assert_eq!(bad.json().await["type"], "error");

    // Over the limit: refused, and the connection stays usable.
    bad.send(json!({"type": "set", "key": "big", "value": "x".repeat(2000)}))
        .await;
    let error = bad.json().await;
    assert!(
        error["error"].as_str().unwrap_or("").contains("limit"),
        "{error}"
    );
    assert!(bad.sync().await.is_empty());

    // Others were not disturbed and the server still writes.
    server.set("still", json!("fine")).await;
    let events = good.events_through(1).await;
    assert_eq!(events.len(), 1);
    assert!(good.sync().await.is_empty());

    // Far over the limit: the socket layer cannot read it, so the connection is closed
    // with 1009 and a reason.
    bad.send(json!({"type": "set", "key": "huge", "value": "x".repeat(10_000)}))
        .await;
    let error = bad.json().await;
    assert_eq!(error["code"], "too_big", "{error}");
    match bad.frame().await {
        Some(Message::Close(Some(frame))) => assert_eq!(frame.code, CloseCode::Size),
        other => panic!("expected a close frame, got {other:?}"),
    }
    assert!(good.sync().await.is_empty());
}

#[tokio::test]
async fn socket_writes_need_the_api_key_when_one_is_set() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let server = TestServer::start_with(|c| c.api_key = Some("s3cret".into())).await;

    let mut anonymous = WsClient::connect(&server).await;
    anonymous.subscribe(&[], None).await; // reading stays open in scope `writes`
    anonymous
        .send(json!({"type": "set", "key": "k", "value": 1, "id": 1}))
        .await;
    let error = anonymous.json().await;
    assert_eq!(error["code"], "unauthorized", "{error}");
    assert_eq!(error["id"], 1);

    let url = format!("{}/ws", server.base.replace("http://", "ws://"));
    let mut request = url.into_client_request().expect("request");
    request
        .headers_mut()
        .insert("x-api-key", "s3cret".parse().expect("header"));
    let (ws, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("connect");
    let mut keyed = WsClient { ws };
    keyed
        .send(json!({"type": "set", "key": "k", "value": 1, "id": 2}))
        .await;
    assert_eq!(keyed.json().await["type"], "set_confirmed");
    assert_eq!(anonymous.events_through(1).await[0]["key"], "k");
}

#[tokio::test]
async fn a_read_only_key_may_watch_over_ws_but_not_write() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let server = TestServer::start_with(|c| {
        c.auth_scope = ctx_server::AuthScope::All;
        c.api_keys = vec!["read:r-key".parse().unwrap()];
    })
    .await;
    let url = format!("{}/ws", server.base.replace("http://", "ws://"));
    let anonymous = tokio_tungstenite::connect_async(url.clone()).await;
    assert!(anonymous.is_err(), "scope all: no key, no upgrade");

    let mut request = url.into_client_request().expect("request");
    request
        .headers_mut()
        .insert("x-api-key", "r-key".parse().expect("header"));
    let (ws, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("connect");
    let mut reader = WsClient { ws };
    reader.subscribe(&[], None).await;
    reader
        .send(json!({"type": "set", "key": "k", "value": 1, "id": 7}))
        .await;
    let error = reader.json().await;
    assert_eq!(error["code"], "unauthorized", "{error}");
}
