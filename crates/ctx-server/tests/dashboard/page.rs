//! The whole page in a real browser: the live feed, the editor, history, the filter,
//! dumps, the status strip and the page's pure modules.

use super::*;
use std::time::Instant;

/// How long the page may take to show a change written elsewhere (the issue's figure).
const LIVE_WITHIN: Duration = Duration::from_secs(1);

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
