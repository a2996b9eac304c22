//! The peer stack of PERFORMANCE.md: what an IT team would build instead of
//! Custos, set up for real on the same machine and the same members, and
//! driven by the same load generator ([`crate::load::drive`]).
//!
//! * **The server.** A throwaway PostgreSQL 15 cluster in the bench's
//!   directory (`server`), with pgaudit preloaded and logging every read
//!   and write (`pgaudit.log = 'read, write'`, one line per relation, with
//!   the statements' parameters), durable commits (`fsync`,
//!   `synchronous_commit`), and CSV logs that W4 loads into a table.
//!   Clients connect over the server's unix socket (TCP on 127.0.0.1 when
//!   the socket's path would be too long), as pgbench does by default: the
//!   peer's best case. Authentication is `trust`: a real deployment would
//!   authenticate each connection once, which the timed runs do not see,
//!   since connections are opened before them.
//! * **The data** (`schema`). The same members as Custos, field by field
//!   encrypted with pgcrypto (`pgp_sym_encrypt`, AES-256, `s2k-mode=1`)
//!   under one key that each session sets; `id` and `constituency` stay
//!   readable. Row-level security by constituency, forced on the owner
//!   too: representatives see their own constituency's members, the
//!   membership team's staff everyone.
//! * **W1** (`import`): the same CSV, parsed on the client and inserted in
//!   batches that the server encrypts, by two sessions at once, each batch
//!   a durable commit; then `ANALYZE`. The table and its primary key exist
//!   before the clock starts; the index is maintained during the load.
//! * **W2 and W3** (`sessions`): each connection a representative reading
//!   random members of their constituency, the same ten fields as Custos,
//!   or a staff member updating the email and phone of the same members
//!   as Custos's W3, with the same values. Prepared statements.
//! * **The unaudited read**: the same ten fields from a plaintext copy
//!   with no row-level security, read by the superuser with auditing off.
//! * **W4** (`exposure`): the audit log loaded into a table, two questions
//!   about a representative timed, and what the peer cannot answer.
//!
//! When PostgreSQL 15, pgcrypto or pgaudit is missing, or PostgreSQL
//! cannot be run, [`PeerCluster::start`] fails with an [`Unavailable`]
//! that says why: the peer is then skipped, never estimated.

mod exposure;
mod figures;
mod import;
mod schema;
mod server;
mod sessions;
#[cfg(test)]
mod tests;

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio_postgres::{Client, Config, NoTls};

use crate::load::{self, Drive, LoadRun};
use crate::workload::{READ_FIELDS, UPDATE_FIELDS};

pub(crate) use exposure::PeerExposure;
pub(crate) use figures::{Options, PeerFigures, run};
pub(crate) use server::Unavailable;
pub(crate) use sessions::PeerPlan;

use schema::SessionKey;
use server::{SUPERUSER, Server};
use sessions::{ReadSession, UpdateSession};

/// The setup of the superuser's sessions that must not audit themselves:
/// the unaudited read, the plaintext copy's load and W4's analysis.
const NO_AUDIT: &str = "SET pgaudit.log = 'none'";
/// The settings the report shows, read back from the running server.
const SHOWN_SETTINGS: [&str; 14] = [
    "server_version",
    "shared_preload_libraries",
    "pgaudit.log",
    "pgaudit.log_relation",
    "pgaudit.log_parameter",
    "pgaudit.log_catalog",
    "fsync",
    "synchronous_commit",
    "wal_level",
    "shared_buffers",
    "max_connections",
    "logging_collector",
    "log_destination",
    "row_security",
];

/// A running peer cluster, set up with its roles and tables; stopped on
/// drop.
#[derive(Debug)]
pub(crate) struct PeerCluster {
    server: Server,
    key: SessionKey,
    /// When the cluster was set up, by its own clock: W4's window opens
    /// then.
    started_at: String,
}

/// W1's figures on the peer.
#[derive(Debug, Clone)]
pub(crate) struct PeerImport {
    pub(crate) rows: u64,
    /// From opening the loading sessions to the end of `ANALYZE`.
    pub(crate) wall: Duration,
    pub(crate) loaders: usize,
    pub(crate) batch_rows: usize,
}

impl PeerImport {
    pub(crate) fn rows_per_s(&self) -> f64 {
        crate::stats::per_s(self.rows, self.wall)
    }

    pub(crate) fn json(&self) -> serde_json::Value {
        json!({
            "rows": self.rows,
            "seconds": self.wall.as_secs_f64(),
            "rows_per_s": self.rows_per_s(),
            "loaders": self.loaders,
            "batch_rows": self.batch_rows,
            "timed": "batched encrypting inserts (one durable commit per batch, primary key \
                      maintained) and ANALYZE; not the table's creation",
        })
    }
}

