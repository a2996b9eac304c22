//! Who is asking, and in what request.
//!
//! A [`Caller`] is a request as it arrives: credentials that are not yet
//! checked, the purpose it declares, its request id and client. Only the
//! engine turns it into a [`Principal`], by authenticating it, as the first
//! step of every operation.

use std::fmt;
use std::sync::Arc;

use custos_model::{PrincipalName, Purpose};
use custos_policy::PrincipalEntity;

use crate::access_state::AccessState;
use zeroize::Zeroizing;

/// The purpose the CLI declares unless told otherwise.
pub const DEFAULT_PURPOSE: &str = "membership_admin";

/// What a request presents to prove who it is.
#[derive(Clone)]
pub(crate) enum Credentials {
    /// Nothing.
    None,
    /// An API or session token.
    Token(Zeroizing<String>),
    /// The local operator: whoever runs the CLI or an internal job with the
    /// vault's master key, which already gives them everything.
    LocalOperator,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::None => "None",
            Self::Token(_) => "Token(<redacted>)",
            Self::LocalOperator => "LocalOperator",
        })
    }
}

/// A request before authentication: credentials, the declared purpose, the
/// request id and the client, and whether partial answers are refused.
#[derive(Debug, Clone)]
pub struct Caller {
    pub(crate) credentials: Credentials,
    /// Every purpose the request declared; exactly one is accepted.
    purposes: Vec<String>,
    request_id: String,
    client: String,
    strict: bool,
}

impl Caller {
    /// A request that presents a bearer token.
    pub fn with_token(token: &str, request_id: &str, client: &str) -> Self {
        Self::new(
            Credentials::Token(Zeroizing::new(token.trim().to_owned())),
            request_id,
            client,
        )
    }

    /// A request that presents no credentials; it will be refused (and
    /// recorded) by whatever it asks for.
    pub fn anonymous(request_id: &str, client: &str) -> Self {
        Self::new(Credentials::None, request_id, client)
    }

    pub(crate) fn local(request_id: &str, client: &str) -> Self {
        Self::new(Credentials::LocalOperator, request_id, client)
            .with_purpose(Some(DEFAULT_PURPOSE))
    }

    fn new(credentials: Credentials, request_id: &str, client: &str) -> Self {
        Self {
            credentials,
            purposes: Vec::new(),
            request_id: request_id.to_owned(),
            client: client.to_owned(),
            strict: false,
        }
    }

    /// The same request declaring this purpose (or none).
    pub fn with_purpose(self, purpose: Option<&str>) -> Self {
        self.with_purposes(purpose)
    }

    /// The same request declaring these purposes, as a request may declare
    /// them in several places (an HTTP query parameter and a header). One,
    /// or the same one several times, is accepted; none, or two different
    /// ones, is refused and recorded.
    pub fn with_purposes<'a>(mut self, purposes: impl IntoIterator<Item = &'a str>) -> Self {
        self.purposes.clear();
        for purpose in purposes {
            let purpose = purpose.trim();
            if !purpose.is_empty() && !self.purposes.iter().any(|p| p == purpose) {
                self.purposes.push(purpose.to_owned());
            }
        }
        self
    }

    /// The same request declaring `purpose` if it declared none: for
    /// operations that exist for one purpose only, such as breach notices.
    /// A request that declared one, or several, keeps them, and is decided
    /// (or refused) on them.
    pub fn or_purpose(self, purpose: &str) -> Self {
        if self.purposes.is_empty() {
            self.with_purpose(Some(purpose))
        } else {
            self
        }
    }

    /// The same request in strict mode: if any field asked for is denied,
    /// the whole request is denied instead of answered in part.
    pub fn strict(mut self, strict: bool) -> Self {
        self.strict = strict;
        self
    }

    /// The purpose as declared, unchecked, if exactly one was.
    pub fn declared_purpose(&self) -> Option<&str> {
        match self.purposes.as_slice() {
            [one] => Some(one),
            _ => None,
        }
    }

    /// Whether different purposes were declared.
    pub(crate) fn declares_several_purposes(&self) -> bool {
        self.purposes.len() > 1
    }

    /// The request id.
    pub fn request_id(&self) -> &str {
        &self.request_id
    }

    /// The client address, or the name of the local tool or job.
    pub fn client(&self) -> &str {
        &self.client
    }

    /// Whether partial answers are refused.
    pub fn is_strict(&self) -> bool {
        self.strict
    }
}

/// How a principal proved who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AuthMethod {
    /// An API token.
    ApiToken,
    /// A session from a password and TOTP login.
    Session,
    /// Local access by someone who holds the vault's master key.
    LocalOperator,
}

impl AuthMethod {
    /// The name recorded in ledger events and given to policies as
    /// `context.auth`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::ApiToken => "api_token",
            Self::Session => "session+totp",
            Self::LocalOperator => "local_operator",
        }
    }
}

