//! The outermost layer: times and counts every request for `/metrics`, and gives errors
//! produced outside our handlers (extractor rejections, body limit, timeouts, 404/405)
//! the JSON shape.
//!
//! One hand-written tower service rather than two `from_fn`/`map_response` middlewares:
//! profiles showed each of those costing a cloned, boxed inner service per request, and
//! label strings allocated per request; here a request costs no allocation (see
//! [`Observed`]) and no hashing to find its series (see `Metrics::observe_request`).

use crate::error::{is_plain_error, json_errors};
use crate::metrics::{Method, Metrics, Route};
use axum::http::Request;
use axum::response::Response;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Instant;
use tower::{Layer, Service};

#[derive(Clone)]
pub struct ObserveLayer {
    metrics: Arc<Metrics>,
    routes: Arc<Routes>,
}

impl ObserveLayer {
    pub fn new(metrics: Arc<Metrics>, routes: Arc<Routes>) -> Self {
        Self { metrics, routes }
    }
}

/// Finds the route pattern a path matches, as axum's router would, since this layer runs
/// before the routing. Axum's `matchit` lookup cost ~550 instructions per request here;
/// our patterns have three shapes (static; one `{param}` segment, last or followed by a
/// static tail like `/ctx/lease/{id}/keepalive`; a `{*rest}` tail), which a few prefix and
/// suffix comparisons match with matchit's priorities: static before parameter before
/// catch-all, and a longer static prefix first.
pub(crate) struct Routes {
    exact: Vec<(&'static str, Route)>,
    /// By prefix (the text before `{`) and suffix (the text after `}`), longest prefix
    /// first, then longest suffix.
    param: Vec<(&'static str, &'static str, Route)>,
    /// By prefix, longest first.
    catch_all: Vec<(&'static str, Route)>,
    unmatched: Route,
}

impl Routes {
    /// `patterns`: the router's route patterns (a pattern may repeat).
    pub(crate) fn new(patterns: &[&str]) -> Self {
        let mut routes = Routes {
            exact: Vec::new(),
            param: Vec::new(),
            catch_all: Vec::new(),
            unmatched: Route::intern("unmatched"),
        };
        for &pattern in patterns {
            let route = Route::intern(pattern);
            let pattern = route.pattern();
            let Some(open) = pattern.find('{') else {
                if !routes.exact.iter().any(|(known, _)| *known == pattern) {
                    routes.exact.push((pattern, route));
                }
                continue;
            };
            let (prefix, param) = pattern.split_at(open);
            let Some(close) = param.find('}') else {
                continue;
            };
            let suffix = &param[close + 1..];
            // Other shapes (none in our router) count as "unmatched": a parameter that is
            // not a whole segment, or more than one.
            if !prefix.ends_with('/') || suffix.contains('{') {
                continue;
            }
            if param.starts_with("{*") {
                if suffix.is_empty() && !routes.catch_all.iter().any(|(known, _)| *known == prefix)
                {
                    routes.catch_all.push((prefix, route));
                }
            } else if (suffix.is_empty() || suffix.starts_with('/'))
                && !routes
                    .param
                    .iter()
                    .any(|(known, tail, _)| (*known, *tail) == (prefix, suffix))
            {
                routes.param.push((prefix, suffix, route));
            }
        }
        routes
            .param
            .sort_by_key(|(prefix, suffix, _)| std::cmp::Reverse((prefix.len(), suffix.len())));
        routes
            .catch_all
            .sort_by_key(|(prefix, _)| std::cmp::Reverse(prefix.len()));
        routes
    }

    pub(crate) fn of(&self, path: &str) -> Route {
        let rest = |prefix: &str| path.strip_prefix(prefix).filter(|rest| !rest.is_empty());
        let exact = || self.exact.iter().find(|(pattern, _)| *pattern == path);
        let param = || {
            self.param.iter().find(|(prefix, suffix, _)| {
                rest(prefix)
                    .and_then(|rest| rest.strip_suffix(suffix))
                    // As matchit: a last-segment parameter is never empty, one followed
                    // by a static tail may be (`/ctx/lease//keepalive`).
                    .is_some_and(|value| {
                        !value.contains('/') && (!value.is_empty() || !suffix.is_empty())
                    })
            })
        };
        let catch_all = || {
            self.catch_all
                .iter()
                .find(|(prefix, _)| rest(prefix).is_some())
        };
        exact()
            .map(|(_, route)| *route)
            .or_else(|| param().map(|(_, _, route)| *route))
            .or_else(|| catch_all().map(|(_, route)| *route))
            .unwrap_or(self.unmatched)
    }
}

impl<S> Layer<S> for ObserveLayer {
    type Service = Observe<S>;
    fn layer(&self, inner: S) -> Observe<S> {
        Observe {
            inner,
            metrics: self.metrics.clone(),
            routes: self.routes.clone(),
        }
    }
}

#[derive(Clone)]
pub struct Observe<S> {
    inner: S,
    metrics: Arc<Metrics>,
    routes: Arc<Routes>,
}

impl<S, B> Service<Request<B>> for Observe<S>
where
    S: Service<Request<B>, Response = Response, Error = Infallible>,
    S::Future: Unpin,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Observed<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let started = Instant::now();
        let route = self.routes.of(request.uri().path());
        let method = Method::of(request.method());
        Observed {
            answer: self.inner.call(request),
            reshaping: None,
            metrics: self.metrics.clone(),
            route,
            method,
            started,
        }
    }
}