/// What the peer runs, as the report shows it: read back from the server.
#[derive(Debug, Clone)]
pub(crate) struct PeerFacts {
    /// `SELECT version()`.
    pub(crate) version: String,
    /// How the clients reach the server.
    pub(crate) transport: String,
    /// Each of [`SHOWN_SETTINGS`] with its value in force, then
    /// `pgaudit.log_parameter` as the importing role has it.
    pub(crate) settings: Vec<(String, String)>,
    /// The extensions and their versions.
    pub(crate) extensions: Vec<(String, String)>,
}

impl PeerFacts {
    pub(crate) fn json(&self) -> serde_json::Value {
        let map = |pairs: &[(String, String)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.clone(), json!(v)))
                .collect::<serde_json::Map<_, _>>()
        };
        json!({
            "version": self.version,
            "transport": self.transport,
            "settings": map(&self.settings),
            "extensions": map(&self.extensions),
        })
    }
}

impl PeerCluster {
    /// Creates a cluster in `dir` (new or empty) sized for `members`,
    /// starts it and sets up the roles and empty tables. An [`Unavailable`]
    /// error means the peer must be reported as skipped.
    pub(crate) fn start(dir: &Path, members: u64, log: &dyn Fn(&str)) -> anyhow::Result<Self> {
        let server = Server::start(dir, members, log)?;
        let key = SessionKey::random()?;
        log("setting up the peer's roles and tables …");
        let started_at = block_on(async {
            let admin = connect(&server.config(SUPERUSER), "").await?;
            admin
                .batch_execute(&schema::roles())
                .await
                .map_err(describe)?;
            admin
                .batch_execute(&schema::plain_table())
                .await
                .map_err(describe)?;
            connect(&server.config(schema::OWNER), "")
                .await?
                .batch_execute(&schema::members_table())
                .await
                .map_err(describe)?;
            scalar(&admin, "SELECT now()::text").await
        })?;
        Ok(Self {
            server,
            key,
            started_at,
        })
    }

    /// The server's version and settings in force.
    pub(crate) fn facts(&self) -> anyhow::Result<PeerFacts> {
        block_on(async {
            let admin = connect(&self.server.config(SUPERUSER), "").await?;
            let version = scalar(&admin, "SELECT version()").await?;
            let names: Vec<&str> = SHOWN_SETTINGS.to_vec();
            let mut settings = pairs(
                &admin,
                "SELECT n, current_setting(n) FROM unnest($1::text[]) WITH ORDINALITY AS s(n, i) ORDER BY i",
                &names,
            )
            .await?;
            let owner = connect(&self.server.config(schema::OWNER), "").await?;
            settings.push((
                format!("pgaudit.log_parameter ({})", schema::OWNER),
                scalar(&owner, "SHOW pgaudit.log_parameter").await?,
            ));
            let extensions = pairs(
                &admin,
                "SELECT extname::text, extversion FROM pg_extension WHERE extname = ANY($1) ORDER BY 1",
                &["pgaudit", "pgcrypto"],
            )
            .await?;
            Ok(PeerFacts {
                version,
                transport: self.server.transport(),
                settings,
                extensions,
            })
        })
    }

    /// W1: imports `csv` (the generator's columns, with a header) into
    /// `members`, timed, and checks that every row landed.
    pub(crate) fn import(&self, csv: &Path) -> anyhow::Result<PeerImport> {
        block_on(async {
            let config = self.server.config(schema::OWNER);
            let start = Instant::now();
            let rows = import::load(
                &config,
                &self.key.set_statement(),
                &schema::insert_members(),
                csv,
            )
            .await?;
            connect(&config, "")
                .await?
                .batch_execute("ANALYZE members")
                .await
                .map_err(describe)?;
            let wall = start.elapsed();
            self.check_count("members", rows).await?;
            Ok(PeerImport {
                rows,
                wall,
                loaders: import::LOADERS,
                batch_rows: import::BATCH_ROWS,
            })
        })
    }

    /// Loads `csv` again into the unprotected plaintext copy, for the
    /// unaudited read; returns how long it took (not a workload).
    pub(crate) fn load_unprotected(&self, csv: &Path) -> anyhow::Result<Duration> {
        block_on(async {
            let config = self.server.config(SUPERUSER);
            let start = Instant::now();
            let rows = import::load(&config, NO_AUDIT, &schema::insert_plain(), csv).await?;
            connect(&config, NO_AUDIT)
                .await?
                .batch_execute("ANALYZE members_plain")
                .await
                .map_err(describe)?;
            let took = start.elapsed();
            self.check_count("members_plain", rows).await?;
            Ok(took)
        })
    }

