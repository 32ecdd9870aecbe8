//! The command line: parses flags into settings, runs the command, and turns errors into
//! a message and an exit code. This is the only module that prints.

mod build;
mod containerize;
mod debug;
mod dockerfile;
mod llb;

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
    /// Build an image from a Bento (a directory or NAME[:VERSION] in the BentoML store).
    Containerize(containerize::ContainerizeCommand),
    /// Build a Dockerfile and its context into an image (like buildctl/buildx build).
    Build(build::BuildCommand),
    /// Print the LLB a Dockerfile converts to (JSON, or the Definition bytes buildctl reads).
    Llb(llb::LlbCommand),
    /// Inspect and manage the BuildKit daemon.
    #[command(subcommand)]
    Debug(debug::DebugCommand),
    /// Print the Dockerfile that containerize builds for a Bento (no daemon needed).
    Dockerfile(dockerfile::DockerfileArgs),
}

/// An error whose text is already formatted for the terminal (a Dockerfile excerpt).
#[derive(Debug)]
pub(crate) struct Rendered(pub String);

impl std::fmt::Display for Rendered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0.trim_end())
    }
}

impl std::error::Error for Rendered {}

/// The user interrupted the build (Ctrl-C); exit code 130 like a shell.
#[derive(Debug)]
pub(crate) struct Cancelled;

impl std::fmt::Display for Cancelled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("build cancelled")
    }
}

impl std::error::Error for Cancelled {}

/// Runs the CLI and returns the process exit code.
pub fn main() -> i32 {
    crate::session::tune_allocator();
    let cli = Cli::parse();
    init_tracing();
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
        Command::Containerize(cmd) => containerize::run(&cli.daemon, cmd).await,
        Command::Build(cmd) => build::run(&cli.daemon, cmd).await,
        Command::Llb(cmd) => llb::run(&cli.daemon, cmd).await,
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

/// Diagnostics for developers, off unless `BENTOKIT_LOG` sets a filter (e.g. `debug`).
fn init_tracing() {
    let Ok(filter) = tracing_subscriber::EnvFilter::try_from_env("BENTOKIT_LOG") else { return };
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
}

fn report(e: &anyhow::Error) -> i32 {
    if let Some(io) = e.downcast_ref::<std::io::Error>() {
        if io.kind() == std::io::ErrorKind::BrokenPipe {
            return 0;
        }
    }
    if let Some(rendered) = e.downcast_ref::<Rendered>() {
        eprintln!("{}", rendered.0.trim_end());
        return 1;
    }
    if e.downcast_ref::<Cancelled>().is_some() {
        eprintln!("error: build cancelled");
        return 130;
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
