//! Creating and opening a vault.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use custos_crypto::{
    ApiToken, KeyError, KeyFile, KeyProvider, Keyring, LedgerSigningKey, MasterKey, Passphrase,
    SealedVaultKeys, TokenDigest,
};
use custos_ledger::{HeadPolicy, LedgerStore, Recorder};
use custos_model::{Attributes, PrincipalKind, PrincipalName, PrincipalStatus};
use custos_model::{DEFAULT_SCHEMA_TOML, Schema, VaultId};
use custos_policy::{
    DEFAULT_POLICIES, DEFAULT_POLICY_TESTS, Policies, PrincipalEntity, PrincipalFacts,
};
use custos_store::{KEY_EPOCH, SqliteLedger, SqliteOptions, SqliteStore, Store};
use custos_store::{PrincipalRecord, TokenKind, TokenRecord};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use zeroize::Zeroizing;

use crate::access_state::AccessState;
use crate::clock::now_stamp;
use crate::error::EngineError;
use crate::principal::Caller;
use crate::vault_dir::{
    CONFIG_FILE, DEFAULT_KEY_FILE, FORMAT, KeyConfig, PENDING_CONFIG_FILE, SCHEMA_FILE, STORE_FILE,
    VaultConfig, VaultDir,
};

pub(crate) const META_VAULT_ID: &str = "vault_id";
pub(crate) const META_VAULT_KEYS: &str = "vault_keys";
pub(crate) const META_LEDGER_SIGNING_KEY: &str = "ledger_signing_key";
const META_LEDGER_PUBLIC_KEY: &str = "ledger_public_key";
/// The ledger's public key, for auditors and witnesses.
pub(crate) const LEDGER_PUBLIC_KEY_FILE: &str = "ledger.pub";
pub(crate) const LEDGER_FILE: &str = "ledger.sqlite";
/// Where format-1 stores kept the digest of the admin token from init,
/// before principals had tokens of their own.
const META_ADMIN_TOKEN: &str = "admin_token_sha256";
/// The name of the administrator that `custos init` creates.
pub const INITIAL_ADMIN: &str = "admin";

/// How a new vault's master key is made.
#[derive(Debug)]
pub enum InitKey {
    /// A random key in a new file (default `DIR/master.key`).
    File {
        /// Where to create the key file.
        path: Option<PathBuf>,
    },
    /// A key derived from this passphrase with Argon2id.
    Passphrase(Zeroizing<String>),
}

/// What `custos init` needs.
#[derive(Debug)]
pub struct InitOptions {
    /// The vault directory; created if missing.
    pub dir: PathBuf,
    /// A schema file; the default party schema if absent.
    pub schema: Option<PathBuf>,
    /// How to make the master key.
    pub key: InitKey,
    /// How long writers wait for another process's lock.
    pub busy_timeout: Duration,
}

/// The secrets needed to open a vault, as far as the caller has them.
#[derive(Debug, Default)]
pub struct KeyAccess {
    /// A key file other than the one in `vault.toml`.
    pub key_file: Option<PathBuf>,
    /// The passphrase, for passphrase vaults.
    pub passphrase: Option<Zeroizing<String>>,
}

/// What opening a vault needs.
#[derive(Debug)]
pub struct OpenOptions {
    /// The vault directory.
    pub dir: PathBuf,
    /// Access to the master key.
    pub keys: KeyAccess,
    /// How long writers wait for another process's lock.
    pub busy_timeout: Duration,
}

/// A new vault, with its admin token, which is shown once and stored only as
/// a digest.
#[derive(Debug)]
pub struct Initialized {
    /// The open vault.
    pub vault: Vault,
    admin_token: ApiToken,
}

impl Initialized {
    /// The admin API token, to print once.
    pub fn admin_token(&self) -> &str {
        self.admin_token.expose()
    }
}

/// Facts about a vault, for `custos info` and the API.
#[derive(Debug, Clone)]
pub struct VaultInfo {
    /// The vault id.
    pub vault_id: String,
    /// The vault directory.
    pub dir: PathBuf,
    /// The schema's name.
    pub schema: String,
    /// Where the master key comes from.
    pub key_provider: String,
    /// Subjects held.
    pub subjects: u64,
    /// Subjects ever erased.
    pub erased: u64,
}

