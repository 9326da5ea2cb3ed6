//! The baseline: the same stack as `ctx serve` (tokio multi-thread runtime, axum, hyper,
//! TCP_NODELAY) with no store behind it. Every route answers a fixed small JSON, so the
//! gap between this and ctx is what the store, validation and serialisation cost.

use axum::Router;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::get;
use bytes::Bytes;
use std::convert::Infallible;
use std::io::Write;
use tower::Layer;
use tower::util::BoxCloneSyncService;

#[derive(clap::Args)]
pub struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port to listen on; 0 picks a free one.
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Experiment: add N pass-through middlewares with `Router::layer` (axum wraps every
    /// route in each of them), as ctx's router does with its six layers.
    #[arg(long, default_value_t = 0)]
    route_layers: usize,
    /// Experiment: add N pass-through middlewares once around the whole router instead.
    #[arg(long, default_value_t = 0)]
    outer_layers: usize,
}

/// A middleware that does nothing, to measure what a layer itself costs.
async fn passthrough(request: Request, next: Next) -> Response {
    next.run(request).await
}

type Boxed = BoxCloneSyncService<Request, Response, Infallible>;

/// The baseline router with the experiment's layers, as one service.
fn service(route_layers: usize, outer_layers: usize) -> Boxed {
    let mut router = router();
    for _ in 0..route_layers {
        router = router.layer(axum::middleware::from_fn(passthrough));
    }
    let mut service = Boxed::new(router.into_service());
    for _ in 0..outer_layers {
        service = Boxed::new(axum::middleware::from_fn(passthrough).layer(service));
    }
    service
}

const READ: &str = r#"{"status":"success","key":"k","value":"v","found":true,"revision":1,"timestamp":"2026-01-01T00:00:00.000000Z"}"#;
const WRITE: &str = r#"{"status":"success","key":"k","value":"v","who":"api_client","revision":1,"timestamp":"2026-01-01T00:00:00.000000Z","changed":true}"#;
const ALL: &str = r#"{"status":"success","context":{"k":"v"},"key_count":1,"revision":1,"history_count":1,"connected_clients":0,"timestamp":"2026-01-01T00:00:00.000000Z"}"#;

fn json(body: &'static str) -> ([(axum::http::HeaderName, &'static str); 1], &'static str) {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
}

/// The router, public to the crate so a test can call it without a socket.
pub fn router() -> Router {
    Router::new()
        .route("/ctx/all", get(|| async { json(ALL) }))
        .route("/ctx/{key}", get(|| async { json(READ) }))
        .route(
            "/ctx",
            // The body is read (as ctx must) but not parsed.
            get(|| async { json(READ) }).post(|_body: Bytes| async { json(WRITE) }),
        )
        .route("/health", get(|| async { "ok" }))
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind((args.host.as_str(), args.port)).await?;
        println!("listening on http://{}", listener.local_addr()?);
        std::io::stdout().flush()?;
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let stop = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        if args.route_layers == 0 && args.outer_layers == 0 {
            // The plain router, as `ctx serve` hands it to axum.
            axum::serve(listener, router())
                .with_graceful_shutdown(stop)
                .await?;
        } else {
            let service = service(args.route_layers, args.outer_layers);
            axum::serve(listener, axum::ServiceExt::into_make_service(service))
                .with_graceful_shutdown(stop)
                .await?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    #[tokio::test]
    async fn answers_fixed_json_on_ctx_routes() {
        for (method, path) in [
            ("GET", "/ctx/some-key"),
            ("GET", "/ctx?key=x"),
            ("POST", "/ctx"),
            ("GET", "/ctx/all"),
        ] {
            let request = Request::builder()
                .method(method)
                .uri(path)
                .body(Body::from(r#"{"key":"k","value":1}"#))
                .expect("request");
            let response = service(2, 2).oneshot(request).await.expect("infallible");
            assert_eq!(response.status(), 200, "{method} {path}");
            let body = response
                .into_body()
                .collect()
                .await
                .expect("body")
                .to_bytes();
            let parsed: serde_json::Value = serde_json::from_slice(&body).expect("json");
            assert_eq!(parsed["status"], "success", "{method} {path}");
        }
    }
}
