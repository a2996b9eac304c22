//! The throwaway PostgreSQL cluster: checks that PostgreSQL 15, pgcrypto
//! and pgaudit are installed, creates a cluster in the bench's directory,
//! starts it on a free port and stops it on drop.
//!
//! PostgreSQL refuses to run as root, and the bench often does: then every
//! binary runs as the `postgres` system user through `runuser`, and the
//! directory is handed to that user.

use std::fmt;
use std::fs;
use std::io::Write as _;
use std::net::{Ipv4Addr, TcpListener};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

/// Where Debian's PostgreSQL 15 keeps its binaries, libraries and
/// extension scripts.
const BIN_DIR: &str = "/usr/lib/postgresql/15/bin";
const LIB_DIR: &str = "/usr/lib/postgresql/15/lib";
const EXTENSION_DIR: &str = "/usr/share/postgresql/15/extension";
/// The extensions the peer needs, each with the Debian package that
/// installs it.
const EXTENSIONS: [(&str, &str); 2] = [
    ("pgcrypto", "postgresql-15"),
    ("pgaudit", "postgresql-15-pgaudit"),
];
/// The system user PostgreSQL runs as when the bench runs as root.
const SERVICE_USER: &str = "postgres";
/// The cluster's bootstrap superuser: it sets the cluster up and loads the
/// audit log, and is never used for the timed workloads except the
/// unprotected read.
pub(super) const SUPERUSER: &str = "peer_admin";
/// The directory of the server's unix socket, inside the peer's.
const SOCKET_DIR: &str = "run";
/// The database every session connects to.
const DATABASE: &str = "postgres";
/// How long `pg_ctl` may wait for the server to start or stop.
const PG_CTL_WAIT_SECONDS: &str = "60";
/// A session's connection timeout.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest unix socket path the kernel accepts is 107 bytes; beyond
/// that the clients connect over TCP instead.
const MAX_SOCKET_PATH: usize = 100;
/// `shared_buffers` for large and small runs: 512MB holds the hot part of
/// a million members; small runs do not need it.
const LARGE_RUN_MEMBERS: u64 = 100_000;

/// Why the peer cannot run on this machine. The bench reports it as
/// skipped, with this reason, rather than as a failure.
#[derive(Debug, Clone)]
pub(crate) struct Unavailable(String);

impl fmt::Display for Unavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "skipped: {}", self.0)
    }
}

impl std::error::Error for Unavailable {}

/// How the PostgreSQL binaries are run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Runner {
    /// As the bench's own user.
    Direct,
    /// As root: through `runuser -u postgres --`.
    AsServiceUser,
}

impl Runner {
    /// The effective uid decides: PostgreSQL refuses uid 0.
    fn detect() -> Result<Self, Unavailable> {
        let status = fs::read_to_string("/proc/self/status")
            .map_err(|e| Unavailable(format!("cannot read /proc/self/status: {e}")))?;
        match effective_uid(&status) {
            Some(0) => {
                let works = Command::new("runuser")
                    .args(["-u", SERVICE_USER, "--", "true"])
                    .output()
                    .is_ok_and(|out| out.status.success());
                if works {
                    Ok(Self::AsServiceUser)
                } else {
                    Err(Unavailable(format!(
                        "running as root, and `runuser -u {SERVICE_USER}` does not work \
                         (PostgreSQL refuses to run as root)"
                    )))
                }
            }
            Some(_) => Ok(Self::Direct),
            None => Err(Unavailable(
                "no `Uid:` line in /proc/self/status".to_owned(),
            )),
        }
    }

    fn command(self, program: &str) -> Command {
        let path = Path::new(BIN_DIR).join(program);
        match self {
            Self::Direct => Command::new(path),
            Self::AsServiceUser => {
                let mut command = Command::new("runuser");
                command.args(["-u", SERVICE_USER, "--"]).arg(path);
                command
            }
        }
    }
}

/// The effective uid, the second number of the `Uid:` line of
/// `/proc/self/status` (real, effective, saved, filesystem).
fn effective_uid(status: &str) -> Option<u32> {
    status
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1))
        .and_then(|uid| uid.parse().ok())
}

/// Checks that PostgreSQL 15 and both extensions are installed, and how
/// to run the binaries.
fn check_installed() -> Result<Runner, Unavailable> {
    for program in ["initdb", "pg_ctl", "postgres"] {
        let path = Path::new(BIN_DIR).join(program);
        if !path.is_file() {
            return Err(Unavailable(format!(
                "PostgreSQL 15 is not installed (no `{}`)",
                path.display()
            )));
        }
    }
    for (extension, package) in EXTENSIONS {
        let library = Path::new(LIB_DIR).join(format!("{extension}.so"));
        let control = Path::new(EXTENSION_DIR).join(format!("{extension}.control"));
        if !library.is_file() || !control.is_file() {
            return Err(Unavailable(format!(
                "{extension} is not installed (no `{}`; install the Debian package `{package}`)",
                library.display()
            )));
        }
    }
    Runner::detect()
}

