//! The HTTP side: a validated server URL, its connection pool, one request at a time.

use super::failure::snippet;
use super::*;

/// A validated server base URL plus a connection pool.
#[derive(Clone)]
pub(in crate::cmd) struct Client {
    /// The base URL as the user gave it, for messages.
    pub(in crate::cmd) server: String,
    /// `scheme://authority[/prefix]` without a trailing slash; request paths are appended.
    base: String,
    http: HttpClient<HttpsConnector<HttpConnector>, Full<Bytes>>,
    /// Sent as `X-API-Key` with every request; marked sensitive so it is never logged.
    api_key: Option<HeaderValue>,
}

impl Client {
    pub(in crate::cmd) fn new(server: &str, cacert: Option<&Path>) -> Result<Client, Failure> {
        let bad = |reason: &str| Failure::BadUrl {
            server: server.to_owned(),
            reason: reason.to_owned(),
        };
        let uri: Uri = server
            .parse()
            .map_err(|err: hyper::http::uri::InvalidUri| bad(&err.to_string()))?;
        let scheme = match uri.scheme_str() {
            Some(scheme @ ("http" | "https")) => scheme,
            Some(_) => return Err(bad("the scheme must be http:// or https://")),
            None => return Err(bad("missing http:// or https:// scheme")),
        };
        let Some(authority) = uri.authority() else {
            return Err(bad("missing host"));
        };
        if authority.host().is_empty() {
            return Err(bad("missing host"));
        }
        if uri.query().is_some() {
            return Err(bad("a query string is not allowed"));
        }
        let base = format!("{scheme}://{authority}{}", uri.path().trim_end_matches('/'));
        let tls = match scheme {
            "https" => crate::tls::client_config(cacert),
            _ => crate::tls::unused_config(),
        }
        .map_err(|reason| Failure::Tls {
            server: server.to_owned(),
            reason,
        })?;
        let connector = HttpsConnectorBuilder::new()
            .with_tls_config(Arc::unwrap_or_clone(tls))
            .https_or_http()
            .enable_http1()
            .build();
        let http = HttpClient::builder(TokioExecutor::new()).build(connector);
        Ok(Client {
            server: server.to_owned(),
            base,
            http,
            api_key: None,
        })
    }

    /// Sends the API key (when given) with every request.
    pub(in crate::cmd) fn with_api_key(mut self, key: &ApiKeyOption) -> Result<Client, Failure> {
        self.api_key = key.header().map_err(Failure::Usage)?;
        Ok(self)
    }

    /// Sends one request with an optional JSON body and returns the JSON answer;
    /// any non-2xx status becomes [`Failure::Server`] carrying the server's `error` field.
    pub(in crate::cmd) async fn request(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<&Value>,
    ) -> Result<Value, Failure> {
        let (status, bytes) = self.exchange(method, path_and_query, body).await?;
        serde_json::from_slice(&bytes).map_err(|_| Failure::Server {
            status,
            message: format!("the answer is not JSON: {}", snippet(&bytes)),
        })
    }

    /// The bytes of a dump file, as the server serves it (`GET /ctx/dump/{filename}`).
    pub(in crate::cmd) async fn fetch_dump(&self, filename: &str) -> Result<Vec<u8>, Failure> {
        let path = format!("/ctx/dump/{}", utf8_percent_encode(filename, COMPONENT));
        let (_, bytes) = self.exchange(Method::GET, &path, None).await?;
        Ok(bytes.to_vec())
    }

    /// One request; answers the status and JSON body whatever the status (for callers
    /// that act on a 409 or 408 themselves).
    pub(in crate::cmd) async fn answer(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<&Value>,
    ) -> Result<(StatusCode, Value), Failure> {
        let (status, bytes) = self.send(method, path_and_query, body).await?;
        let answer = serde_json::from_slice(&bytes).map_err(|_| Failure::Server {
            status,
            message: format!("the answer is not JSON: {}", snippet(&bytes)),
        })?;
        Ok((status, answer))
    }

