//! The Custos engine: the one access path to personal data, and the jobs
//! built on it (import, export, erasure, key rotation).
//!
//! Architecture invariant: this is the only crate that combines keys (through
//! `custos-crypto`) with stored ciphertexts (through `custos-store`). The HTTP
//! server and the CLI call the same [`Vault`] methods, so neither can offer an
//! access that the other lacks or that bypasses the path.
//!
//! The path of every access, in `access.rs`: authenticate the caller
//! ([`Principal`]), parse and check the request against the schema, then
//! unwrap the subject's data key and open exactly the fields requested.

mod access;
mod audit;
mod error;
mod export;
mod import;
mod principal;
mod record;
mod recording;
mod rotation;
mod vault;
mod vault_dir;
pub mod wire;

pub use access::{FieldSelection, SubjectPage};
pub use audit::{ProvenEvent, SubjectHistory};
pub use custos_ledger::{Event, EventQuery, Outcome, Report, SignedHead};
pub use custos_store::Erasure;
pub use error::{EngineError, ErrorKind, Problem};
pub use export::ExportReport;
pub use import::{CsvInput, Encoding, ImportOptions, ImportProgress, ImportReport};
pub use principal::{Caller, DEFAULT_PURPOSE, Principal};
pub use record::{SubjectInput, SubjectRecord};
pub use rotation::{NewMasterKey, RotationReport};
pub use vault::{InitKey, InitOptions, Initialized, KeyAccess, OpenOptions, Vault, VaultInfo};
