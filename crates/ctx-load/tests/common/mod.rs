//! Tiny axum servers for the engine's statistics tests, bound to 127.0.0.1:0.

#![allow(dead_code)]

use std::net::SocketAddr;

use axum::Router;

/// Serves `app` on a free loopback port; returns its base URL. The server
/// task lives as long as the test's runtime.
pub async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

/// A URL where nothing listens: port 1 is privileged and unused on a test machine.
pub const DEAD_URL: &str = "http://127.0.0.1:1";