/// The unlocked vault keys, and the master-key epoch they belong to.
#[derive(Debug)]
pub(crate) struct UnlockedKeys {
    pub(crate) keyring: Keyring,
    pub(crate) epoch: u64,
}

/// An open vault: its schema, store and unlocked keys.
#[derive(Debug)]
pub struct Vault {
    pub(crate) dir: VaultDir,
    pub(crate) config: VaultConfig,
    pub(crate) vault_id: VaultId,
    pub(crate) schema: Schema,
    pub(crate) store: Arc<dyn Store>,
    keys: RwLock<Arc<UnlockedKeys>>,
    pub(crate) key_provider: Box<dyn KeyProvider>,
    pub(crate) ledger: Arc<dyn LedgerStore>,
    pub(crate) recorder: Recorder,
    /// A key file given on the command line instead of the configured one.
    key_file_override: Option<PathBuf>,
    /// Principals, purposes and policies at the last access generation seen.
    pub(crate) access: RwLock<Arc<AccessState>>,
    /// Held while the access state reloads.
    pub(crate) access_reload: Mutex<()>,
    /// The local operator, as a policy entity.
    pub(crate) operator: Arc<PrincipalEntity>,
}

impl Vault {
    /// Creates a vault in `options.dir`.
    pub fn init(options: InitOptions) -> Result<Initialized, EngineError> {
        let dir = VaultDir::new(&options.dir);
        let schema_text = match &options.schema {
            Some(path) => fs::read_to_string(path).map_err(|source| EngineError::Io {
                what: format!("cannot read schema `{}`", path.display()),
                source,
            })?,
            None => DEFAULT_SCHEMA_TOML.to_owned(),
        };
        let schema_path = options
            .schema
            .clone()
            .unwrap_or_else(|| PathBuf::from("(built-in party schema)"));
        Schema::parse(&schema_text).map_err(|source| EngineError::Schema {
            path: schema_path,
            source,
        })?;
        fs::create_dir_all(dir.root()).map_err(|source| EngineError::Io {
            what: format!("cannot create `{}`", dir.root().display()),
            source,
        })?;
        if dir.path(CONFIG_FILE).exists() || dir.path(STORE_FILE).exists() {
            return Err(EngineError::AlreadyAVault(dir.root().to_owned()));
        }

        let mut created: Vec<PathBuf> = Vec::new();
        let result = Self::init_files(&dir, &options, &schema_text, &mut created);
        if result.is_err() {
            // Leave the directory as it was: a half-made vault is worse than none.
            for path in created.iter().rev() {
                let _ = fs::remove_file(path);
            }
            for file in [STORE_FILE, LEDGER_FILE] {
                for suffix in ["-wal", "-shm"] {
                    let _ = fs::remove_file(dir.path(&format!("{file}{suffix}")));
                }
            }
        }
        result?;
        let vault = Self::open(OpenOptions {
            dir: options.dir.clone(),
            keys: KeyAccess {
                key_file: None,
                passphrase: match options.key {
                    InitKey::Passphrase(p) => Some(p),
                    InitKey::File { .. } => None,
                },
            },
            busy_timeout: options.busy_timeout,
        })?;
        let admin_token = ApiToken::generate();
        vault.insert_initial_admin(admin_token.digest())?;
        Ok(Initialized { vault, admin_token })
    }

