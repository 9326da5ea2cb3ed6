//! API keys: guarding writes or everything, roles (401 without a known key, 403
//! when the role is too low).

use super::*;

#[tokio::test]
async fn api_key_guards_writes_or_everything() {
    let server = TestServer::start_with(|c| c.api_key = Some("s3cret".into())).await;
    assert_error(
        &server.post("/ctx", &json!({"key": "k", "value": 1})).await,
        StatusCode::UNAUTHORIZED,
    );
    assert_eq!(
        server.get("/ctx/k").await.status,
        StatusCode::OK,
        "reads stay open with scope `writes`"
    );
    let body = json!({"key": "k", "value": 1}).to_string();
    let request = hyper::Request::builder()
        .method(Method::POST)
        .uri(format!("{}/ctx", server.base))
        .header("content-type", "application/json")
        .header("authorization", "Bearer s3cret")
        .body(http_body_util::Full::new(bytes::Bytes::from(body)))
        .unwrap();
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http();
    assert_eq!(
        client.request(request).await.unwrap().status(),
        StatusCode::OK
    );

    let locked = TestServer::start_with(|c| {
        c.api_key = Some("s3cret".into());
        c.auth_scope = ctx_server::AuthScope::All;
    })
    .await;
    assert_error(&locked.get("/ctx/k").await, StatusCode::UNAUTHORIZED);
    assert_eq!(locked.get("/health").await.status, StatusCode::OK);
}

#[tokio::test]
async fn api_keys_have_roles_401_without_a_known_key_and_403_when_the_role_is_too_low() {
    let server = TestServer::start_with(|c| {
        c.auth_scope = ctx_server::AuthScope::All;
        c.api_keys = ["read:r-key", "write:w-key", "admin:a-key"]
            .iter()
            .map(|entry| entry.parse().unwrap())
            .collect();
    })
    .await;
    let as_key = |key: &'static str| [("x-api-key", key)];
    let get = |path: &'static str, key: &'static str| {
        let server = &server;
        async move {
            server
                .request_with(Method::GET, path, None, &as_key(key), "")
                .await
        }
    };
    let post = |path: &'static str, key: &'static str| {
        let server = &server;
        async move {
            let body = json!({"key": "k", "value": 1}).to_string();
            server
                .request_with(
                    Method::POST,
                    path,
                    Some("application/json"),
                    &as_key(key),
                    body,
                )
                .await
        }
    };

    assert_error(&server.get("/ctx/k").await, StatusCode::UNAUTHORIZED);
    assert_error(&get("/ctx/k", "nobody").await, StatusCode::UNAUTHORIZED);
    assert_eq!(get("/ctx/k", "r-key").await.status, StatusCode::OK);
    let refused = post("/ctx", "r-key").await;
    assert_error(&refused, StatusCode::FORBIDDEN);
    let message = refused.json()["error"].as_str().unwrap().to_owned();
    assert!(
        message.contains("role read") && message.contains("role write"),
        "{message}"
    );
    assert!(!message.contains("r-key"), "keys never appear: {message}");
    assert_eq!(post("/ctx", "w-key").await.status, StatusCode::OK);
    // Creating a dump writes on the server's disk: admin only. Listing is a read.
    assert_error(&post("/ctx/dump", "w-key").await, StatusCode::FORBIDDEN);
    assert_eq!(post("/ctx/dump", "a-key").await.status, StatusCode::OK);
    assert_eq!(get("/ctx/dump/list", "r-key").await.status, StatusCode::OK);
    assert_eq!(post("/ctx", "a-key").await.status, StatusCode::OK);
    // A Bearer header works the same; /health needs nothing.
    let bearer = server
        .request_with(
            Method::GET,
            "/ctx/k",
            None,
            &[("authorization", "Bearer r-key")],
            "",
        )
        .await;
    assert_eq!(bearer.status, StatusCode::OK);
    assert_eq!(server.get("/health").await.status, StatusCode::OK);
}
