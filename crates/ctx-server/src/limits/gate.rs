//! The per-connection gate in front of the router: what `connections` and `rate` decide,
//! as answers. A connection under every limit with no rate limit set ([`Gate::Open`]) is
//! served by the router itself, without the gate (`accept.rs`): nothing per request.

use super::rate::Limiter;
use crate::error::ApiError;
use crate::metrics::Metrics;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::future::{Either, Ready, ready};
use hyper::body::Incoming;
use std::convert::Infallible;
use std::net::IpAddr;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tower::Service;

/// Paths no limit refuses: an orchestrator's probe must tell busy from dead.
const HEALTH: &str = "/health";

#[derive(Clone)]
pub(crate) enum Gate<S> {
    Open(S),
    /// Over `--max-connections`: `/health`, or a 503.
    Refusing {
        inner: S,
        max: usize,
        metrics: Arc<Metrics>,
    },
    /// `--rate-limit`, for the client at `client`.
    RateLimited {
        inner: S,
        limiter: Arc<Limiter>,
        client: IpAddr,
        metrics: Arc<Metrics>,
    },
}

impl<S> Service<Request<Incoming>> for Gate<S>
where
    S: Service<Request<Incoming>, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Either<S::Future, Ready<Result<Response, Infallible>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        match self {
            Gate::Open(inner) | Gate::Refusing { inner, .. } | Gate::RateLimited { inner, .. } => {
                inner.poll_ready(cx)
            }
        }
    }

    fn call(&mut self, request: Request<Incoming>) -> Self::Future {
        let refusal = match self {
            Gate::Open(inner) => return Either::Left(inner.call(request)),
            Gate::Refusing { inner, .. } | Gate::RateLimited { inner, .. }
                if request.uri().path() == HEALTH =>
            {
                return Either::Left(inner.call(request));
            }
            Gate::Refusing { max, metrics, .. } => {
                metrics.refused("max_connections");
                too_many_connections(*max)
            }
            Gate::RateLimited {
                inner,
                limiter,
                client,
                metrics,
            } => match limiter.check(*client) {
                Ok(()) => return Either::Left(inner.call(request)),
                Err(wait) => {
                    metrics.refused("rate_limit");
                    too_many_requests(limiter, wait)
                }
            },
        };
        Either::Right(ready(Ok(refusal)))
    }
}

fn with_limit(status: StatusCode, message: String, limit: serde_json::Value) -> ApiError {
    let mut details = serde_json::Map::new();
    details.insert("limit".into(), limit);
    ApiError {
        details: Some(details),
        ..ApiError::new(status, message)
    }
}

fn too_many_connections(max: usize) -> Response {
    let mut response = with_limit(
        StatusCode::SERVICE_UNAVAILABLE,
        format!(
            "the server holds its limit of {max} open connections (--max-connections); retry shortly"
        ),
        max.into(),
    )
    .into_response();
    let headers = response.headers_mut();
    headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

fn too_many_requests(limiter: &Limiter, wait: Duration) -> Response {
    // Whole seconds, rounded up: a client that waits as told is let through.
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let seconds = seconds.max(1);
    let limit = limiter.limit();
    let mut response = with_limit(
        StatusCode::TOO_MANY_REQUESTS,
        format!(
            "more than {limit} requests from this address (--rate-limit); retry in {seconds} s"
        ),
        limit.to_string().into(),
    )
    .into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    response
}
