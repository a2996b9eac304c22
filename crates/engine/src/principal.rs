//! Who is asking, and in what request.

/// How a principal proved who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AuthMethod {
    /// An API token presented over HTTP.
    ApiToken,
    /// Local access by someone who holds the vault's master key, through the
    /// CLI or an internal job.
    LocalOperator,
}

impl AuthMethod {
    /// The name recorded in ledger events.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::ApiToken => "api_token",
            Self::LocalOperator => "local_operator",
        }
    }
}

/// An authenticated principal. Only the vault makes one: from a verified
/// token, or for a local operator who already holds the master key.
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

    pub(crate) fn method(&self) -> AuthMethod {
        self.method
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

/// The purpose a request declares when it names none. Issue 4's purpose
/// registry replaces this default with a required, checked purpose.
pub const DEFAULT_PURPOSE: &str = "membership_admin";

/// A principal in one request: what the ledger records about who asked,
/// why, and from where.
#[derive(Debug, Clone)]
pub struct Caller {
    principal: Principal,
    purpose: String,
    request_id: String,
    client: String,
}

impl Caller {
    /// A caller from an authenticated principal and its request.
    pub fn new(principal: Principal, purpose: &str, request_id: &str, client: &str) -> Self {
        Self {
            principal,
            purpose: purpose.to_owned(),
            request_id: request_id.to_owned(),
            client: client.to_owned(),
        }
    }

    /// The principal.
    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    /// The declared purpose.
    pub fn purpose(&self) -> &str {
        &self.purpose
    }

    /// The request id.
    pub fn request_id(&self) -> &str {
        &self.request_id
    }

    /// The client address, or the name of the local tool or job.
    pub fn client(&self) -> &str {
        &self.client
    }
}

impl std::fmt::Display for Caller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.principal.fmt(f)
    }
}