/// How clients reach the server.
#[derive(Debug, Clone)]
enum Transport {
    /// The unix socket in this directory (the peer's best case, as pgbench
    /// measures by default).
    Socket(PathBuf),
    /// TCP on 127.0.0.1, when the socket path would be too long.
    Tcp,
}

/// A running cluster, stopped (`pg_ctl stop -m fast`) on drop.
#[derive(Debug)]
pub(super) struct Server {
    data: PathBuf,
    port: u16,
    transport: Transport,
    runner: Runner,
}

impl Server {
    /// Creates a cluster in `dir` (which must not exist yet, or be empty)
    /// with the peer's settings for `members` members, and starts it.
    /// `Err` holds an [`Unavailable`] when PostgreSQL or an extension is
    /// missing.
    pub(super) fn start(dir: &Path, members: u64, log: &dyn Fn(&str)) -> anyhow::Result<Self> {
        let runner = check_installed()?;
        prepare_dir(dir, runner, log)?;
        let data = dir.join("data");
        run(
            runner
                .command("initdb")
                .arg("--pgdata")
                .arg(&data)
                .args(["--username", SUPERUSER, "--auth=trust", "--encoding=UTF8"])
                // The cluster's creation is not measured; fsync stays on for
                // the server itself.
                .args(["--locale=C", "--no-sync"])
                .current_dir(dir),
            "initdb",
        )?;
        let port = free_port()?;
        let socket_dir = dir.join(SOCKET_DIR);
        let socket_path = socket_dir.join(format!(".s.PGSQL.{port}"));
        let transport = if socket_path.as_os_str().len() <= MAX_SOCKET_PATH {
            Transport::Socket(socket_dir)
        } else {
            Transport::Tcp
        };
        write_settings(&data, &settings(port, &transport, members))?;
        let server = Self {
            data,
            port,
            transport,
            runner,
        };
        log(&format!(
            "starting PostgreSQL 15 with pgaudit on port {port} ({}) …",
            server.transport()
        ));
        // From here on, drop stops the server, even if starting fails half
        // way.
        run(
            runner
                .command("pg_ctl")
                .arg("--pgdata")
                .arg(&server.data)
                .arg("--log")
                .arg(dir.join("server.log"))
                .args([
                    "--wait",
                    "--timeout",
                    PG_CTL_WAIT_SECONDS,
                    "--silent",
                    "start",
                ])
                .current_dir(dir),
            "pg_ctl start",
        )?;
        Ok(server)
    }

    /// The connection settings of a session as `user`.
    pub(super) fn config(&self, user: &str) -> tokio_postgres::Config {
        let mut config = tokio_postgres::Config::new();
        match &self.transport {
            Transport::Socket(dir) => config.host_path(dir),
            Transport::Tcp => config.host(Ipv4Addr::LOCALHOST.to_string()),
        };
        config
            .port(self.port)
            .user(user)
            .dbname(DATABASE)
            .application_name("custos-bench-peer")
            .connect_timeout(CONNECT_TIMEOUT);
        config
    }

    /// How clients reach the server, for the report.
    pub(super) fn transport(&self) -> String {
        match &self.transport {
            Transport::Socket(dir) => format!("unix socket in {}", dir.display()),
            Transport::Tcp => format!("TCP 127.0.0.1:{}", self.port),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let stopped = run(
            self.runner
                .command("pg_ctl")
                .arg("--pgdata")
                .arg(&self.data)
                .args(["--mode", "fast", "--wait", "--timeout", PG_CTL_WAIT_SECONDS])
                .args(["--silent", "stop"]),
            "pg_ctl stop",
        );
        if let Err(e) = stopped {
            // Drop cannot return the error; a server left running must not
            // go unnoticed.
            let _ = writeln!(
                std::io::stderr(),
                "the peer's PostgreSQL in `{}` may still be running: {e}",
                self.data.display()
            );
        }
    }
}

/// Creates `dir`, empty, with the socket directory in it, and when running as root hands it to the
/// `postgres` user, who must also be able to reach it: each ancestor that
/// others cannot search gets the search bit (`o+x`, not read), which a
/// temporary directory (mode 0700) needs. The data is synthetic.
fn prepare_dir(dir: &Path, runner: Runner, log: &dyn Fn(&str)) -> anyhow::Result<()> {
    fs::create_dir_all(dir)
        .map_err(|e| anyhow::anyhow!("cannot create `{}`: {e}", dir.display()))?;
    let mut entries =
        fs::read_dir(dir).map_err(|e| anyhow::anyhow!("cannot read `{}`: {e}", dir.display()))?;
    anyhow::ensure!(
        entries.next().is_none(),
        "`{}` is not empty: the peer creates a new cluster there",
        dir.display()
    );
    fs::create_dir(dir.join(SOCKET_DIR))?;
    if runner == Runner::Direct {
        return Ok(());
    }
    let dir = fs::canonicalize(dir)?;
    for ancestor in dir.ancestors().skip(1) {
        let mut permissions = fs::metadata(ancestor)?.permissions();
        let mode = permissions.mode();
        if mode & 0o001 == 0 {
            log(&format!(
                "letting the `{SERVICE_USER}` user through `{}` (o+x) …",
                ancestor.display()
            ));
            permissions.set_mode(mode | 0o001);
            fs::set_permissions(ancestor, permissions)?;
        }
    }
    run(
        Command::new("chown")
            .arg("-R")
            .arg(format!("{SERVICE_USER}:"))
            .arg(&dir),
        "chown",
    )
}

/// A port nobody listens on now. Another process could take it before
/// the server binds it; the start then fails with a clear message.
fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(|e| anyhow::anyhow!("cannot find a free port: {e}"))?;
    Ok(listener.local_addr()?.port())
}

