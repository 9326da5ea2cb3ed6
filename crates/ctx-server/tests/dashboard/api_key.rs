//! The API key in the page: offered to `/ws` as a subprotocol, asked for when the server
//! guards everything or on a refused write.

use super::*;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

impl TestServer {
    /// `POST /ctx` with the API key; asserts success.
    async fn set_with_key(&self, key: &str, value: Value) {
        let answer = self
            .request_with(
                Method::POST,
                "/ctx",
                Some("application/json"),
                &[("x-api-key", KEY)],
                json!({"key": key, "value": value}).to_string(),
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    }
}

/// Connects to `/ws` offering `protocols`, as a browser does.
async fn ws_with_protocols(server: &TestServer, protocols: &str) -> Result<String, String> {
    let url = format!("{}/ws", server.base.replacen("http", "ws", 1));
    let mut request = url.into_client_request().expect("request");
    request.headers_mut().insert(
        "sec-websocket-protocol",
        HeaderValue::from_str(protocols).expect("header"),
    );
    match tokio_tungstenite::connect_async(request).await {
        Ok((_, response)) => Ok(response.headers()["sec-websocket-protocol"]
            .to_str()
            .expect("protocol")
            .to_owned()),
        Err(error) => Err(error.to_string()),
    }
}

#[tokio::test]
async fn a_browser_passes_the_key_to_ws_as_a_subprotocol() {
    let server = guarded_server().await;
    let hex: String = KEY.bytes().map(|byte| format!("{byte:02x}")).collect();
    let accepted = ws_with_protocols(&server, &format!("ctx, ctx-key.{hex}")).await;
    assert_eq!(accepted, Ok("ctx".to_owned()));
    let wrong = ws_with_protocols(&server, "ctx, ctx-key.6f7468657221").await;
    assert!(wrong.is_err_and(|error| error.contains("401")));
    assert!(ws_with_protocols(&server, "ctx").await.is_err());
}

#[tokio::test]
async fn with_an_api_key_the_dashboard_asks_for_it_and_uses_it() {
    let server = guarded_server().await;
    let mut browser = Browser::start().await;
    browser.open(&format!("{}/", server.base)).await;
    browser
        .wait_for(
            "document.getElementById('key-dialog').open",
            PAGE_LIMIT,
            "the key dialog",
        )
        .await;
    browser
        .run(&format!(
            "document.getElementById('key-input').value = {};
             document.getElementById('key-save').click();",
            js(KEY)
        ))
        .await;
    // The feed connects: /ws accepted the key (scope `all` guards the upgrade itself).
    browser
        .wait_for(
            "document.documentElement.dataset.live === 'live'",
            PAGE_LIMIT,
            "the live feed",
        )
        .await;

    server.set_with_key("guarded/a", json!(1)).await;
    browser
        .wait_for(&row_shown("guarded/a"), PAGE_LIMIT, "the new key")
        .await;

    browser
        .run(
            "document.getElementById('editor-key').value = 'guarded/b';
             const value = document.getElementById('editor-value');
             value.value = '\"typed\"';
             value.dispatchEvent(new Event('input'));
             document.getElementById('editor-set').click();",
        )
        .await;
    browser
        .wait_for(
            "document.getElementById('editor-result').textContent.startsWith('Saved guarded/b')",
            PAGE_LIMIT,
            "the form's confirmation",
        )
        .await;
    let read = server
        .request_with(
            Method::GET,
            "/ctx/guarded/b",
            None,
            &[("x-api-key", KEY)],
            "",
        )
        .await;
    assert_eq!(read.json()["value"], "typed");

    let problems = std::mem::take(&mut browser.problems);
    browser.close().await;
    assert!(problems.is_empty(), "console errors: {problems:#?}");
    server.stop().await;
}

#[tokio::test]
async fn when_only_writes_need_the_key_the_page_reads_at_once_and_asks_on_a_refused_write() {
    let server = TestServer::start_with(|config| config.api_key = Some(KEY.into())).await;
    server.set_with_key("open/a", json!(1)).await;
    let mut browser = Browser::start().await;
    browser.open(&format!("{}/", server.base)).await;
    browser
        .wait_for(
            &row_shown("open/a"),
            PAGE_LIMIT,
            "the context, read without a key",
        )
        .await;
    let form = "document.getElementById('editor-key').value = 'open/b';
         const value = document.getElementById('editor-value');
         value.value = '[true]';
         value.dispatchEvent(new Event('input'));
         document.getElementById('editor-set').click();";
    browser.run(form).await;
    browser
        .wait_for(
            "document.getElementById('key-dialog').open",
            PAGE_LIMIT,
            "the key dialog after a 401",
        )
        .await;
    // The refused write is the page's only error: the browser logs the 401.
    let problems = std::mem::take(&mut browser.problems);
    assert!(
        problems.len() == 1 && problems[0].contains("401"),
        "{problems:#?}"
    );
    browser
        .run(&format!(
            "document.getElementById('key-input').value = {};
             document.getElementById('key-save').click();",
            js(KEY)
        ))
        .await;
    browser
        .wait_for(
            "document.getElementById('key-button').textContent === 'API key ✓'",
            PAGE_LIMIT,
            "the key taken",
        )
        .await;
    browser.run(form).await;
    browser
        .wait_for(
            "document.getElementById('editor-result').textContent.startsWith('Saved open/b')",
            PAGE_LIMIT,
            "the form's confirmation",
        )
        .await;
    assert_eq!(
        server.get("/ctx/open/b").await.json()["value"],
        json!([true])
    );

    let problems = std::mem::take(&mut browser.problems);
    browser.close().await;
    assert!(problems.is_empty(), "console errors: {problems:#?}");
    server.stop().await;
}
