//! Dump names: refused, or the dump stays inside the dump directory.

use super::*;

/// Every file under `root` except inside `except`, relative paths, sorted.
fn files_outside(root: &std::path::Path, except: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![root.to_owned()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.starts_with(except) {
                continue;
            }
            if path.is_dir() {
                pending.push(path);
            } else {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

fn dump_name() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9._-]{1,12}",
        "\\PC{1,10}",
        "[./\\\\a]{1,8}",
        "(\\.\\./){1,3}[a-z]{1,6}",
        "[a-z]{0,3}[\\x00-\\x1f][a-z]{0,3}",
        "x{250,260}",
    ]
}

#[test]
fn dump_names_are_refused_or_stay_inside_the_dump_directory() {
    against_server(
        96,
        dump_name(),
        async |server: &TestServer, name: String| {
            let root = server.dir.path();
            let dumps = server.dump_dir();
            let before = files_outside(root, &dumps);
            let answer = server
                .post("/ctx/dump", &json!({"format": "json", "filename": name}))
                .await;
            let body = answered(&answer)?;
            prop_assert!(
                answer.status == StatusCode::OK || answer.status == StatusCode::BAD_REQUEST,
                "{}: {}",
                answer.status,
                answer.text()
            );
            if answer.status == StatusCode::OK {
                let written = body["filename"].as_str().unwrap_or_default().to_owned();
                prop_assert!(
                    dumps.join(&written).is_file(),
                    "{written:?} in the dump dir"
                );
            }
            let read = server.get(&format!("/ctx/dump/{}", encode(&name))).await;
            prop_assert!(
                !read.status.is_server_error(),
                "{}: {}",
                read.status,
                read.text()
            );
            if read.status == StatusCode::OK {
                let served = dumps.join(&name);
                prop_assert!(
                    served.is_file(),
                    "served {name:?} from outside the dump dir"
                );
                prop_assert_eq!(
                    std::fs::read(served).expect("read dump"),
                    read.body.to_vec()
                );
            }
            prop_assert_eq!(
                files_outside(root, &dumps),
                before,
                "nothing written elsewhere"
            );
            Ok(())
        },
    );
}