/// The peer's `postgresql.conf` settings, each with why.
fn settings(port: u16, transport: &Transport, members: u64) -> Vec<(&'static str, String)> {
    let socket_dir = match transport {
        Transport::Socket(dir) => dir.display().to_string(),
        Transport::Tcp => String::new(),
    };
    let shared_buffers = if members > LARGE_RUN_MEMBERS {
        "512MB"
    } else {
        "128MB"
    };
    let fixed = [
        ("listen_addresses", "127.0.0.1"),
        // The bench's 64 connections, the loaders and the admin.
        ("max_connections", "200"),
        ("shared_buffers", shared_buffers),
        // What a DBA sets for bulk loads, so that the import is not
        // dominated by checkpoints.
        ("max_wal_size", "4GB"),
        // Durable commits.
        ("fsync", "on"),
        ("synchronous_commit", "on"),
        ("shared_preload_libraries", "pgaudit"),
        // Every read and write is logged, once per relation it touches.
        ("pgaudit.log", "read, write"),
        ("pgaudit.log_relation", "on"),
        // Without the parameters the log cannot say which member a read
        // named; with them, the updates' new emails and phones are in the
        // log in plaintext. The importing role turns them off.
        ("pgaudit.log_parameter", "on"),
        // The client library's own catalog lookups are noise.
        ("pgaudit.log_catalog", "off"),
        // CSV logs, which W4 loads into a table.
        ("logging_collector", "on"),
        ("log_destination", "csvlog"),
        ("log_directory", "log"),
        ("log_filename", "postgresql-%Y%m%d-%H%M%S.log"),
        // Files change only when W4 asks, so that it loads whole files.
        ("log_rotation_age", "0"),
        ("log_rotation_size", "0"),
    ];
    let mut all = vec![
        ("port", port.to_string()),
        ("unix_socket_directories", socket_dir),
    ];
    all.extend(fixed.iter().map(|&(name, value)| (name, value.to_owned())));
    all
}

/// Writes `settings` to `custos-peer.conf` and includes it from
/// `postgresql.conf`, so that initdb's defaults stay as they are.
fn write_settings(data: &Path, settings: &[(&str, String)]) -> anyhow::Result<()> {
    let mut text = String::from("# Written by `custos bench` for its peer stack.\n");
    for (name, value) in settings {
        text.push_str(&format!("{name} = '{}'\n", value.replace('\'', "''")));
    }
    fs::write(data.join("custos-peer.conf"), text)?;
    let mut conf = fs::OpenOptions::new()
        .append(true)
        .open(data.join("postgresql.conf"))?;
    conf.write_all(b"\ninclude = 'custos-peer.conf'\n")?;
    Ok(())
}

/// Runs `command` and fails with the end of its output when it fails.
fn run(command: &mut Command, what: &str) -> anyhow::Result<()> {
    let output: Output = command
        .output()
        .map_err(|e| anyhow::anyhow!("cannot run {what}: {e}"))?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let text = if stderr.trim().is_empty() {
        stdout
    } else {
        stderr
    };
    let tail: Vec<&str> = text.trim().lines().rev().take(5).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    anyhow::bail!("{what} failed ({}): {}", output.status, tail.join(" / "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_effective_uid_is_the_second_number() {
        let status = "Name:\tbench\nUid:\t1000\t0\t0\t0\nGid:\t1000\t1000\t1000\t1000\n";
        assert_eq!(effective_uid(status), Some(0));
        assert_eq!(effective_uid("Uid:\t0\t1000\t1000\t1000\n"), Some(1000));
        assert_eq!(effective_uid("Name:\tbench\n"), None);
    }

    #[test]
    fn settings_audit_reads_and_writes_durably() {
        let all = settings(5433, &Transport::Tcp, 1_000_000);
        let get = |name: &str| {
            all.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("pgaudit.log"), Some("read, write"));
        assert_eq!(get("shared_preload_libraries"), Some("pgaudit"));
        assert_eq!(get("synchronous_commit"), Some("on"));
        assert_eq!(get("port"), Some("5433"));
        assert_eq!(get("unix_socket_directories"), Some(""));
        assert_eq!(get("shared_buffers"), Some("512MB"));
    }
}