/// An authenticated principal. Only the engine makes one, from a verified
/// token or session, or for the local operator.
#[derive(Debug, Clone)]
pub struct Principal {
    pub(crate) entity: Arc<PrincipalEntity>,
    pub(crate) method: AuthMethod,
    pub(crate) mfa: bool,
    /// The digest of the token used, to check it again at release.
    pub(crate) token_digest: Option<[u8; 32]>,
    /// The public id of the token used (`tk_…`), recorded with every event
    /// so that an incident can be scoped to one stolen token.
    pub(crate) token_id: Option<String>,
}

impl Principal {
    /// The principal's name.
    pub fn name(&self) -> &PrincipalName {
        self.entity.name()
    }

    /// Their kind.
    pub fn kind(&self) -> custos_model::PrincipalKind {
        self.entity.facts().kind
    }

    /// Their attributes.
    pub fn attributes(&self) -> &custos_model::Attributes {
        &self.entity.facts().attributes
    }

    /// Whether they authenticated with a second factor.
    pub fn used_mfa(&self) -> bool {
        self.mfa
    }

    /// How they authenticated, as the ledger records it.
    pub fn auth(&self) -> &'static str {
        self.method.as_str()
    }
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.method.as_str())
    }
}

/// Who an operation is recorded as: the request, and as much as is known of
/// the principal and purpose. Refusals before authentication record the
/// principal as `(unknown)`, or by name when a revoked principal's token
/// identified them.
#[derive(Debug, Clone)]
pub(crate) struct Actor {
    /// The access state the actor was admitted under: one snapshot for the
    /// whole decision, so a request is decided against one consistent set
    /// of principals, purposes and policies (the re-check at release reads
    /// a fresh one).
    pub(crate) state: Option<Arc<AccessState>>,
    pub(crate) principal: Option<Principal>,
    pub(crate) name: String,
    pub(crate) auth: &'static str,
    /// The public id of the token the principal presented, if any.
    pub(crate) token_id: Option<String>,
    pub(crate) purpose: Option<Arc<Purpose>>,
    pub(crate) purpose_label: String,
    pub(crate) request_id: String,
    pub(crate) client: String,
    pub(crate) strict: bool,
}

/// How the ledger names a principal it does not know.
pub(crate) const UNKNOWN_PRINCIPAL: &str = "(unknown)";
/// How the ledger names a purpose that was not declared.
pub(crate) const NO_PURPOSE: &str = "(none)";
/// How the ledger names a purpose that is not in the registry: never the
/// text typed, which could be anything.
pub(crate) const UNKNOWN_PURPOSE: &str = "(unknown)";
/// How the ledger names the purpose of a request that declared several.
pub(crate) const SEVERAL_PURPOSES: &str = "(several)";

impl Actor {
    /// An actor before authentication.
    pub(crate) fn unauthenticated(caller: &Caller, name: Option<&PrincipalName>) -> Self {
        let auth = match caller.credentials {
            Credentials::LocalOperator => AuthMethod::LocalOperator.as_str(),
            _ => AuthMethod::ApiToken.as_str(),
        };
        Self {
            state: None,
            principal: None,
            name: name.map_or_else(|| UNKNOWN_PRINCIPAL.to_owned(), ToString::to_string),
            auth,
            token_id: None,
            purpose: None,
            purpose_label: NO_PURPOSE.to_owned(),
            request_id: caller.request_id().to_owned(),
            client: caller.client().to_owned(),
            strict: caller.is_strict(),
        }
    }

    /// How the actor authenticated, as the ledger's `auth` records it: the
    /// method, and the id of the token used, such as `api_token tk_0123456789ab`.
    pub(crate) fn recorded_auth(&self) -> String {
        match &self.token_id {
            Some(token) => format!("{} {token}", self.auth),
            None => self.auth.to_owned(),
        }
    }

    /// The access state the actor was admitted under.
    pub(crate) fn state(&self) -> Result<Arc<AccessState>, crate::error::EngineError> {
        self.state.clone().ok_or_else(|| {
            crate::error::EngineError::Config(
                "an unauthenticated actor reached a step that needs a principal".to_owned(),
            )
        })
    }

    /// An authenticated actor, with its purpose if one was checked.
    pub(crate) fn authenticated(
        caller: &Caller,
        principal: Principal,
        state: Arc<AccessState>,
    ) -> Self {
        Self {
            state: Some(state),
            name: principal.name().to_string(),
            auth: principal.auth(),
            token_id: principal.token_id.clone(),
            principal: Some(principal),
            purpose: None,
            purpose_label: NO_PURPOSE.to_owned(),
            request_id: caller.request_id().to_owned(),
            client: caller.client().to_owned(),
            strict: caller.is_strict(),
        }
    }
}