    /// W2: audited reads, each connection one representative of the plan
    /// (connections beyond them share them). Checks first that a read
    /// returns a member's values and that row-level security hides a
    /// member of another constituency.
    pub(crate) fn reads(&self, plan: &PeerPlan, drive: &Drive) -> anyhow::Result<LoadRun> {
        self.check_reads(plan)?;
        let targets: Arc<[(Config, Arc<[String]>)]> = plan
            .representatives
            .iter()
            .map(|r| (self.server.config(&r.role), Arc::clone(&r.ids)))
            .collect();
        self.drive_reads(
            targets,
            self.key.set_statement(),
            schema::read_member(),
            drive,
        )
    }

    /// The unaudited read: the same members and fields as [`Self::reads`]
    /// from the plaintext copy (see [`Self::load_unprotected`]), by the
    /// superuser with auditing off: no crypto, row-level security or audit.
    pub(crate) fn unprotected_reads(
        &self,
        plan: &PeerPlan,
        drive: &Drive,
    ) -> anyhow::Result<LoadRun> {
        let config = self.server.config(SUPERUSER);
        let targets: Arc<[(Config, Arc<[String]>)]> = plan
            .representatives
            .iter()
            .map(|r| (config.clone(), Arc::clone(&r.ids)))
            .collect();
        self.drive_reads(targets, NO_AUDIT.to_owned(), schema::read_plain(), drive)
    }

    /// W3: audited updates of email and phone by the membership team's
    /// staff, each connection cycling through the plan's updates from its
    /// own offset. Checks first that an update lands.
    pub(crate) fn updates(&self, plan: &PeerPlan, drive: &Drive) -> anyhow::Result<LoadRun> {
        self.check_update(plan)?;
        let config = self.server.config(schema::STAFF);
        let setup = self.key.set_statement();
        let update = schema::update_member();
        let changes = Arc::clone(&plan.updates);
        let connections = drive.connections;
        load::drive(drive, move |c| {
            let (config, setup, update) = (config.clone(), setup.clone(), update.clone());
            let changes = Arc::clone(&changes);
            let first = c * changes.len() / connections;
            async move { UpdateSession::open(&config, &setup, &update, changes, first).await }
        })
    }

    /// W4: loads the audit log so far into a table, times the questions
    /// about the plan's first representative, and lists what the peer can
    /// answer.
    pub(crate) fn exposure(&self, plan: &PeerPlan) -> anyhow::Result<PeerExposure> {
        let representative = plan
            .representatives
            .first()
            .ok_or_else(|| anyhow::anyhow!("the peer's plan has no representative"))?;
        block_on(async {
            let admin = connect(&self.server.config(SUPERUSER), NO_AUDIT).await?;
            exposure::run(&admin, &representative.role, &self.started_at).await
        })
    }

    /// Runs read sessions: connection `c` opens with `targets[c % len]`,
    /// runs `setup` and cycles through its ids with `read`, from an offset
    /// that spreads the connections sharing a target over its ids.
    fn drive_reads(
        &self,
        targets: Arc<[(Config, Arc<[String]>)]>,
        setup: String,
        read: String,
        drive: &Drive,
    ) -> anyhow::Result<LoadRun> {
        anyhow::ensure!(!targets.is_empty(), "the peer's plan has no representative");
        let rounds = drive.connections.div_ceil(targets.len());
        load::drive(drive, move |c| {
            let (config, ids) = targets[c % targets.len()].clone();
            let (setup, read) = (setup.clone(), read.clone());
            let first = (c / targets.len()) * ids.len() / rounds;
            async move { ReadSession::open(&config, &setup, &read, ids, first).await }
        })
    }

