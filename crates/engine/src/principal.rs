//! Who is asking.

/// How a principal proved who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AuthMethod {
    /// An API token presented over HTTP.
    ApiToken,
    /// Local access by someone who holds the vault's master key, through the
    /// CLI or an internal job.
    LocalOperator,
}

/// An authenticated caller. Only the vault makes one: from a verified token,
/// or for a local operator who already holds the master key.
#[derive(Debug, Clone)]
pub struct Principal {
    name: String,
    method: AuthMethod,
}

impl Principal {
    pub(crate) fn admin_token() -> Self {
        Self {
            name: "admin".to_owned(),
            method: AuthMethod::ApiToken,
        }
    }

    /// The local operator: whoever runs the CLI with access to the master
    /// key, named after their OS user.
    pub(crate) fn local_operator() -> Self {
        let user = std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .unwrap_or_else(|_| "unknown".to_owned());
        Self {
            name: format!("local:{user}"),
            method: AuthMethod::LocalOperator,
        }
    }

    /// The principal's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl std::fmt::Display for Principal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let method = match self.method {
            AuthMethod::ApiToken => "api token",
            AuthMethod::LocalOperator => "local operator",
        };
        write!(f, "{} ({method})", self.name)
    }
}
