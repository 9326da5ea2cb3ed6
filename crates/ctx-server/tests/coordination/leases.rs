//! Leases: granted alone or by `ttl_secs`, kept alive, revoked, and expired (also while
//! the server was down).

use super::*;

#[tokio::test]
async fn a_lease_kept_alive_holds_its_keys_and_its_expiry_deletes_them() {
    let server = TestServer::start().await;
    let lease = server.post("/ctx/lease", &json!({"ttl_secs": 1.5})).await;
    assert_eq!(lease.status, StatusCode::OK, "{}", lease.text());
    let lease = lease.json();
    let id = lease["lease_id"].as_u64().unwrap();
    assert_eq!(lease["ttl_secs"], 1.5);
    let set = server
        .post(
            "/ctx",
            &json!({"key": "runner.1", "value": "up", "lease": id}),
        )
        .await
        .json();
    assert_eq!(set["lease"], id);
    let info = server.get(&format!("/ctx/lease/{id}")).await.json();
    assert_eq!(info["keys"], json!(["runner.1"]));
    assert!(info["remaining_secs"].as_f64().unwrap() <= 1.5);

    // Kept alive every 100 ms (a client's pace) for twice the TTL: the key stays.
    let started = std::time::Instant::now();
    while started.elapsed() < Duration::from_secs(3) {
        let kept = server
            .post(&format!("/ctx/lease/{id}/keepalive"), &json!({}))
            .await;
        assert_eq!(kept.status, StatusCode::OK, "{}", kept.text());
        assert_eq!(server.get("/ctx/runner.1").await.json()["found"], true);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Then left alone: it expires, and the deletion is a change like any other.
    let gone = wait_change(&server, "runner.1", revision(&set)).await;
    assert_eq!(gone["found"], false);
    let history = server.get("/ctx/history?key=runner.1").await.json();
    let last = history["history"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["who"], format!("lease:{id}"));
    assert_eq!(last["after"], Value::Null);
    assert_error(
        &server.get(&format!("/ctx/lease/{id}")).await,
        StatusCode::NOT_FOUND,
    );
    assert_error(
        &server
            .post(&format!("/ctx/lease/{id}/keepalive"), &json!({}))
            .await,
        StatusCode::NOT_FOUND,
    );
}

#[tokio::test]
async fn ttl_secs_is_a_lease_of_its_own_and_revoke_deletes_at_once() {
    let server = TestServer::start().await;
    let set = server
        .post("/ctx", &json!({"key": "tmp", "value": 1, "ttl_secs": 600}))
        .await
        .json();
    let id = set["lease"].as_u64().expect("a lease");
    let revoked = server.delete(&format!("/ctx/lease/{id}")).await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.text());
    assert_eq!(revoked.json()["deleted"], 1);
    assert_eq!(server.get("/ctx/tmp").await.json()["found"], false);
    // A ttl write that loses its compare-and-set leaves no lease behind.
    let lost = server
        .post(
            "/ctx",
            &json!({"key": "tmp2", "value": 1, "ttl_secs": 600, "if_revision": 99}),
        )
        .await;
    assert_error(&lost, StatusCode::CONFLICT);
    assert_error(
        &server.get(&format!("/ctx/lease/{}", id + 1)).await,
        StatusCode::NOT_FOUND,
    );
}

#[tokio::test]
async fn a_lease_that_ran_out_while_the_server_was_down_is_expired_at_start() {
    let server = TestServer::start().await;
    let set = server
        .post("/ctx", &json!({"key": "held", "value": 1, "ttl_secs": 0.5}))
        .await
        .json();
    let id = set["lease"].as_u64().unwrap();
    let info = server.get(&format!("/ctx/lease/{id}")).await.json();
    let remaining = Duration::from_secs_f64(info["remaining_secs"].as_f64().unwrap());
    let dir = server.stop().await;
    // Down for longer than the lease had left (the clock is what is under test).
    tokio::time::sleep(remaining + Duration::from_millis(200)).await;
    let server = TestServer::start_in(dir, |_| {}).await;
    assert_eq!(server.get("/ctx/held").await.json()["found"], false);
    let history = server.get("/ctx/history?key=held").await.json();
    assert_eq!(history["history"][1]["who"], format!("lease:{id}"));
}