    /// The plan's first representative reads their probe member, whose
    /// values must be the generator's (but for the fields W3 changes), and
    /// does not see a member of another constituency.
    fn check_reads(&self, plan: &PeerPlan) -> anyhow::Result<()> {
        let representative = plan
            .representatives
            .first()
            .ok_or_else(|| anyhow::anyhow!("the peer's plan has no representative"))?;
        let probe = &plan.probe;
        block_on(async {
            let client = connect(
                &self.server.config(&representative.role),
                &self.key.set_statement(),
            )
            .await?;
            let read = schema::read_member();
            let row = client
                .query_opt(&read, &[&probe.id])
                .await
                .map_err(describe)?
                .ok_or_else(|| {
                    anyhow::anyhow!("`{}` cannot read `{}`", representative.role, probe.id)
                })?;
            let got = sessions::fields(&row).map_err(describe)?;
            for ((name, got), wanted) in READ_FIELDS.iter().zip(&got).zip(&probe.fields) {
                // Values are personal data: say which field differs, never what it holds.
                anyhow::ensure!(
                    got == wanted || UPDATE_FIELDS.contains(name),
                    "the peer's `{name}` of `{}` is not the imported value",
                    probe.id
                );
            }
            let foreign = client
                .query_opt(&read, &[&probe.foreign_id])
                .await
                .map_err(describe)?;
            anyhow::ensure!(
                foreign.is_none(),
                "row-level security let `{}` read `{}` of another constituency",
                representative.role,
                probe.foreign_id
            );
            Ok(())
        })
    }

    /// The plan's first update, then a staff read of both fields: they
    /// must hold the new values.
    fn check_update(&self, plan: &PeerPlan) -> anyhow::Result<()> {
        let change = plan
            .updates
            .first()
            .ok_or_else(|| anyhow::anyhow!("the peer's plan has no updates"))?;
        let [email, phone] = &change.values;
        block_on(async {
            let client = connect(
                &self.server.config(schema::STAFF),
                &self.key.set_statement(),
            )
            .await?;
            let updated = client
                .execute(&schema::update_member(), &[email, phone, &change.id])
                .await
                .map_err(describe)?;
            anyhow::ensure!(
                updated == 1,
                "the staff's update of `{}` changed {updated} rows",
                change.id
            );
            let row = client
                .query_one(
                    "SELECT pgp_sym_decrypt(email, current_setting('custos.key')), \
                     pgp_sym_decrypt(phone, current_setting('custos.key')) FROM members WHERE id = $1",
                    &[&change.id],
                )
                .await
                .map_err(describe)?;
            let got = sessions::fields(&row).map_err(describe)?;
            anyhow::ensure!(
                got == [Some(email.clone()), Some(phone.clone())],
                "the peer's email and phone of `{}` do not hold the values just written",
                change.id
            );
            Ok(())
        })
    }

    /// `table` holds `rows` rows (counted by the superuser, whom row-level
    /// security does not restrict).
    async fn check_count(&self, table: &str, rows: u64) -> anyhow::Result<()> {
        let admin = connect(&self.server.config(SUPERUSER), NO_AUDIT).await?;
        let count: i64 = admin
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .await
            .and_then(|row| row.try_get(0))
            .map_err(describe)?;
        anyhow::ensure!(
            u64::try_from(count) == Ok(rows),
            "the peer's `{table}` holds {count} rows, not {rows}"
        );
        Ok(())
    }
}

/// Runs `future` on a runtime of its own: the peer's setup and checks are
/// few round trips, off the timed paths of the load generator.
fn block_on<T>(future: impl Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(future)
}

/// Opens a session with `config` and runs `setup` (e.g. setting the key).
async fn connect(config: &Config, setup: &str) -> anyhow::Result<Client> {
    let (client, connection) = config.connect(NoTls).await.map_err(describe)?;
    // The connection's task ends when the client is dropped; an error it
    // meets shows as a closed connection in the client's next call.
    tokio::spawn(async move {
        let _ = connection.await;
    });
    if !setup.is_empty() {
        client.batch_execute(setup).await.map_err(describe)?;
    }
    Ok(client)
}

/// A client error with PostgreSQL's own message (the client's `Display`
/// says only "db error"), and never the detail, which can quote a row.
fn describe(e: tokio_postgres::Error) -> anyhow::Error {
    if let Some(db) = e.as_db_error() {
        return anyhow::anyhow!(
            "PostgreSQL: {} (SQLSTATE {})",
            db.message(),
            db.code().code()
        );
    }
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    anyhow::anyhow!(text)
}

/// The one text value `sql` returns.
async fn scalar(client: &Client, sql: &str) -> anyhow::Result<String> {
    client
        .query_one(sql, &[])
        .await
        .and_then(|row| row.try_get(0))
        .map_err(describe)
}

/// The two text columns of `sql`'s rows, given a text array parameter.
async fn pairs(
    client: &Client,
    sql: &str,
    names: &[&str],
) -> anyhow::Result<Vec<(String, String)>> {
    client
        .query(sql, &[&names])
        .await
        .map_err(describe)?
        .iter()
        .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
        .collect::<Result<_, tokio_postgres::Error>>()
        .map_err(describe)
}
