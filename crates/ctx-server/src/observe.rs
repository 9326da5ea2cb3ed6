//! The outermost layer: times and counts every request for `/metrics`, and gives errors
//! produced outside our handlers (extractor rejections, body limit, timeouts, 404/405)
//! the JSON shape.
//!
//! One hand-written tower service rather than two `from_fn`/`map_response` middlewares:
//! profiles showed each of those costing a cloned, boxed inner service per request, and
//! label strings allocated per request; here a request costs one boxed future, no
//! allocation for its labels and no hashing to find its series (see `Metrics::observe_request`).

use crate::error::json_errors;
use crate::metrics::{Method, Metrics, Route};
use axum::extract::{MatchedPath, Request};
use axum::response::Response;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
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
        let route = Route::intern(
            request
                .extensions()
                .get::<MatchedPath>()
                .map_or("unmatched", MatchedPath::as_str),
        );
        let method = Method::of(request.method());
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
