//! dump: a file in the data dir, and downloads that never overwrite.

use super::*;

#[test]
fn dump_creates_a_file_in_the_data_dir() {
    let server = Server::start();
    server.ctx(&["set", "d/a", "1"]).ok();
    server.ctx(&["set", "d/b", "x"]).ok();
    let printed = server
        .ctx(&["dump", "--format", "csv", "--filename", "mine"])
        .ok();
    assert!(
        printed.contains("2 keys") && printed.contains("mine.csv"),
        "{printed}"
    );
    let file = server.child.data_dir.join("dumps").join("mine.csv");
    let csv = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    assert!(
        csv.starts_with("Key,Value,Type,Dump_Timestamp,Requested_By"),
        "{csv}"
    );

    let answer = server
        .ctx(&["dump", "--json", "--format", "json", "--include-history"])
        .json();
    assert_eq!(answer["format"], "json");
    assert_eq!(answer["key_count"], 2);
    let path = Path::new(answer["path"].as_str().expect("path"));
    let dump: Value = serde_json::from_str(&std::fs::read_to_string(path).expect("dump file"))
        .expect("json dump");
    assert_eq!(dump["context"]["d/b"], "x");
    assert!(dump["history"].is_array());
}

#[test]
fn dump_download_saves_the_servers_file_and_never_overwrites() {
    let server = Server::start();
    server.ctx(&["set", "d/a", "1"]).ok();
    server.ctx(&["set", "d/b", "é"]).ok();
    let cwd = tempfile::tempdir().expect("temp dir");
    let url = &server.child.url;
    let dump = |args: &[&str]| {
        let mut all = vec!["dump", "--format", "csv", "--filename", "dl"];
        all.extend_from_slice(args);
        ctx_in(cwd.path(), url, &all)
    };
    // What the server serves for a CSV: its file with `\n` line ends, as Framework0 did.
    let served = |name: &str| {
        let file = std::fs::read_to_string(server.child.data_dir.join("dumps").join(name));
        file.expect("dump on the server").replace("\r\n", "\n")
    };
    let printed = dump(&["--download"]).ok();
    assert!(printed.contains("downloaded dl.csv to dl.csv"), "{printed}");
    assert_eq!(
        std::fs::read_to_string(cwd.path().join("dl.csv")).expect("download"),
        served("dl.csv")
    );

    // Into a directory, under the name the server chose (dl_1.csv: no overwrite there either).
    std::fs::create_dir(cwd.path().join("into")).expect("mkdir");
    let answer = dump(&["--download", "into", "--json"]).json();
    assert_eq!(answer["filename"], "dl_1.csv");
    assert_eq!(answer["downloaded_to"], "into/dl_1.csv");
    assert!(cwd.path().join("into/dl_1.csv").is_file());

    // `-`: the file itself on stdout, nothing else.
    assert_eq!(dump(&["--download", "-"]).ok(), served("dl_2.csv"));

    // An existing file is never replaced: exit 3, one line, the file untouched.
    std::fs::write(cwd.path().join("mine.csv"), "keep").expect("write");
    let line = dump(&["--download", "mine.csv"]).fails(3);
    assert!(line.contains("mine.csv"), "{line}");
    assert_eq!(
        std::fs::read_to_string(cwd.path().join("mine.csv")).expect("read"),
        "keep"
    );
}
