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
