//! Running the server: status, health and metrics, a graceful restart.

use super::*;

#[tokio::test]
async fn status_health_and_metrics() {
    let server = TestServer::start().await;
    server.set("k", json!(1)).await;
    let status = server.get("/ctx/status").await.json();
    assert_eq!(status["status"], "running");
    assert_eq!(status["key_count"], 1);
    assert_eq!(status["revision"], 1);
    assert!(status["version"].is_string());
    assert!(status["uptime_seconds"].is_u64());
    assert_eq!(server.get("/health").await.status, StatusCode::OK);
    let metrics = server.get("/metrics").await.text();
    for needle in [
        "ctx_http_requests_total{route=\"/ctx\",method=\"POST\",status=\"200\"} 1",
        "ctx_keys 1",
        "ctx_revision 1",
        "ctx_connected_clients 0",
        "ctx_store_commit_duration_seconds_count",
        "ctx_http_request_duration_seconds_bucket",
    ] {
        assert!(
            metrics.contains(needle),
            "metrics lack {needle}:\n{metrics}"
        );
    }
}

#[tokio::test]
async fn a_graceful_restart_keeps_everything() {
    let server = TestServer::start().await;
    for i in 0..20 {
        server.set(&format!("k{i}"), json!({"i": i})).await;
    }
    server.delete("/ctx/k3").await;
    let dir = server.stop().await;
    let server = TestServer::start_in(dir, |_| {}).await;
    let all = server.get("/ctx/all").await.json();
    assert_eq!(all["key_count"], 19);
    assert_eq!(all["revision"], 21);
    assert_eq!(server.get("/ctx/k7").await.json()["value"], json!({"i": 7}));
    assert_eq!(server.set("next", json!(0)).await["revision"], 22);
}