    /// One request; answers the status and body of a 2xx, else [`Failure::Server`].
    pub(in crate::cmd) async fn exchange(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<&Value>,
    ) -> Result<(StatusCode, Bytes), Failure> {
        let (status, bytes) = self.send(method, path_and_query, body).await?;
        if !status.is_success() {
            return Err(server_failure(status, &bytes));
        }
        Ok((status, bytes))
    }

    /// One request, any status.
    pub(in crate::cmd) async fn send(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<&Value>,
    ) -> Result<(StatusCode, Bytes), Failure> {
        let uri: Uri = format!("{}{path_and_query}", self.base).parse().map_err(
            |err: hyper::http::uri::InvalidUri| Failure::BadUrl {
                server: self.server.clone(),
                reason: err.to_string(),
            },
        )?;
        let mut builder = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::ACCEPT, "application/json")
            .header(
                header::USER_AGENT,
                concat!("ctx/", env!("CARGO_PKG_VERSION")),
            );
        if let Some(key) = &self.api_key {
            builder = builder.header(API_KEY_HEADER, key.clone());
        }
        let payload = match body {
            Some(body) => {
                builder = builder.header(header::CONTENT_TYPE, "application/json");
                Bytes::from(body.to_string())
            }
            None => Bytes::new(),
        };
        let request = builder
            .body(Full::new(payload))
            .map_err(|err| Failure::BadUrl {
                server: self.server.clone(),
                reason: err.to_string(),
            })?;

        let exchange = async {
            let response = self
                .http
                .request(request)
                .await
                .map_err(|err| self.unreachable(&err))?;
            let status = response.status();
            let bytes = response
                .into_body()
                .collect()
                .await
                .map_err(|err| self.unreachable(&err))?
                .to_bytes();
            Ok::<_, Failure>((status, bytes))
        };
        tokio::time::timeout(REQUEST_TIMEOUT, exchange)
            .await
            .map_err(|_| Failure::Timeout {
                server: self.server.clone(),
            })?
    }

    pub(in crate::cmd) fn unreachable(&self, err: &(dyn std::error::Error + 'static)) -> Failure {
        if let Some(reason) = crate::tls::describe_failure(err) {
            return Failure::Tls {
                server: self.server.clone(),
                reason,
            };
        }
        Failure::Unreachable {
            server: self.server.clone(),
            reason: root_cause(err),
        }
    }
}

/// `?a=x&b=y` for the parameters that are set, or an empty string.
pub(in crate::cmd) fn query(params: &[(&str, Option<&str>)]) -> String {
    let mut out = String::new();
    for (name, value) in params {
        if let Some(value) = value {
            out.push(if out.is_empty() { '?' } else { '&' });
            let _ = write!(out, "{name}={}", utf8_percent_encode(value, COMPONENT));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    pub(in crate::cmd) fn query_skips_unset_parameters_and_encodes_values() {
        assert_eq!(
            query(&[("key", None), ("prefix", Some("a&b=c+d"))]),
            "?prefix=a%26b%3Dc%2Bd"
        );
        assert_eq!(query(&[("key", None)]), "");
    }

    #[test]
    pub(in crate::cmd) fn bad_server_urls_are_rejected_before_any_request() {
        for url in [
            "not a url",
            "ftp://x",
            "127.0.0.1:8080",
            "http://",
            "http://h/?q=1",
        ] {
            assert!(
                matches!(Client::new(url, None), Err(Failure::BadUrl { .. })),
                "{url}"
            );
        }
        assert_eq!(
            Client::new("http://h:1/base/", None).map(|c| c.base).ok(),
            Some("http://h:1/base".to_owned())
        );
        assert_eq!(
            Client::new("https://h:1", None).map(|c| c.base).ok(),
            Some("https://h:1".to_owned())
        );
    }
}
