//! The long poll (`wait_for_revision`): answers on the next change or times out.

use super::*;
use std::sync::Arc;

#[tokio::test]
async fn a_long_poll_answers_on_the_next_change_or_times_out() {
    let server = Arc::new(TestServer::start().await);
    let rev = revision(&server.set("flag", json!("waiting")).await);
    // Already past: answers at once.
    let now = wait_change(&server, "flag", rev - 1).await;
    assert_eq!(now["value"], "waiting");

    let waiter = {
        let server = server.clone();
        tokio::spawn(async move { wait_change(&server, "flag", rev).await })
    };
    // Writes to other keys do not wake it; the write to the key does.
    server.set("other", json!(1)).await;
    server.set("flag", json!("go")).await;
    let answer = tokio::time::timeout(PATIENCE, waiter)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(answer["value"], "go");

    let timed_out = server
        .get(&format!(
            "/ctx/flag?wait_for_revision={}&timeout_secs=0.2",
            rev + 5
        ))
        .await;
    assert_error(&timed_out, StatusCode::REQUEST_TIMEOUT);
    assert_eq!(timed_out.json()["found"], true);
    assert_error(
        &server
            .get("/ctx/flag?wait_for_revision=1&timeout_secs=9999")
            .await,
        StatusCode::BAD_REQUEST,
    );
}
