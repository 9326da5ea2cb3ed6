//! The outermost layer: times and counts every request for `/metrics`, and gives errors
//! produced outside our handlers (extractor rejections, body limit, timeouts, 404/405)
//! the JSON shape.
//!
//! One hand-written tower service rather than two `from_fn`/`map_response` middlewares:
//! profiles showed each of those costing a cloned, boxed inner service per request, and
//! label strings allocated per request; here a request costs one boxed future and no
//! allocation for its labels.

use crate::error::json_errors;
use crate::metrics::Metrics;
use axum::extract::{MatchedPath, Request};
use axum::http::Method;
use axum::response::Response;
use parking_lot::RwLock;
use std::collections::HashSet;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Instant;
use tower::{Layer, Service};

#[derive(Clone)]
pub struct ObserveLayer {
    metrics: Arc<Metrics>,
}

impl ObserveLayer {
    pub fn new(metrics: Arc<Metrics>) -> Self {
        Self { metrics }
    }
}

impl<S> Layer<S> for ObserveLayer {
    type Service = Observe<S>;
    fn layer(&self, inner: S) -> Observe<S> {
        Observe {
            inner,
            metrics: self.metrics.clone(),
        }
    }
}

#[derive(Clone)]
pub struct Observe<S> {
    inner: S,
    metrics: Arc<Metrics>,
}

impl<S> Service<Request> for Observe<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let started = Instant::now();
        let route = request
            .extensions()
            .get::<MatchedPath>()
            .map_or("unmatched", |path| intern(path.as_str()));
        let method = method_label(request.method());
        let answer = self.inner.call(request);
        let metrics = self.metrics.clone();
        Box::pin(async move {
            let Ok(response) = answer.await;
            let response = json_errors(response).await;
            let status = response.status().as_u16();
            metrics.observe_request(route, method, status, started.elapsed());
            Ok(response)
        })
    }
}

/// Route patterns are few and fixed (the router's own), so each is leaked once and then
/// shared: metric labels become `&'static str` with no allocation per request.
fn intern(pattern: &str) -> &'static str {
    static PATTERNS: OnceLock<RwLock<HashSet<&'static str>>> = OnceLock::new();
    let patterns = PATTERNS.get_or_init(Default::default);
    if let Some(known) = patterns.read().get(pattern) {
        return known;
    }
    let mut patterns = patterns.write();
    if let Some(known) = patterns.get(pattern) {
        return known;
    }
    let leaked: &'static str = Box::leak(pattern.to_owned().into_boxed_str());
    patterns.insert(leaked);
    leaked
}

fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::DELETE => "DELETE",
        Method::PUT => "PUT",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        _ => "OTHER",
    }
}
