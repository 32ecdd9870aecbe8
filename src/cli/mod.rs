//! The command line: parses flags into settings, runs the command, and turns errors into
//! a message and an exit code. This is the only module that prints.

mod debug;
mod dockerfile;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::solve::{self, ConnectOptions, TlsOptions};

#[derive(Debug, Parser)]
#[command(name = "bentokit", version, about = "Build OCI images from BentoML Bentos with BuildKit — no docker, no Python")]
pub struct Cli {
    #[command(flatten)]
    pub daemon: DaemonArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Where buildkitd is and how to reach it, as buildctl's global flags.
#[derive(Debug, Clone, Args)]
pub struct DaemonArgs {
    /// BuildKit daemon address: unix:///path/to/sock or tcp://host:port. Without it, the
    /// default socket is used and a local buildkitd is started when none answers there.
    #[arg(long, global = true, env = "BUILDKIT_HOST", value_name = "ADDR")]
    pub addr: Option<String>,
    /// CA certificate that signed the daemon's TLS certificate (tcp:// only).
    #[arg(long, global = true, env = "BUILDKIT_TLS_CA_CERT", value_name = "FILE")]
    pub tlscacert: Option<PathBuf>,
    /// Client certificate for mutual TLS.
    #[arg(long, global = true, env = "BUILDKIT_TLS_CERT", value_name = "FILE")]
    pub tlscert: Option<PathBuf>,
    /// Client key for mutual TLS.
    #[arg(long, global = true, env = "BUILDKIT_TLS_KEY", value_name = "FILE")]
    pub tlskey: Option<PathBuf>,
    /// Server name to verify in the daemon's certificate (default: the address's host).
    #[arg(long, global = true, env = "BUILDKIT_TLS_SERVER_NAME", value_name = "NAME")]
    pub tlsservername: Option<String>,
    /// Directory holding ca.pem, cert.pem and key.pem (each used unless given on its own).
    #[arg(long, global = true, env = "BUILDKIT_TLS_DIR", value_name = "DIR")]
    pub tlsdir: Option<PathBuf>,
}

impl DaemonArgs {
    pub fn connect_options(&self) -> ConnectOptions {
        let from_dir = |name: &str| self.tlsdir.as_ref().map(|d| d.join(name));
        ConnectOptions {
            addr: self.addr.clone().filter(|a| !a.is_empty()),
            tls: TlsOptions {
                ca_cert: self.tlscacert.clone().or_else(|| from_dir("ca.pem")),
                cert: self.tlscert.clone().or_else(|| from_dir("cert.pem")),
                key: self.tlskey.clone().or_else(|| from_dir("key.pem")),
                server_name: self.tlsservername.clone(),
            },
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Inspect and manage the BuildKit daemon.
    #[command(subcommand)]
    Debug(debug::DebugCommand),
    /// Print the Dockerfile that containerize builds for a Bento (no daemon needed).
    Dockerfile(dockerfile::DockerfileArgs),
}

/// Runs the CLI and returns the process exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
    // Rendering needs no daemon and no async runtime (starting one costs milliseconds).
    if let Command::Dockerfile(args) = cli.command {
        return dockerfile::run(args).map_or_else(|e| report(&e), |()| 0);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return 1;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => 0,
        Err(e) => report(&e),
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Debug(cmd) => debug::run(&cli.daemon, cmd).await,
        Command::Dockerfile(args) => dockerfile::run(args),
    }
}

/// Connects to buildkitd, telling the user in one line when a local daemon was started.
pub(crate) async fn connect(daemon: &DaemonArgs) -> anyhow::Result<solve::Connection> {
    let conn = solve::connect(&daemon.connect_options()).await?;
    if let Some(started) = &conn.started {
        eprintln!(
            "bentokit: started {}buildkitd (pid {}) on {}; it keeps running for later builds (log: {})",
            if started.rootless { "rootless " } else { "" },
            started.pid,
            conn.addr,
            started.log.display()
        );
    }
    Ok(conn)
}

fn report(e: &anyhow::Error) -> i32 {
    if let Some(io) = e.downcast_ref::<std::io::Error>() {
        if io.kind() == std::io::ErrorKind::BrokenPipe {
            return 0;
        }
    }
    let mut text = e.to_string();
    for cause in e.chain().skip(1) {
        let c = cause.to_string();
        if !text.contains(&c) {
            text.push_str(": ");
            text.push_str(&c);
        }
    }
    eprintln!("error: {text}");
    1
}
