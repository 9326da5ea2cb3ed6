//! The command line itself: each subcommand's flags, shell completions.

use super::*;

#[test]
fn each_subcommand_lists_only_its_own_flags() {
    let help = |args: &[&str]| {
        let output = Command::new(CTX)
            .args(args)
            .env_remove("CTX_SERVER")
            .output()
            .expect("run ctx");
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    for command in [&["--help"][..], &["serve", "--help"]] {
        let text = help(command);
        assert!(
            !text.contains("--server <") && !text.contains("--json"),
            "{command:?}: {text}"
        );
    }
    // `ctx load --json` prints its summary as JSON (docs/load.md); it takes no --server.
    let text = help(&["load", "--help"]);
    assert!(
        !text.contains("--server <") && text.contains("--json"),
        "{text}"
    );
    for command in [
        "get", "set", "del", "list", "history", "dump", "status", "watch",
    ] {
        let text = help(&[command, "--help"]);
        assert!(
            text.contains("--server <URL>") && text.contains("--json"),
            "{command}: {text}"
        );
        assert!(
            text.contains(&format!("Usage: ctx {command} [OPTIONS]")),
            "{command}: {text}"
        );
    }
    // A usage error shows the usage line without `--server` as if it were required.
    let output = Command::new(CTX).arg("get").output().expect("run ctx");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("Usage: ctx get <KEY>"), "{stderr}");
    assert!(!stderr.contains("--server <"), "{stderr}");
    // The client options belong after the subcommand now.
    let output = Command::new(CTX)
        .args(["--json", "status"])
        .output()
        .expect("run ctx");
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn completions_are_generated_for_each_shell() {
    for (shell, marker) in [
        ("bash", "_ctx()"),
        ("zsh", "#compdef ctx"),
        ("fish", "complete -c ctx"),
    ] {
        let output = Command::new(CTX)
            .args(["completions", shell])
            .output()
            .expect("run ctx");
        assert_eq!(output.status.code(), Some(0), "{shell}");
        let script = String::from_utf8_lossy(&output.stdout);
        assert!(script.contains(marker), "{shell}: {script}");
        assert!(
            script.contains("history") && script.contains("include-history"),
            "{shell}: the script knows the subcommands and their flags"
        );
    }
    let output = Command::new(CTX)
        .args(["completions", "tcsh"])
        .output()
        .expect("run ctx");
    assert_eq!(output.status.code(), Some(2));
}
