//! What a principal asks to do, as Cedar names it.

use std::fmt;

/// An action on subjects or on the vault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    /// Read fields of a subject.
    Read,
    /// Create a subject with fields.
    Create,
    /// Change fields of a subject.
    Update,
    /// Export fields of a subject to a file.
    Export,
    /// See a subject in a listing (its id and scope attributes).
    List,
    /// Find a subject by exact match on a lookup field.
    Find,
    /// Erase a subject.
    Erase,
    /// Import subjects in bulk.
    Import,
    /// Manage principals, tokens, purposes and policies.
    Administer,
    /// Read the ledger and the alerts.
    Audit,
}

/// Where an action applies, which decides the shape of its Cedar context.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionScope {
    /// One decision per field of one subject; the context has `field`.
    Field,
    /// One decision per subject.
    Subject,
    /// One decision about the vault as a whole, for a purpose.
    VaultData,
    /// One decision about the vault as a whole, with no purpose.
    Vault,
}

impl Action {
    /// Every action, in the order documents list them.
    pub const ALL: [Action; 10] = [
        Self::Read,
        Self::Create,
        Self::Update,
        Self::Export,
        Self::List,
        Self::Find,
        Self::Erase,
        Self::Import,
        Self::Administer,
        Self::Audit,
    ];

    /// The Cedar action id, as policies write it: `Custos::Action::"read"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Create => "create",
            Self::Update => "update",
            Self::Export => "export",
            Self::List => "list",
            Self::Find => "find",
            Self::Erase => "erase",
            Self::Import => "import",
            Self::Administer => "administer",
            Self::Audit => "audit",
        }
    }

    /// Parses an action name.
    pub fn parse(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "`{s}` is not an action (expected one of {})",
                    Self::ALL.map(Self::as_str).join(", ")
                )
            })
    }

    /// Where the action applies.
    pub fn scope(self) -> ActionScope {
        match self {
            Self::Read | Self::Create | Self::Update | Self::Export => ActionScope::Field,
            Self::List | Self::Find | Self::Erase => ActionScope::Subject,
            Self::Import => ActionScope::VaultData,
            Self::Administer | Self::Audit => ActionScope::Vault,
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