    fn init_files(
        dir: &VaultDir,
        options: &InitOptions,
        schema_text: &str,
        created: &mut Vec<PathBuf>,
    ) -> Result<(), EngineError> {
        let vault_id = VaultId::from_random(custos_crypto::random_bytes());
        let (master, key_config) = match &options.key {
            InitKey::File { path } => {
                let key_path = path.clone().unwrap_or_else(|| dir.path(DEFAULT_KEY_FILE));
                let master = MasterKey::generate();
                KeyFile::create(&key_path, &master)?;
                created.push(key_path.clone());
                let stored_path = if path.is_none() {
                    PathBuf::from(DEFAULT_KEY_FILE)
                } else {
                    std::path::absolute(&key_path).unwrap_or(key_path)
                };
                (master, KeyConfig::File { path: stored_path })
            }
            InitKey::Passphrase(secret) => {
                let provider = Passphrase::for_new_vault(secret.clone())?;
                (
                    provider.master_key()?,
                    KeyConfig::from_kdf(provider.params()),
                )
            }
        };
        let (keyring, sealed) = Keyring::create(&master, &vault_id);
        // The ledger's signing key is its own key, sealed under the master
        // key like the other vault keys.
        let signing_key = LedgerSigningKey::generate();
        let public_key = signing_key.public_key().to_base64();

        let store_path = dir.path(STORE_FILE);
        let store = SqliteStore::create(&store_path, sqlite_options(options.busy_timeout))?;
        created.push(store_path);
        store.set_meta(&[
            (META_VAULT_ID, vault_id.as_str().as_bytes()),
            (META_VAULT_KEYS, sealed.as_bytes()),
            (
                META_LEDGER_SIGNING_KEY,
                &keyring.seal_signing_key(&signing_key),
            ),
            (META_LEDGER_PUBLIC_KEY, public_key.as_bytes()),
        ])?;
        drop(store);
        let ledger_path = dir.path(LEDGER_FILE);
        SqliteLedger::create(
            &ledger_path,
            &vault_id,
            sqlite_options(options.busy_timeout),
        )?;
        created.push(ledger_path);
        dir.write_atomically(LEDGER_PUBLIC_KEY_FILE, format!("{public_key}\n").as_bytes())?;
        created.push(dir.path(LEDGER_PUBLIC_KEY_FILE));

        dir.write_atomically(SCHEMA_FILE, schema_text.as_bytes())?;
        created.push(dir.path(SCHEMA_FILE));
        let config = VaultConfig {
            format: FORMAT,
            vault_id: vault_id.as_str().to_owned(),
            created_at: OffsetDateTime::now_utc()
                .format(&Rfc3339)
                .unwrap_or_default(),
            key: key_config,
            organisation: None,
        };
        dir.write_config(CONFIG_FILE, &config)?;
        created.push(dir.path(CONFIG_FILE));
        Ok(())
    }

