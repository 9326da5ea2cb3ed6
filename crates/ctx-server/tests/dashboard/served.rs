//! The page and its files over HTTP (served without the key) and the auth mode the page
//! reads.

use super::*;

#[tokio::test]
async fn the_page_and_its_files_are_served_without_the_key() {
    let server = guarded_server().await;
    let page = server.get("/").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.content_type.starts_with("text/html"),
        "{}",
        page.content_type
    );
    assert!(page.text().contains("/dashboard/app.js"));
    let policy = page.headers["content-security-policy"].to_str().unwrap();
    assert!(policy.contains("default-src 'self'"), "{policy}");
    for file in [
        "app.js",
        "api.js",
        "live.js",
        "context.js",
        "panels.js",
        "chart.js",
    ] {
        let answer = server.get(&format!("/dashboard/{file}")).await;
        assert_eq!(answer.status, StatusCode::OK, "{file}");
        assert!(answer.content_type.starts_with("text/javascript"), "{file}");
    }
    let css = server.get("/dashboard/style.css").await;
    assert!(css.content_type.starts_with("text/css"));
    assert_error(
        &server.get("/dashboard/missing.js").await,
        StatusCode::NOT_FOUND,
    );
    assert_eq!(
        server.get("/dashboard/auth").await.json(),
        json!({"api_key": "always"})
    );
    // The data is still guarded.
    assert_error(&server.get("/ctx/all").await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_auth_mode_says_which_requests_need_the_key() {
    let open = TestServer::start().await;
    assert_eq!(
        open.get("/dashboard/auth").await.json(),
        json!({"api_key": "never"})
    );
    let writes = TestServer::start_with(|config| config.api_key = Some(KEY.into())).await;
    assert_eq!(
        writes.get("/dashboard/auth").await.json(),
        json!({"api_key": "writes"})
    );
}
