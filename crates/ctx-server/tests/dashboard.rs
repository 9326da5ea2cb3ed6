//! The web dashboard at `/`: its files over HTTP, the API key over `/ws`, and the page
//! itself in a real headless Chromium against a real server.

mod common;

use common::{TestServer, assert_error};
use ctx_server::AuthScope;
use ctx_test_browser::Browser;
use hyper::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

/// Not a protocol token (`/`, `=`): the page sends it to /ws hex-encoded.
const KEY: &str = "lab/key=2026";

/// How long the page may take to show a change written elsewhere (the issue's figure).
const LIVE_WITHIN: Duration = Duration::from_secs(1);
/// Generous limits for page loads and form round trips on a busy CI machine.
const PAGE_LIMIT: Duration = Duration::from_secs(15);

async fn guarded_server() -> TestServer {
    TestServer::start_with(|config| {
        config.api_key = Some(KEY.into());
        config.auth_scope = AuthScope::All;
    })
    .await
}

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

/// A JavaScript string literal.
fn js(text: &str) -> String {
    Value::String(text.into()).to_string()
}

fn row_shown(key: &str) -> String {
    format!(
        "document.querySelector(`tr[data-key=\"${{CSS.escape({})}}\"]`)",
        js(key)
    )
}

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
async fn the_dashboard_shows_changes_live_and_sets_keys_in_a_real_browser() {
    let server = TestServer::start().await;
    server.set("jobs/1/state", json!({"step": 1})).await;
    let mut browser = Browser::start().await;
    // A view in the URL's fragment: a filter and a picked key.
    browser
        .open(&format!("{}/#prefix=jobs/&key=jobs/1/state", server.base))
        .await;
    browser
        .wait_for(
            "document.documentElement.dataset.live === 'live'",
            PAGE_LIMIT,
            "the live feed",
        )
        .await;
    browser
        .wait_for(&row_shown("jobs/1/state"), PAGE_LIMIT, "the snapshot")
        .await;
    browser
        .wait_for(
            "document.getElementById('editor-key').value === 'jobs/1/state'
             && document.getElementById('filter').value === 'jobs/'",
            PAGE_LIMIT,
            "the view from the URL",
        )
        .await;
    // The snapshot's rows say who wrote them (from the retained history).
    browser
        .wait_for(
            &format!(
                "{}.cells[3].textContent === 'api_client'",
                row_shown("jobs/1/state")
            ),
            PAGE_LIMIT,
            "the writer of a snapshot row",
        )
        .await;

    // A key written over REST appears within a second, pushed over /ws.
    // Timed from the write's answer: the fsync before it is not the page's doing.
    server
        .set("jobs/2/state", json!({"step": 2, "who": "runner"}))
        .await;
    let acknowledged = Instant::now();
    browser
        .wait_for(&row_shown("jobs/2/state"), PAGE_LIMIT, "the new key")
        .await;
    let shown_after = acknowledged.elapsed();
    assert!(shown_after < LIVE_WITHIN, "shown after {shown_after:?}");
    let value_text = browser
        .eval(&format!(
            "{}.querySelector('td.value').textContent",
            row_shown("jobs/2/state")
        ))
        .await;
    assert_eq!(value_text, Ok(json!(r#"{"step":2,"who":"runner"}"#)));

    // Invalid JSON is refused in the editor before anything is sent.
    browser
        .run(
            "const value = document.getElementById('editor-value');
             document.getElementById('editor-key').value = 'form/key';
             value.value = '{\"a\":';
             value.dispatchEvent(new Event('input'));",
        )
        .await;
    assert_eq!(
        browser
            .eval("document.getElementById('editor-set').disabled")
            .await,
        Ok(json!(true))
    );

    // A key set through the page's form is readable over REST.
    browser
        .run(
            "const value = document.getElementById('editor-value');
             value.value = '{\"from\": \"the form\", \"n\": [1, 2]}';
             value.dispatchEvent(new Event('input'));
             document.getElementById('editor-set').click();",
        )
        .await;
    browser
        .wait_for(
            "document.getElementById('editor-result').textContent.startsWith('Saved form/key')",
            PAGE_LIMIT,
            "the form's confirmation",
        )
        .await;
    let read = server.get("/ctx/form/key").await.json();
    assert_eq!(read["value"], json!({"from": "the form", "n": [1, 2]}));
    let history = server.get("/ctx/history?key=form/key").await.json();
    assert_eq!(history["history"][0]["who"], "dashboard");

    // Delete takes a second click, then the key is gone over REST too.
    browser
        .run("document.getElementById('editor-delete').click()")
        .await;
    assert_eq!(
        browser
            .eval("document.getElementById('editor-delete').textContent")
            .await,
        Ok(json!("Delete form/key?"))
    );
    assert_eq!(server.get("/ctx/form/key").await.json()["found"], true);
    browser
        .run("document.getElementById('editor-delete').click()")
        .await;
    browser
        .wait_for(
            "document.getElementById('editor-result').textContent.startsWith('Deleted form/key')",
            PAGE_LIMIT,
            "the delete's confirmation",
        )
        .await;
    assert_eq!(server.get("/ctx/form/key").await.json()["found"], false);

    // Picking a key shows its history with before and after.
    server.set("jobs/1/state", json!({"step": 9})).await;
    browser
        .run(&format!("{}.click()", row_shown("jobs/1/state")))
        .await;
    browser
        .wait_for(
            "document.querySelectorAll('#history-rows tr').length === 2",
            PAGE_LIMIT,
            "the key's history",
        )
        .await;
    let newest = browser
        .eval("Array.from(document.querySelectorAll('#history-rows tr')[0].cells, cell => cell.textContent)")
        .await
        .expect("history row");
    assert_eq!(newest[3], json!(r#"{"step":1}"#), "before: {newest}");
    assert_eq!(newest[4], json!(r#"{"step":9}"#), "after: {newest}");

    // The prefix filter, remembered in the URL.
    browser
        .run(
            "const filter = document.getElementById('filter');
             filter.value = 'jobs/2';
             filter.dispatchEvent(new Event('input'));",
        )
        .await;
    browser
        .wait_for(
            "document.querySelectorAll('#context-rows tr').length === 1
             && new URLSearchParams(location.hash.slice(1)).get('prefix') === 'jobs/2'",
            PAGE_LIMIT,
            "the filtered table",
        )
        .await;

    // A dump made through the page is listed (the list follows context_dumped events).
    browser
        .run("document.querySelector('#dump-form button[type=submit]').click()")
        .await;
    browser
        .wait_for(
            "document.querySelectorAll('#dump-list button[data-file]').length === 1",
            PAGE_LIMIT,
            "the dump in the list",
        )
        .await;
    let dumps = server.get("/ctx/dump/list").await.json();
    assert_eq!(dumps["dump_count"], 1);

    // The status strip reads /ctx/status.
    browser
        .wait_for(
            "document.getElementById('status-writes').textContent === 'accepted'",
            PAGE_LIMIT,
            "the status",
        )
        .await;

    // The page's pure parts, in the page's own modules.
    let checks = browser
        .eval(
            r#"(async () => {
                const api = await import('/dashboard/api.js');
                const chart = await import('/dashboard/chart.js');
                const app = await import('/dashboard/app.js');
                const big = '{"n":100000000000000000000001,"f":0.1}';
                const meter = new chart.RateMeter();
                meter.read(10, 0);
                return {
                    exact: api.compact(api.parseJson(big)) === big,
                    requests: chart.totalRequests(
                        'ctx_http_requests_total{route="/ctx",method="GET",status="200"} 7\n'
                        + 'ctx_http_requests_total{route="/",method="GET",status="200"} 5\n'
                        + 'ctx_keys 3\n# EOF'),
                    rate: meter.read(30, 2000),
                    absent: app.writesState({status: 'running'}).refused,
                    refused: app.writesState({status: 'running', writes_refused: true}).refused,
                    degraded: app.writesState({status: 'degraded'}).refused,
                };
            })()"#,
        )
        .await;
    assert_eq!(
        checks,
        Ok(
            json!({"exact": true, "requests": 12, "rate": 10, "absent": false,
                  "refused": true, "degraded": true})
        )
    );

    let problems = std::mem::take(&mut browser.problems);
    // The check above can fail: a console error is caught.
    browser.run("console.error('a probe')").await;
    browser.run("void 0").await;
    assert_eq!(browser.problems, ["console.\"error\": a probe"]);
    browser.close().await;
    assert!(problems.is_empty(), "console errors: {problems:#?}");
    server.stop().await;
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