/// A request's answer, counted when it is ready. A named future rather than an `async`
/// block so a request costs no boxed future; only a plain-text error, which must be read
/// and rewritten as JSON, takes a boxed one.
pub struct Observed<F> {
    answer: F,
    reshaping: Option<Pin<Box<dyn Future<Output = Response> + Send>>>,
    metrics: Arc<Metrics>,
    route: Route,
    method: Method,
    started: Instant,
}

impl<F> Future for Observed<F>
where
    F: Future<Output = Result<Response, Infallible>> + Unpin,
{
    type Output = Result<Response, Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let response = match &mut this.reshaping {
            Some(reshaping) => ready!(reshaping.as_mut().poll(cx)),
            None => {
                let Ok(response) = ready!(Pin::new(&mut this.answer).poll(cx));
                if is_plain_error(&response) {
                    this.reshaping = Some(Box::pin(json_errors(response)));
                    return self.poll(cx);
                }
                response
            }
        };
        let status = response.status().as_u16();
        this.metrics
            .observe_request(this.route, this.method, status, this.started.elapsed());
        Poll::Ready(Ok(response))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The router's patterns (routes/mod.rs), labelled as axum's matchit labels them.
    #[test]
    fn labels_paths_as_axums_router_does() {
        let patterns = [
            "/ctx",
            "/ctx/dump",
            "/ctx/dump/list",
            "/ctx/txn",
            "/ctx/incr",
            "/ctx/lease",
            "/ctx/lease/{id}/keepalive",
            "/ctx/lease/{id}",
            "/ctx/dump/{filename}",
            "/ctx/{*key}",
            "/ctx",
            "/ctx/all",
            "/ctx/history",
            "/ctx/status",
            "/ctx/{*key}",
            "/health",
            "/metrics",
            "/ws",
        ];
        let routes = Routes::new(&patterns);
        let mut matchit = matchit::Router::new();
        for pattern in patterns {
            let _ = matchit.insert(pattern, pattern);
        }
        for path in [
            "/",
            "",
            "/ctx",
            "/ctx/",
            "/ctx/hot",
            "/ctx/a/b",
            "/ctx/all",
            "/ctx/all/",
            "/ctx/allx",
            "/ctx/dump",
            "/ctx/dump/",
            "/ctx/dump/list",
            "/ctx/dump/list/",
            "/ctx/dump/list/x",
            "/ctx/dump/f.json",
            "/ctx/dump/a/b",
            "/ctx/dumpx",
            "/ctx/txn",
            "/ctx/incr",
            "/ctx/lease",
            "/ctx/lease/",
            "/ctx/lease/7",
            "/ctx/lease/7/",
            "/ctx/lease/7/keepalive",
            "/ctx/lease/7/keepalive/",
            "/ctx/lease/7/other",
            "/ctx/lease//keepalive",
            "/ctx/lease/7/8/keepalive",
            "/ctx/history",
            "/ctx/status",
            "/health",
            "/health/",
            "/healthz",
            "/metrics",
            "/ws",
            "/ws/x",
            "/socket.io/",
            "/ctxx",
            "/ctx//",
            "/ctx/%2F",
        ] {
            let expected = matchit.at(path).map_or("unmatched", |found| *found.value);
            assert_eq!(routes.of(path).pattern(), expected, "{path:?}");
        }
    }
}
