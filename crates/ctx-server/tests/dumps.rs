//! Dumps: the four Framework0 layouts, safe names, no silent overwrite, list and download.

mod common;

use common::{TestServer, assert_error};
use hyper::{Method, StatusCode};
use serde_json::{Value, json};

async fn seeded() -> TestServer {
    let server = TestServer::start().await;
    server.set("b.text", json!("héllo, \"world\"")).await;
    server.set("a.obj", json!({"n": 1, "list": [1, 2]})).await;
    server.set("c.float", json!(1.5)).await;
    server.set("d.bool", json!(true)).await;
    server.set("e.int", json!(42)).await;
    server.set("a.obj", json!({"n": 2})).await;
    server
}

async fn dump(server: &TestServer, body: Value) -> (Value, String) {
    let answer = server.post("/ctx/dump", &body).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let info = answer.json();
    let file = server.dump_dir().join(info["filename"].as_str().unwrap());
    let content = std::fs::read_to_string(&file).unwrap();
    assert_eq!(info["file_size"], content.len() as u64);
    (info, content)
}

#[tokio::test]
async fn json_dump_parses_back_with_fields_in_order() {
    let server = seeded().await;
    let (info, content) = dump(
        &server,
        json!({"format": "json", "filename": "snap", "who": "tester", "include_history": true}),
    )
    .await;
    assert_eq!(info["filename"], "snap.json");
    assert_eq!(info["key_count"], 5);
    assert_eq!(info["who"], "tester");
    let doc: Value = serde_json::from_str(&content).unwrap();
    assert_eq!(doc["context"]["a.obj"], json!({"n": 2}));
    assert_eq!(doc["context"]["b.text"], "héllo, \"world\"");
    assert_eq!(doc["key_count"], 5);
    assert_eq!(doc["history"].as_array().unwrap().len(), 6);
    assert_eq!(doc["history"][5]["before"], json!({"list": [1, 2], "n": 1}));
    assert!(content.contains("héllo"), "non-ASCII kept as is");
    assert!(content.starts_with("{\n  \"timestamp\""), "2-space indent");
    let order: Vec<usize> = [
        "\"timestamp\"",
        "\"format\"",
        "\"filename\"",
        "\"who\"",
        "\"key_count\"",
        "\"include_history\"",
        "\"context\"",
        "\"history\"",
    ]
    .iter()
    .map(|field| content.find(field).unwrap())
    .collect();
    assert!(
        order.windows(2).all(|w| w[0] < w[1]),
        "fields in Framework0's order"
    );

    let (_, without) = dump(&server, json!({"format": "json"})).await;
    let doc: Value = serde_json::from_str(&without).unwrap();
    assert!(doc.get("history").is_none());
    assert_eq!(doc["include_history"], false);
}

