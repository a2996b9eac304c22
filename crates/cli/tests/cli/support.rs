//! Running the binary against a vault in a temporary directory.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_custos");

/// A temporary directory holding one vault at `dir/vault`.
pub(crate) struct Sandbox {
    pub(crate) root: tempfile::TempDir,
}

pub(crate) struct Run {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Run {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}): {}\nstderr: {}",
                self.stdout, self.stderr
            )
        })
    }

    #[track_caller]
    pub(crate) fn ok(self) -> Self {
        assert_eq!(
            self.code, 0,
            "stdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self
    }
}

impl From<Output> for Run {
    fn from(out: Output) -> Self {
        Self {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

impl Sandbox {
    pub(crate) fn new() -> Self {
        Self {
            root: tempfile::tempdir().unwrap(),
        }
    }

    pub(crate) fn vault(&self) -> PathBuf {
        self.root.path().join("vault")
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.root.path().join(name)
    }

    pub(crate) fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(BIN);
        command
            .arg("--dir")
            .arg(self.vault())
            .args(args)
            .env_remove("CUSTOS_DIR")
            .env_remove("CUSTOS_KEY_FILE")
            .env_remove("CUSTOS_PASSPHRASE")
            .env_remove("CUSTOS_NEW_PASSPHRASE")
            .env_remove("CUSTOS_PURPOSE")
            .env_remove("CUSTOS_NEW_PASSWORD")
            .env("CUSTOS_LOG", "trace")
            .current_dir(self.root.path());
        command
    }

    pub(crate) fn run(&self, args: &[&str]) -> Run {
        self.command(args).output().unwrap().into()
    }

    pub(crate) fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut command = self.command(args);
        for (k, v) in env {
            command.env(k, v);
        }
        command.output().unwrap().into()
    }

    /// A vault with a key file; returns the admin token.
    pub(crate) fn init(&self) -> String {
        let out = self.run(&["init", "--json"]).ok().json();
        out["admin_token"].as_str().unwrap().to_owned()
    }

    pub(crate) fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, contents).unwrap();
        path
    }

    pub(crate) fn subjects(&self) -> u64 {
        self.run(&["info", "--json"]).ok().json()["subjects"]
            .as_u64()
            .unwrap()
    }
}

pub(crate) fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

impl Sandbox {
    /// Runs a command as the OS user `user`, whose events the ledger then
    /// records as by `local:{user}`.
    pub(crate) fn run_as(&self, user: &str, args: &[&str]) -> Run {
        let mut command = self.command(args);
        command.env("USER", user).env_remove("LOGNAME");
        command.output().unwrap().into()
    }

    /// The vault's ledger file.
    pub(crate) fn ledger(&self) -> PathBuf {
        self.vault().join("ledger.sqlite")
    }

    /// A raw connection to the vault's ledger, for tampering.
    pub(crate) fn ledger_db(&self) -> rusqlite::Connection {
        let conn = rusqlite::Connection::open(self.ledger()).unwrap();
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .unwrap();
        conn
    }
}

/// Runs the binary with no `--dir` and no vault settings in the
/// environment, in `cwd`.
pub(crate) fn run_without_vault(cwd: &Path, args: &[&str]) -> Run {
    Command::new(BIN)
        .args(args)
        .env_remove("CUSTOS_DIR")
        .env_remove("CUSTOS_KEY_FILE")
        .env_remove("CUSTOS_PASSPHRASE")
        .env_remove("CUSTOS_NEW_PASSPHRASE")
        .env_remove("CUSTOS_PURPOSE")
        .current_dir(cwd)
        .output()
        .unwrap()
        .into()
}

/// `custos serve --listen 127.0.0.1:0` running as a child process on a
/// sandbox's vault.
pub(crate) struct Server {
    pub(crate) child: std::process::Child,
    /// The address it listens on, as `127.0.0.1:PORT`.
    pub(crate) addr: String,
    /// Reads the server's log until it exits, so it never blocks on a full
    /// pipe; joins to the whole log.
    pub(crate) log: Option<std::thread::JoinHandle<String>>,
}

impl Sandbox {
    /// Starts the server and waits until it listens.
    pub(crate) fn serve(&self) -> Server {
        use std::io::BufRead;
        let mut child = self
            .command(&["serve", "--listen", "127.0.0.1:0"])
            .env("CUSTOS_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
        let addr = loop {
            let line = lines.next().expect("the server exited early").unwrap();
            if let Some(rest) = line.strip_prefix("custos listening on http://") {
                break rest.split_whitespace().next().unwrap().to_owned();
            }
        };
        assert!(addr.starts_with("127.0.0.1:"), "{addr}");
        let log =
            std::thread::spawn(move || lines.map_while(Result::ok).collect::<Vec<_>>().join("\n"));
        Server {
            child,
            addr,
            log: Some(log),
        }
    }
}

/// One HTTP/1.1 GET with a bearer token on a new connection; the whole
/// response, status line first.
pub(crate) fn http_get(addr: &str, path: &str, token: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

impl Drop for Server {
    /// A test that fails midway leaves no server behind. (Once waited for,
    /// the child is not signalled again.)
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Stops the server with SIGTERM and returns its log.
    pub(crate) fn stop(mut self) -> String {
        let status = self.signal("-TERM");
        assert!(status.success(), "{status:?}");
        self.log()
    }

    /// Sends a signal (`-TERM`, `-9`) and waits for the server to exit.
    pub(crate) fn signal(&mut self, signal: &str) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args([signal, &pid]).status().unwrap();
        assert!(sent.success());
        self.child.wait().unwrap()
    }

    /// The server's log, once it has exited.
    pub(crate) fn log(&mut self) -> String {
        self.log
            .take()
            .map(|log| log.join().unwrap())
            .unwrap_or_default()
    }
}