    /// Opens an existing vault.
    pub fn open(options: OpenOptions) -> Result<Self, EngineError> {
        let dir = VaultDir::new(&options.dir);
        let config = dir
            .read_config(CONFIG_FILE)?
            .ok_or_else(|| EngineError::NotAVault(dir.root().to_owned()))?;
        let vault_id = VaultId::parse(&config.vault_id)
            .map_err(|e| EngineError::Config(format!("{CONFIG_FILE}: `vault_id` {e}")))?;
        let schema_path = dir.path(SCHEMA_FILE);
        let schema_text = fs::read_to_string(&schema_path).map_err(|source| EngineError::Io {
            what: format!("cannot read `{}`", schema_path.display()),
            source,
        })?;
        let schema = Schema::parse(&schema_text).map_err(|source| EngineError::Schema {
            path: schema_path,
            source,
        })?;
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(
            &dir.path(STORE_FILE),
            sqlite_options(options.busy_timeout),
        )?);
        let stored_id = store.meta(META_VAULT_ID)?.unwrap_or_default();
        if stored_id != vault_id.as_str().as_bytes() {
            return Err(EngineError::Config(format!(
                "the store in `{}` belongs to another vault than its {CONFIG_FILE}",
                dir.root().display()
            )));
        }
        let sealed = SealedVaultKeys::from_bytes(
            store
                .meta(META_VAULT_KEYS)?
                .ok_or_else(|| EngineError::Config("the store holds no vault keys".to_owned()))?,
        );
        let ledger: Arc<dyn LedgerStore> = Arc::new(SqliteLedger::open(
            &dir.path(LEDGER_FILE),
            &vault_id,
            sqlite_options(options.busy_timeout),
        )?);
        let epoch = read_key_epoch(store.as_ref())?;
        let (config, key_provider, keyring) =
            match unlock(&dir, &config.key, &options.keys, &vault_id, &sealed) {
                Ok((provider, keyring)) => (config, provider, keyring),
                Err(EngineError::Key(KeyError::WrongKey)) => {
                    finish_interrupted_rotation(&dir, config, &options.keys, &vault_id, &sealed)?
                }
                Err(e) => return Err(e),
            };
        let sealed_signing_key = store.meta(META_LEDGER_SIGNING_KEY)?.ok_or_else(|| {
            EngineError::Config("the store holds no ledger signing key".to_owned())
        })?;
        let signing_key = keyring.open_signing_key(&sealed_signing_key).map_err(|_| {
            EngineError::Config(
                "the ledger signing key does not open with this vault's keys; the store was \
                     altered or mixed with another vault's"
                    .to_owned(),
            )
        })?;
        let recorder = Recorder::start(
            Arc::clone(&ledger),
            signing_key,
            vault_id.clone(),
            HeadPolicy::default(),
        );
        let placeholder = AccessState::empty(Arc::new(Policies::default_for(&schema)?));
        let vault = Self {
            dir,
            config,
            vault_id,
            schema,
            store,
            keys: RwLock::new(Arc::new(UnlockedKeys { keyring, epoch })),
            key_provider,
            ledger,
            recorder,
            key_file_override: options.keys.key_file,
            access: RwLock::new(Arc::new(placeholder)),
            access_reload: Mutex::new(()),
            operator: Arc::new(PrincipalEntity::new(operator_facts())),
        };
        vault.ensure_access_defaults()?;
        vault.access()?;
        Ok(vault)
    }

    /// Creates the administrator `admin` (staff, role admin) holding the
    /// token from init.
    fn insert_initial_admin(&self, digest: TokenDigest) -> Result<(), EngineError> {
        let name = PrincipalName::parse(INITIAL_ADMIN)
            .map_err(|e| EngineError::Config(format!("the initial admin's name {e}")))?;
        let attributes = Attributes::parse_pairs([("role", custos_model::ADMIN_ROLE)])
            .map_err(EngineError::Config)?;
        let now = now_stamp();
        self.store.insert_principal(&PrincipalRecord {
            name: name.clone(),
            kind: PrincipalKind::Staff,
            attributes,
            status: PrincipalStatus::Active,
            status_reason: String::new(),
            status_changed_at: None,
            valid_from: None,
            valid_until: None,
            created_at: now.clone(),
        })?;
        self.store.insert_token(&TokenRecord {
            id: digest.public_id(),
            digest: *digest.as_bytes(),
            principal: name,
            kind: TokenKind::Api,
            mfa: false,
            created_at: now,
            expires_at: None,
            revoked_at: None,
        })?;
        Ok(())
    }

    /// Fills in what a vault made before principals, purposes and policies
    /// existed lacks: the default policies and purposes (and default
    /// purposes added since the vault was made), and an `admin`
    /// principal for the admin token from its init. Does nothing on a vault
    /// that has them.
    fn ensure_access_defaults(&self) -> Result<(), EngineError> {
        if self.store.current_policy()?.is_none() {
            let policies = Policies::default_for(&self.schema)?;
            let tests = if policies.text() == DEFAULT_POLICIES {
                DEFAULT_POLICY_TESTS
            } else {
                ""
            };
            self.store
                .insert_policy(policies.text(), tests, &now_stamp(), "custos init")?;
        }
        // Default purposes added by later versions (such as
        // `breach_notification`) reach older vaults too; purposes are never
        // deleted, so one that is missing was never there.
        let registered = self.store.purposes()?;
        let missing: Vec<_> = self
            .default_purposes()
            .into_iter()
            .filter(|p| !registered.iter().any(|r| r.name() == p.name()))
            .collect();
        if !missing.is_empty() {
            self.store.insert_purposes(&missing, &now_stamp())?;
        }
        if self.store.principals()?.is_empty()
            && let Some(digest) = self
                .store
                .meta(META_ADMIN_TOKEN)?
                .and_then(|bytes| TokenDigest::from_bytes(&bytes))
        {
            self.insert_initial_admin(digest)?;
        }
        Ok(())
    }

    /// The current vault keys.
    pub(crate) fn keys(&self) -> Arc<UnlockedKeys> {
        match self.keys.read() {
            Ok(keys) => Arc::clone(&keys),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    pub(crate) fn set_keys(&self, keys: UnlockedKeys) {
        let mut slot = match self.keys.write() {
            Ok(slot) => slot,
            Err(poisoned) => poisoned.into_inner(),
        };
        *slot = Arc::new(keys);
    }

    /// Runs `op` with the current keys. If it fails in a way that another
    /// process's master-key rotation explains (a data key that no longer
    /// unwraps, or a write refused for a stale epoch), the keys are re-read
    /// from the store and `op` runs once more. Without this, a server running
    /// through a rotation would wrap new data keys under the retired key.
    pub(crate) fn with_current_keys<T>(
        &self,
        op: impl Fn(&UnlockedKeys) -> Result<T, EngineError>,
    ) -> Result<T, EngineError> {
        let keys = self.keys();
        match op(&keys) {
            Err(e) if e.may_be_stale_keys() && self.reload_keys_if_rotated(keys.epoch)? => {
                op(&self.keys())
            }
            other => other,
        }
    }

    fn reload_keys_if_rotated(&self, seen: u64) -> Result<bool, EngineError> {
        let epoch = read_key_epoch(self.store.as_ref())?;
        if epoch == seen {
            return Ok(false);
        }
        let sealed = SealedVaultKeys::from_bytes(
            self.store
                .meta(META_VAULT_KEYS)?
                .ok_or_else(|| EngineError::Config("the store holds no vault keys".to_owned()))?,
        );
        let keyring = Keyring::open(&self.key_provider.master_key()?, &self.vault_id, &sealed)
            .map_err(|_| {
                EngineError::Config(
                    "another process rotated the master key, and this process's key no longer \
                     opens the vault; restart it with the new key"
                        .to_owned(),
                )
            })?;
        tracing::info!(epoch, "reloaded the vault keys after a master-key rotation");
        self.set_keys(UnlockedKeys { keyring, epoch });
        Ok(true)
    }

    /// The key file this process uses: the override, or the configured one.
    pub(crate) fn key_file_in_use(&self, configured: &Path) -> PathBuf {
        self.key_file_override
            .clone()
            .unwrap_or_else(|| self.dir.resolve(configured))
    }

    /// The vault's schema.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// The vault directory.
    pub fn dir(&self) -> &Path {
        self.dir.root()
    }

    /// The local operator, for the CLI and internal jobs: whoever opened
    /// the vault with its master key, an administrator, named after their
    /// OS user and declaring the default purpose, `membership_admin`.
    pub fn local_operator(&self) -> Caller {
        let request: [u8; 8] = custos_crypto::random_bytes();
        let request_id: String = request.iter().map(|b| format!("{b:02x}")).collect();
        Caller::local(&request_id, "cli")
    }

    /// The local operator in a request of an internal job's own, with its
    /// request id and client name (such as `retention`). Made from an open
    /// vault only: holding one already means holding the master key.
    pub fn local_operator_for(&self, request_id: &str, client: &str) -> Caller {
        Caller::local(request_id, client)
    }

    /// The local operator's name, `local:` and the OS user.
    pub fn local_operator_name(&self) -> &custos_model::PrincipalName {
        self.operator.name()
    }

    /// Facts about the vault, for any authenticated principal.
    pub fn info(&self, caller: &Caller) -> Result<VaultInfo, EngineError> {
        self.admit_principal(caller, crate::recording::Action::Audit, &[])?;
        let (subjects, erased) = self.store.counts()?;
        Ok(VaultInfo {
            vault_id: self.vault_id.as_str().to_owned(),
            dir: self.dir.root().to_owned(),
            schema: self.schema.name().to_owned(),
            key_provider: self.key_provider.describe(),
            subjects,
            erased,
        })
    }
}

/// The local operator's facts: staff with the admin role.
fn operator_facts() -> PrincipalFacts {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_default();
    PrincipalFacts {
        name: PrincipalName::local_operator(&user),
        kind: PrincipalKind::Staff,
        attributes: Attributes::parse_pairs([("role", custos_model::ADMIN_ROLE)])
            .unwrap_or_default(),
    }
}

/// The store's master-key epoch.
pub(crate) fn read_key_epoch(store: &dyn Store) -> Result<u64, EngineError> {
    match store.meta(KEY_EPOCH)? {
        None => Ok(0),
        Some(bytes) => <[u8; 8]>::try_from(bytes.as_slice())
            .map(u64::from_be_bytes)
            .map_err(|_| EngineError::Config("the store's key epoch is malformed".to_owned())),
    }
}

pub(crate) fn sqlite_options(busy_timeout: Duration) -> SqliteOptions {
    SqliteOptions { busy_timeout }
}

/// Builds the key provider that `vault.toml` names.
pub(crate) fn key_provider(
    dir: &VaultDir,
    key: &KeyConfig,
    access: &KeyAccess,
) -> Result<Box<dyn KeyProvider>, EngineError> {
    Ok(match key {
        KeyConfig::File { path } => Box::new(KeyFile::at(
            access.key_file.clone().unwrap_or_else(|| dir.resolve(path)),
        )),
        KeyConfig::Passphrase { .. } => {
            let secret = access
                .passphrase
                .clone()
                .ok_or(KeyError::MissingPassphrase)?;
            let params = key
                .kdf()?
                .ok_or_else(|| EngineError::Config("missing passphrase parameters".to_owned()))?;
            Box::new(Passphrase::new(secret, params))
        }
    })
}

fn unlock(
    dir: &VaultDir,
    key: &KeyConfig,
    access: &KeyAccess,
    vault_id: &VaultId,
    sealed: &SealedVaultKeys,
) -> Result<(Box<dyn KeyProvider>, Keyring), EngineError> {
    let provider = key_provider(dir, key, access)?;
    let keyring = Keyring::open(&provider.master_key()?, vault_id, sealed)?;
    Ok((provider, keyring))
}

/// A rotation that committed its new keys but stopped before promoting the
/// new key file or configuration leaves them beside the old ones; finish it.
fn finish_interrupted_rotation(
    dir: &VaultDir,
    config: VaultConfig,
    access: &KeyAccess,
    vault_id: &VaultId,
    sealed: &SealedVaultKeys,
) -> Result<(VaultConfig, Box<dyn KeyProvider>, Keyring), EngineError> {
    let wrong = || EngineError::Key(KeyError::WrongKey);
    match &config.key {
        KeyConfig::File { path } if access.key_file.is_none() => {
            let current = dir.resolve(path);
            let pending = crate::rotation::pending_key_file(&current);
            if !pending.exists() {
                return Err(wrong());
            }
            let provider = KeyFile::at(&pending);
            let keyring =
                Keyring::open(&provider.master_key()?, vault_id, sealed).map_err(|_| wrong())?;
            fs::rename(&pending, &current).map_err(|source| EngineError::Io {
                what: format!("cannot finish key rotation: rename `{}`", pending.display()),
                source,
            })?;
            tracing::warn!("finished an interrupted master-key rotation");
            Ok((config, Box::new(KeyFile::at(current)), keyring))
        }
        KeyConfig::Passphrase { .. } => {
            let Some(pending) = dir.read_config(PENDING_CONFIG_FILE)? else {
                return Err(wrong());
            };
            let (provider, keyring) =
                unlock(dir, &pending.key, access, vault_id, sealed).map_err(|_| wrong())?;
            dir.promote(PENDING_CONFIG_FILE, CONFIG_FILE)?;
            tracing::warn!("finished an interrupted master-key rotation");
            Ok((pending, provider, keyring))
        }
        KeyConfig::File { .. } => Err(wrong()),
    }
}

impl Vault {
    /// The schema, for any authenticated principal (`GET /v1/schema`): it
    /// holds no personal data, but it maps the vault, so a caller who is
    /// not authenticated is refused, and recorded, like any other.
    pub fn schema_for(&self, caller: &Caller) -> Result<&Schema, EngineError> {
        self.admit_principal(caller, crate::recording::Action::Audit, &[])?;
        Ok(&self.schema)
    }
}