#[tokio::test]
async fn csv_dump_has_framework0_columns_types_and_quoting() {
    let server = seeded().await;
    let (_, content) = dump(
        &server,
        json!({"format": "csv", "who": "csv-reader", "include_history": true}),
    )
    .await;
    let mut lines = content.split("\r\n");
    assert_eq!(
        lines.next(),
        Some("Key,Value,Type,Dump_Timestamp,Requested_By")
    );
    let rows: Vec<&str> = lines.filter(|l| !l.is_empty()).collect();
    assert_eq!(rows.len(), 5, "one row per key, never history");
    assert!(
        rows[0].starts_with(r#"a.obj,"{""n"": 2}",dict,"#),
        "{}",
        rows[0]
    );
    assert!(
        rows[1].starts_with(r#"b.text,"héllo, ""world""",str,"#),
        "{}",
        rows[1]
    );
    assert!(rows[2].starts_with("c.float,1.5,float,"));
    assert!(rows[3].starts_with("d.bool,true,bool,"));
    assert!(rows[4].starts_with("e.int,42,int,"));
    assert!(rows.iter().all(|r| r.ends_with(",csv-reader")));
}

#[tokio::test]
async fn txt_and_pretty_layouts() {
    let server = seeded().await;
    let (_, txt) = dump(&server, json!({"format": "txt", "who": "ops"})).await;
    let lines: Vec<&str> = txt.lines().collect();
    assert!(lines[0].starts_with("Context Dump - 20"));
    assert_eq!(lines[1], "Requested by: ops");
    assert_eq!(lines[2], "Total keys: 5");
    assert_eq!(lines[3], "");
    assert_eq!(lines[4], r#"a.obj={"n":2}"#);
    assert_eq!(lines[5], r#"b.text=héllo, "world""#);

    let (_, pretty) = dump(
        &server,
        json!({"format": "pretty", "who": "ops", "include_history": true}),
    )
    .await;
    let lines: Vec<&str> = pretty.lines().collect();
    let rule = "=".repeat(80);
    assert_eq!(
        &lines[..4],
        &[
            rule.as_str(),
            "Framework0 Context Dump - Pretty Format",
            rule.as_str(),
            ""
        ]
    );
    assert!(lines[4].starts_with("Timestamp: "));
    assert_eq!(
        &lines[5..8],
        &[
            "Requested by: ops",
            "Total keys: 5",
            "Include history: True"
        ]
    );
    assert_eq!(lines[9], "Context Data:");
    assert_eq!(lines[10], "-".repeat(40));
    assert_eq!(&lines[11..14], &["a.obj: {", "  \"n\": 2", "}"]);
    let history_at = lines.iter().position(|l| *l == "Change History:").unwrap();
    assert!(lines[history_at + 2].starts_with("1. ["));
    assert!(lines[history_at + 2].ends_with("] api_client changed b.text"));
    assert_eq!(lines[history_at + 3], "   Before: null");
    assert_eq!(
        lines[history_at + 4],
        r#"   After:  "h\u00e9llo, \"world\"""#
    );
    assert_eq!(lines[history_at - 1], "", "a blank line before the section");
    assert_eq!(
        lines[history_at - 2],
        "",
        "after the last key's own blank line"
    );
}

#[tokio::test]
async fn dump_names_that_escape_the_directory_are_refused() {
    let server = seeded().await;
    let outside = server.dir.path().join("escaped");
    for name in [
        "../x",
        "a/b",
        "/tmp/abs",
        "..",
        "a\\b",
        "nul\u{0}byte",
        "line\nbreak",
        &outside.display().to_string(),
    ] {
        let answer = server
            .post("/ctx/dump", &json!({"format": "json", "filename": name}))
            .await;
        assert_error(&answer, StatusCode::BAD_REQUEST);
    }
    assert_error(
        &server
            .request(
                Method::POST,
                "/ctx/dump?format=txt&filename=..%2Fx",
                None,
                "",
            )
            .await,
        StatusCode::BAD_REQUEST,
    );
    assert!(!outside.exists());
    assert!(!server.dir.path().join("data").join("x.json").exists());
    let listing = server.get("/ctx/dump/list").await.json();
    assert_eq!(listing["dump_count"], 0);
    assert_error(
        &server.get("/ctx/dump/..%2F..%2Fetc%2Fpasswd").await,
        StatusCode::BAD_REQUEST,
    );
}

#[tokio::test]
async fn dumps_never_overwrite_each_other() {
    let server = seeded().await;
    let mut names = std::collections::HashSet::new();
    for _ in 0..3 {
        let (info, _) = dump(&server, json!({"format": "txt", "filename": "same"})).await;
        names.insert(info["filename"].as_str().unwrap().to_owned());
    }
    for _ in 0..3 {
        let (info, _) = dump(&server, json!({"format": "csv"})).await;
        names.insert(info["filename"].as_str().unwrap().to_owned());
    }
    assert_eq!(names.len(), 6, "{names:?}");
    assert!(
        names.contains("same.txt") && names.contains("same_1.txt") && names.contains("same_2.txt")
    );
    assert_eq!(std::fs::read_dir(server.dump_dir()).unwrap().count(), 6);
}

/// Found by `tests/properties/`: a name that fits the limit only until `_1` is added was
/// answered 500 ("File name too long") the second time.
#[tokio::test]
async fn a_taken_name_at_the_length_limit_is_refused_with_400_not_500() {
    let server = seeded().await;
    let name = "x".repeat(250); // 255 bytes with ".json"
    let (info, _) = dump(&server, json!({"format": "json", "filename": name})).await;
    assert_eq!(info["filename"], format!("{name}.json"));
    let again = server
        .post("/ctx/dump", &json!({"format": "json", "filename": name}))
        .await;
    assert_error(&again, StatusCode::BAD_REQUEST);
    assert!(again.json()["error"].as_str().unwrap().contains("taken"));
}

#[tokio::test]
async fn unknown_format_and_query_parameter_form() {
    let server = seeded().await;
    assert_error(
        &server.post("/ctx/dump", &json!({"format": "xml"})).await,
        StatusCode::BAD_REQUEST,
    );
    let answer = server
        .request(
            Method::POST,
            "/ctx/dump?format=pretty&filename=q&who=form&include_history=true",
            Some("text/plain"),
            "not json",
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let info = answer.json();
    assert_eq!(info["filename"], "q.pretty");
    assert_eq!(info["who"], "form");
    assert_eq!(info["format"], "pretty");
}

#[tokio::test]
async fn list_and_download() {
    let server = seeded().await;
    dump(&server, json!({"format": "csv", "filename": "one"})).await;
    dump(&server, json!({"format": "json", "filename": "two"})).await;
    let listing = server.get("/ctx/dump/list").await.json();
    assert_eq!(listing["status"], "success");
    assert_eq!(listing["dump_count"], 2);
    let files = listing["dump_files"].as_array().unwrap();
    assert!(
        files
            .iter()
            .all(|f| f["size"].as_u64().unwrap() > 0 && f["modified"].is_string())
    );
    assert_eq!(listing["dump_history"].as_array().unwrap().len(), 2);

    let csv = server.get("/ctx/dump/one.csv").await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(csv.content_type.starts_with("text/csv"));
    let disposition = csv
        .headers
        .get("content-disposition")
        .unwrap()
        .to_str()
        .unwrap();
    assert_eq!(disposition, "attachment; filename=\"one.csv\"");
    assert!(csv.text().starts_with("Key,Value,Type"));
    let json_file = server.get("/ctx/dump/two.json").await;
    assert!(json_file.content_type.starts_with("application/json"));
    assert_eq!(json_file.json()["key_count"], 5);
    assert_error(
        &server.get("/ctx/dump/absent.json").await,
        StatusCode::NOT_FOUND,
    );
}

/// Values that show every rule of the old writer: non-ASCII and astral text, quotes,
/// commas and line breaks for CSV quoting, integers beyond 64 bits, floats Python prints
/// differently from Rust, empty containers, nested objects, a key needing CSV quotes.
async fn awkward() -> TestServer {
    let server = TestServer::start().await;
    for (key, value) in [
        ("text", r#""héllo, \"world\" 😀 \u007f""#),
        ("obj", r#"{"n": 1}"#),
        ("lines", r#""one\r\ntwo\nthree\rfour""#),
        ("big", "18446744073709551616"),
        (
            "huge",
            "[1000000000000000000000000000000, -5, 1e16, 0.00001, 2.50]",
        ),
        (
            "obj",
            r#"{"n": 2, "deep": {"é": [1, 2.5, null, true], "empty": {}, "none": []}}"#,
        ),
        ("flag", "false"),
        ("comma,key", r#""v""#),
        ("gone", "1"),
    ] {
        let value: Value = serde_json::from_str(value).expect("fixture value");
        server.set(key, value).await;
    }
    assert_eq!(server.delete("/ctx/gone").await.status, StatusCode::OK);
    server
}

/// What Framework0's writer (`old_dump_writer.py`, Python's json and csv modules) makes
/// of this context; `download` for what its download route served.
fn old_writer(input: &Value, download: bool) -> Vec<u8> {
    use std::io::Write;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/old_dump_writer.py");
    let mut child = std::process::Command::new("python3")
        .arg(script)
        .args(download.then_some("--download"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 must be installed");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.to_string().as_bytes())
        .expect("write to the old writer");
    let output = child.wait_with_output().expect("old writer output");
    assert!(
        output.status.success(),
        "old writer failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

#[tokio::test]
async fn dump_files_match_the_old_python_writer_byte_for_byte() {
    let server = awkward().await;
    let context = server.get("/ctx/all").await.json()["context"].clone();
    let history = server.get("/ctx/history?limit=1000").await.json()["history"].clone();
    assert_eq!(history.as_array().map(Vec::len), Some(10));
    for (format, include_history) in [
        ("json", true),
        ("json", false),
        ("csv", false),
        ("pretty", true),
        ("pretty", false),
    ] {
        let answer = server
            .post(
                "/ctx/dump",
                &json!({"format": format, "who": "fixture", "include_history": include_history}),
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
        let info = answer.json();
        let filename = info["filename"].as_str().expect("filename");
        let written = std::fs::read(server.dump_dir().join(filename)).expect("dump file");
        let input = json!({
            "format": format,
            "filename": filename,
            "who": "fixture",
            "timestamp": info["timestamp"],
            "include_history": include_history,
            "context": context,
            "history": history,
        });
        let expected = old_writer(&input, false);
        assert!(
            written == expected,
            "{format} (history {include_history}) differs from the old writer's file:\n--- ours\n{}\n--- old\n{}",
            String::from_utf8_lossy(&written),
            String::from_utf8_lossy(&expected)
        );
        let served = server.get(&format!("/ctx/dump/{filename}")).await;
        assert_eq!(served.status, StatusCode::OK);
        assert!(
            served.body == old_writer(&input, true),
            "{format}: the download differs from what the old server served: {:?}",
            served.text()
        );
    }
}
