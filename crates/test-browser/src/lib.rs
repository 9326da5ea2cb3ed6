//! A headless Chromium driven over the DevTools protocol, for tests of web pages (the
//! server's dashboard, `ctx load`'s report.html).
//!
//! A few commands are all the tests need (open a tab, evaluate JavaScript, collect console
//! errors), so this speaks the protocol directly over the WebSocket client the crate already
//! has, instead of a CDP crate whose generated protocol types take minutes to compile on CI's
//! two cores. Every console error, uncaught exception and error log entry (a failed load, a
//! refused Content-Security-Policy) is collected as a problem for the test to assert on.

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Debian's package puts it here; `CTX_TEST_CHROMIUM` points elsewhere.
const DEFAULT_CHROMIUM: &str = "/usr/bin/chromium";
/// Chromium starts in well under a second; a busy 2-core CI machine gets some slack.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// No single protocol command may take longer (an evaluation waits at most this long).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(20);

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

pub struct Browser {
    child: Child,
    _profile: tempfile::TempDir,
    socket: Socket,
    session: String,
    next_id: u64,
    /// Console errors, uncaught exceptions and error log entries seen so far.
    pub problems: Vec<String>,
}

impl Browser {
    /// Starts Chromium with a fresh profile and opens one blank tab.
    pub async fn start() -> Browser {
        let program =
            std::env::var("CTX_TEST_CHROMIUM").unwrap_or_else(|_| DEFAULT_CHROMIUM.into());
        assert!(
            Path::new(&program).exists(),
            "{program} is missing: install Debian's chromium (`apt-get install -y chromium`; .ci/run does)"
        );
        let profile = tempfile::tempdir().expect("profile dir");
        let mut child = Command::new(&program)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                // Containers often give /dev/shm 64 MB, too little for a renderer.
                "--disable-dev-shm-usage",
                "--window-size=1280,900",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
        let stderr = child.stderr.take().expect("stderr");
        let (address, mut lines) = timeout(START_TIMEOUT, async {
            let mut lines = BufReader::new(stderr).lines();
            let mut seen = String::new();
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(address) = line.strip_prefix("DevTools listening on ") {
                    return (address.trim().to_owned(), lines);
                }
                seen.push_str(&line);
                seen.push('\n');
            }
            panic!("chromium exited before listening:\n{seen}");
        })
        .await
        .expect("chromium did not start in time");
        // Keep draining its log so a full pipe never blocks it.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let (socket, _) = tokio_tungstenite::connect_async(address.as_str())
            .await
            .expect("connect to chromium's DevTools");
        let mut browser = Browser {
            child,
            _profile: profile,
            socket,
            session: String::new(),
            next_id: 0,
            problems: Vec::new(),
        };
        let target = browser
            .command("Target.createTarget", json!({"url": "about:blank"}))
            .await;
        let target_id = target["targetId"].as_str().expect("targetId").to_owned();
        let attached = browser
            .command(
                "Target.attachToTarget",
                json!({"targetId": target_id, "flatten": true}),
            )
            .await;
        browser.session = attached["sessionId"]
            .as_str()
            .expect("sessionId")
            .to_owned();
        for domain in ["Runtime.enable", "Log.enable", "Page.enable"] {
            browser.command(domain, json!({})).await;
        }
        browser
    }

    /// Opens `url` in the tab and waits for its load event.
    pub async fn open(&mut self, url: &str) {
        let answer = self.command("Page.navigate", json!({"url": url})).await;
        assert!(
            answer.get("errorText").is_none(),
            "navigation failed: {answer}"
        );
        self.event("Page.loadEventFired").await;
    }

    /// Evaluates `expression` in the page (awaiting a promise) and returns its value;
    /// an exception is returned as `Err` with its description.
    pub async fn eval(&mut self, expression: &str) -> Result<Value, String> {
        let answer = self
            .command(
                "Runtime.evaluate",
                json!({"expression": expression, "awaitPromise": true, "returnByValue": true}),
            )
            .await;
        match answer.get("exceptionDetails") {
            Some(details) => Err(details["exception"]["description"]
                .as_str()
                .or(details["text"].as_str())
                .unwrap_or("exception")
                .to_owned()),
            None => Ok(answer["result"]["value"].clone()),
        }
    }

    /// Runs JavaScript statements in the page (in their own scope); panics if they throw.
    pub async fn run(&mut self, statements: &str) {
        if let Err(error) = self.eval(&format!("(() => {{ {statements} }})()")).await {
            panic!("{statements}: {error}");
        }
    }

    /// Waits in the page until `condition` (a JavaScript expression) is truthy, checking
    /// every 10 ms, for at most `limit`; panics with `what` on the deadline.
    pub async fn wait_for(&mut self, condition: &str, limit: Duration, what: &str) {
        let expression = format!(
            "new Promise((resolve, reject) => {{
                const deadline = performance.now() + {limit_ms};
                const check = () => {{
                    if ({condition}) resolve(true);
                    else if (performance.now() > deadline) reject(new Error('timed out'));
                    else setTimeout(check, 10);
                }};
                check();
            }})",
            limit_ms = limit.as_millis()
        );
        if let Err(error) = self.eval(&expression).await {
            panic!(
                "waiting for {what} ({condition}): {error}; page problems: {:?}",
                self.problems
            );
        }
    }

    /// Closes the browser and waits for it to exit (it is killed if it does not).
    pub async fn close(mut self) {
        let id = self.send("Browser.close", json!({}), None).await;
        let _ = timeout(COMMAND_TIMEOUT, self.answer(id)).await;
        if timeout(COMMAND_TIMEOUT, self.child.wait()).await.is_err() {
            let _ = self.child.kill().await;
        }
    }

    /// Sends a command to the tab's session and returns its result.
    async fn command(&mut self, method: &str, params: Value) -> Value {
        let session = (!self.session.is_empty()).then(|| self.session.clone());
        let id = self.send(method, params, session).await;
        match timeout(COMMAND_TIMEOUT, self.answer(id)).await {
            Ok(Ok(result)) => result,
            Ok(Err(error)) => panic!("{method} failed: {error}"),
            Err(_) => panic!("{method}: no answer within {COMMAND_TIMEOUT:?}"),
        }
    }

    async fn send(&mut self, method: &str, params: Value, session: Option<String>) -> u64 {
        self.next_id += 1;
        let mut message = json!({"id": self.next_id, "method": method, "params": params});
        if let Some(session) = session {
            message["sessionId"] = Value::String(session);
        }
        self.socket
            .send(Message::Text(message.to_string().into()))
            .await
            .expect("send to chromium");
        self.next_id
    }

    /// Reads messages until the answer to `id`, noting problems from the events between.
    async fn answer(&mut self, id: u64) -> Result<Value, Value> {
        loop {
            let message = self.next_message().await;
            if message["id"].as_u64() == Some(id) {
                return match message.get("error") {
                    Some(error) => Err(error.clone()),
                    None => Ok(message["result"].clone()),
                };
            }
        }
    }

    /// Reads messages until the event `method`.
    async fn event(&mut self, method: &str) {
        let wait = async { while self.next_message().await["method"] != method {} };
        timeout(COMMAND_TIMEOUT, wait)
            .await
            .unwrap_or_else(|_| panic!("no {method} within {COMMAND_TIMEOUT:?}"));
    }

    async fn next_message(&mut self) -> Value {
        loop {
            let frame = self
                .socket
                .next()
                .await
                .expect("chromium closed the DevTools connection")
                .expect("DevTools connection failed");
            if let Message::Text(text) = frame {
                let message: Value = serde_json::from_str(&text).expect("DevTools sent JSON");
                self.note_problem(&message);
                return message;
            }
        }
    }

    fn note_problem(&mut self, message: &Value) {
        let params = &message["params"];
        let problem = match message["method"].as_str() {
            Some("Runtime.consoleAPICalled")
                if matches!(params["type"].as_str(), Some("error" | "assert")) =>
            {
                let args: Vec<String> = params["args"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|arg| {
                        arg["value"]
                            .as_str()
                            .map(str::to_owned)
                            .or_else(|| arg["description"].as_str().map(str::to_owned))
                            .unwrap_or_else(|| arg.to_string())
                    })
                    .collect();
                format!("console.{}: {}", params["type"], args.join(" "))
            }
            Some("Runtime.exceptionThrown") => {
                let details = &params["exceptionDetails"];
                format!(
                    "uncaught: {}",
                    details["exception"]["description"]
                        .as_str()
                        .unwrap_or_else(|| details["text"].as_str().unwrap_or("?"))
                )
            }
            Some("Log.entryAdded") if params["entry"]["level"] == "error" => format!(
                "log: {} ({})",
                params["entry"]["text"].as_str().unwrap_or("?"),
                params["entry"]["url"].as_str().unwrap_or("")
            ),
            _ => return,
        };
        self.problems.push(problem);
    }
}
