//! `ctx dev-cluster`: a cluster to try on one machine — 3 etcd members and N `ctx serve
//! --store etcd` nodes on loopback, their URLs printed, everything torn down on Ctrl-C.
//!
//! The processes come from ctx-etcd's launchers (the ones the cluster tests use): etcd from
//! PATH, the nodes from this very binary. Data and logs go to a temporary directory removed
//! at exit, or to `--dir`, kept. A member or node that dies (kill one to watch the cluster
//! carry on) is reported and the rest keeps running; only Ctrl-C or SIGTERM ends the command.
//! Built with the cargo feature `etcd` (the nodes are this binary's `serve --store etcd`);
//! without it the command says how to build it and exits 2, as `serve --store etcd` does.

use crate::exit;
use std::path::PathBuf;
use std::process::ExitCode;
#[cfg(feature = "etcd")]
use {
    ctx_etcd::local_cluster::LocalEtcdCluster,
    ctx_etcd::local_node::{LocalCtxNode, NodeConfig},
    std::time::Duration,
};

#[cfg(feature = "etcd")]
/// How long a node may take to connect to etcd, load the key space and bind.
const NODE_START_DEADLINE: Duration = Duration::from_secs(60);

#[cfg(feature = "etcd")]
/// How often the running cluster is checked for processes that died.
const WATCH_INTERVAL: Duration = Duration::from_millis(500);

#[derive(clap::Args)]
pub struct DevClusterArgs {
    /// ctx nodes to start in front of etcd (0: etcd alone, e.g. for bench/run's gRPC rows).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(0..=64))]
    nodes: u16,
    /// etcd members (an odd number keeps a majority after a loss: 3 survives one).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u16).range(1..=9))]
    etcd_members: u16,
    /// Port of the first node, the next ones count up from it; 0 picks free ports.
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Key prefix in etcd (`ctx serve --etcd-prefix`).
    #[arg(long)]
    etcd_prefix: Option<String>,
    /// Keep etcd data and every log here (default: a temporary directory, removed at exit).
    #[arg(long)]
    dir: Option<PathBuf>,
}

#[cfg(not(feature = "etcd"))]
pub fn run(_: DevClusterArgs) -> ExitCode {
    eprintln!(
        "ctx dev-cluster: this ctx was built without etcd support: build it with `cargo build --release --features etcd` (needs protoc)"
    );
    exit::code(exit::USAGE)
}

#[cfg(feature = "etcd")]
pub fn run(args: DevClusterArgs) -> ExitCode {
    let (dir, temporary) = match &args.dir {
        Some(dir) => (dir.clone(), false),
        None => (
            std::env::temp_dir().join(format!("ctx-dev-cluster-{}", std::process::id())),
            true,
        ),
    };
    let code = match start_and_serve(&args, &dir) {
        Ok(()) => exit::OK,
        Err(message) => {
            eprintln!("ctx dev-cluster: {message}");
            exit::COULD_NOT_RUN
        }
    };
    if temporary {
        let _ = std::fs::remove_dir_all(&dir);
    }
    exit::code(code)
}

#[cfg(feature = "etcd")]
/// Starts everything, prints the URLs, waits for Ctrl-C; the launchers' Drop tears down.
fn start_and_serve(args: &DevClusterArgs, dir: &std::path::Path) -> Result<(), String> {
    let program =
        std::env::current_exe().map_err(|e| format!("cannot find this ctx binary: {e}"))?;
    eprintln!("starting {} etcd members…", args.etcd_members);
    let mut etcd = LocalEtcdCluster::start(usize::from(args.etcd_members), &dir.join("etcd"))
        .map_err(|e| error_chain(&e))?;
    let mut nodes = Vec::with_capacity(usize::from(args.nodes));
    for index in 0..args.nodes {
        eprintln!("starting ctx node {index}…");
        let port = if args.port == 0 {
            0
        } else {
            args.port
                .checked_add(index)
                .ok_or("--port + --nodes passes 65535")?
        };
        let config = NodeConfig {
            program: program.clone(),
            endpoints: etcd.endpoints(),
            prefix: args.etcd_prefix.clone(),
            port,
            data_dir: dir.join(format!("node-{index}")),
            extra_args: Vec::new(),
        };
        nodes.push(LocalCtxNode::start(&config, NODE_START_DEADLINE).map_err(|e| error_chain(&e))?);
    }

    println!("etcd members (--etcd-endpoints {}):", etcd.endpoints());
    for (index, url) in etcd.client_urls().iter().enumerate() {
        println!(
            "  etcd {index}  {url}  pid {}",
            pid_text(etcd.pid(index).ok().flatten())
        );
    }
    if !nodes.is_empty() {
        println!("ctx nodes (API, /ws, Socket.IO and the dashboard at /):");
    }
    for (index, node) in nodes.iter().enumerate() {
        println!(
            "  node {index}  {}  pid {}",
            node.url(),
            pid_text(node.pid())
        );
    }
    if let [first, second, ..] = nodes.as_slice() {
        println!(
            "try: ctx set greeting '\"hello\"' --server {} && ctx get greeting --server {}",
            first.url(),
            second.url()
        );
    }
    println!(
        "data and logs: {}{}",
        dir.display(),
        if args.dir.is_none() {
            " (removed at exit)"
        } else {
            ""
        }
    );
    println!("Ctrl-C stops everything.");

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    runtime.block_on(async {
        let stop = ctx_server::shutdown_signal();
        tokio::pin!(stop);
        let mut etcd_running = vec![true; etcd.len()];
        let mut nodes_running = vec![true; nodes.len()];
        loop {
            tokio::select! {
                biased;
                () = &mut stop => break,
                () = tokio::time::sleep(WATCH_INTERVAL) => {}
            }
            for (index, running) in etcd_running.iter_mut().enumerate() {
                if *running && !etcd.is_running(index).unwrap_or(false) {
                    *running = false;
                    eprintln!(
                        "etcd {index} exited; its log: {}",
                        etcd.log_path(index)
                            .map(|p| p.display().to_string())
                            .unwrap_or_default()
                    );
                }
            }
            for (index, (node, running)) in nodes.iter_mut().zip(&mut nodes_running).enumerate() {
                if *running && let Some(status) = node.exit_status() {
                    *running = false;
                    eprintln!(
                        "ctx node {index} exited ({status}); its log: {}",
                        node.log_path().display()
                    );
                }
            }
        }
    });
    eprintln!(
        "stopping {} ctx nodes and {} etcd members",
        nodes.len(),
        etcd.len()
    );
    drop(nodes);
    drop(etcd);
    Ok(())
}

#[cfg(feature = "etcd")]
fn pid_text(pid: Option<u32>) -> String {
    pid.map_or_else(|| "-".to_owned(), |pid| pid.to_string())
}

#[cfg(feature = "etcd")]
/// The error and its sources on one line.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
