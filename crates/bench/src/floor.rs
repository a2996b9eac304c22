//! The floor (PERFORMANCE.md): a minimal HTTP service over a plain SQLite
//! table of the members' ten read fields, with no authentication, no
//! encryption and no ledger. It is the physical limit of the product's
//! design on this machine, so the report can say what security costs.
//!
//! Everything that is not security is kept as the product has it, so that
//! the two differ by security alone:
//! - the same storage: one SQLite file in WAL mode, `synchronous=FULL`, a
//!   pool of reader connections with the store's page cache and a
//!   statement cache, one writer connection behind a mutex, and every
//!   update its own durable commit (`custos_store::SqliteStore` does the
//!   same; its `secure_delete` is left out, being a security measure);
//! - the same values: the table is built from the members' CSV that W1
//!   imports, each value parsed against the default schema into the
//!   canonical form the vault stores (and an update is parsed the same
//!   way), so the floor answers what the vault answers;
//! - the same service: axum on `server::start_with`'s runtime (one worker
//!   per core), SQLite on the blocking pool, the routes and JSON of
//!   `custos_server` (`wire::record` renders a read), so the bodies have
//!   the same shape and size.
//!
//! `GET /v1/subjects/{id}` returns the ten fields whatever the query asks
//! for (they are all the table holds), and `PATCH /v1/subjects/{id}` takes
//! `{"fields": {…}}` of any of them; neither reads `Authorization`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use custos_engine::{SubjectRecord, wire};
use custos_model::{FieldName, FieldSpec, FieldValue, Schema, SubjectId};
use rusqlite::{Connection, OpenFlags, OptionalExtension as _, params_from_iter};
use serde_json::{Value, json};

use crate::server::{self, Server};
use crate::workload::READ_FIELDS;

/// Page cache of each reader connection, in KiB: the store's
/// `READER_CACHE_KIB`.
const READER_CACHE_KIB: i64 = -16_384;
/// Page cache of the writer connection, in KiB: the store's
/// `WRITER_CACHE_KIB`.
const WRITER_CACHE_KIB: i64 = -131_072;
/// How long a connection waits for a lock: the store's default.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The floor's table: the member id, then READ_FIELDS as text, in order;
/// absent values are NULL.
fn create_table_sql() -> String {
    let columns: Vec<String> = READ_FIELDS.iter().map(|f| format!("{f} TEXT")).collect();
    format!(
        "CREATE TABLE members (id TEXT PRIMARY KEY, {}) WITHOUT ROWID",
        columns.join(", ")
    )
}

/// A read: READ_FIELDS of one member.
fn select_sql() -> String {
    format!(
        "SELECT {} FROM members WHERE id = ?1",
        READ_FIELDS.join(", ")
    )
}

/// What building the floor's table took.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FloorBuild {
    /// Members written.
    pub(crate) rows: u64,
    /// Reading the CSV, parsing the values and writing the table.
    pub(crate) wall: Duration,
}

impl FloorBuild {
    pub(crate) fn rows_per_s(&self) -> f64 {
        crate::stats::per_s(self.rows, self.wall)
    }

    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "rows": self.rows,
            "build_s": self.wall.as_secs_f64(),
            "rows_per_s": self.rows_per_s().round(),
        })
    }
}

/// The schema's specs of READ_FIELDS, in that order.
fn read_specs(schema: &Schema) -> anyhow::Result<Vec<&FieldSpec>> {
    READ_FIELDS
        .iter()
        .map(|name| {
            schema
                .field(name)
                .ok_or_else(|| anyhow::anyhow!("the default schema has no `{name}` field"))
        })
        .collect()
}

fn connect(db: &Path, flags: OpenFlags, cache_kib: i64) -> anyhow::Result<Connection> {
    let conn = Connection::open_with_flags(db, flags | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .map_err(|e| anyhow::anyhow!("cannot open `{}`: {e}", db.display()))?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.execute_batch("PRAGMA synchronous = FULL;")?;
    conn.pragma_update(None, "cache_size", cache_kib)?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

/// Builds `db`, which must not exist, from the members' CSV at `csv` (as
/// `import::run` writes it: a header naming the generator's columns). Each
/// value is parsed against the default schema, as the vault's import does,
/// so the table holds the canonical values the vault holds. The build is
/// not a workload: it writes without a journal in one transaction, turns
/// the file to WAL mode for serving, and syncs it.
pub(crate) fn build(csv: &Path, db: &Path) -> anyhow::Result<FloorBuild> {
    let start = Instant::now();
    anyhow::ensure!(!db.exists(), "`{}` exists already", db.display());
    let schema = Schema::default_party();
    let specs = read_specs(&schema)?;
    let mut reader = csv::Reader::from_path(csv)
        .map_err(|e| anyhow::anyhow!("cannot read `{}`: {e}", csv.display()))?;
    let headers = reader.headers()?.clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| anyhow::anyhow!("`{}` has no `{name}` column", csv.display()))
    };
    let id_column = column("id")?;
    let columns: Vec<usize> = READ_FIELDS
        .iter()
        .map(|name| column(name))
        .collect::<anyhow::Result<_>>()?;

    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE;
    let mut conn = connect(db, flags, WRITER_CACHE_KIB)?;
    conn.execute_batch("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;")?;
    conn.execute_batch(&create_table_sql())?;
    let tx = conn.transaction()?;
    let mut rows = 0u64;
    {
        let placeholders = vec!["?"; READ_FIELDS.len() + 1].join(", ");
        let mut insert = tx.prepare(&format!("INSERT INTO members VALUES ({placeholders})"))?;
        let mut record = csv::StringRecord::new();
        let mut values: Vec<Option<FieldValue>> = Vec::with_capacity(READ_FIELDS.len() + 1);
        while reader.read_record(&mut record)? {
            rows += 1;
            // Numbered as a spreadsheet and the vault's import number
            // rows: the header is row 1.
            let row = rows + 1;
            let id = SubjectId::parse(record.get(id_column).unwrap_or_default())
                .map_err(|e| anyhow::anyhow!("row {row}: `id` {e}"))?;
            values.clear();
            values.push(Some(FieldValue::from_canonical(id.as_str().to_owned())));
            for (spec, &c) in specs.iter().zip(&columns) {
                // Messages name the field, never the value: values are
                // personal data, even synthetic ones.
                let value = spec
                    .parse_value(record.get(c).unwrap_or_default())
                    .map_err(|e| anyhow::anyhow!("row {row}: `{}` {e}", spec.name()))?;
                values.push(value);
            }
            insert.execute(params_from_iter(
                values.iter().map(|v| v.as_ref().map(FieldValue::as_str)),
            ))?;
        }
    }
    tx.commit()?;
    conn.execute_batch("PRAGMA synchronous = FULL;")?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    anyhow::ensure!(
        mode.eq_ignore_ascii_case("wal"),
        "`{}` did not switch to WAL mode (it is in `{mode}`)",
        db.display()
    );
    drop(conn);
    // Written without syncs, the table would otherwise be flushed by the
    // first checkpoint of a timed update run.
    std::fs::File::open(db)?.sync_all()?;
    Ok(FloorBuild {
        rows,
        wall: start.elapsed(),
    })
}

/// The floor's state: the connections and what rendering needs.
#[derive(Debug)]
struct Floor {
    db: PathBuf,
    readers: Mutex<Vec<Connection>>,
    writer: Mutex<Connection>,
    /// The default schema: `wire::record` renders by its field types, and
    /// updates are parsed against it.
    schema: Schema,
    /// READ_FIELDS as field names, in table order.
    names: Vec<FieldName>,
    /// [`select_sql`], made once.
    select: String,
}

impl Floor {
    fn open(db: &Path) -> anyhow::Result<Self> {
        anyhow::ensure!(db.is_file(), "`{}` does not exist", db.display());
        let writer = connect(db, OpenFlags::SQLITE_OPEN_READ_WRITE, WRITER_CACHE_KIB)?;
        let mode: String = writer.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
        anyhow::ensure!(
            mode.eq_ignore_ascii_case("wal"),
            "`{}` is not in WAL mode; build it with floor::build",
            db.display()
        );
        // Fails early, and with the file named, if the table is not ours.
        let select = select_sql();
        writer
            .prepare(&select)
            .map_err(|e| anyhow::anyhow!("`{}` has no floor table: {e}", db.display()))?;
        let schema = Schema::default_party();
        let names = read_specs(&schema)?
            .iter()
            .map(|spec| spec.name().clone())
            .collect();
        Ok(Self {
            db: db.to_owned(),
            readers: Mutex::new(Vec::new()),
            writer: Mutex::new(writer),
            schema,
            names,
            select,
        })
    }

    /// Runs `f` on a pooled reader connection, opened on first use, as the
    /// store's `SqliteStore::read` does.
    fn with_reader<T>(
        &self,
        f: impl FnOnce(&Connection) -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        let pooled = self
            .readers
            .lock()
            .map_err(|_| anyhow::anyhow!("the reader pool is poisoned"))?
            .pop();
        let conn = match pooled {
            Some(conn) => conn,
            None => connect(
                &self.db,
                OpenFlags::SQLITE_OPEN_READ_WRITE,
                READER_CACHE_KIB,
            )?,
        };
        let out = f(&conn);
        if let Ok(mut pool) = self.readers.lock() {
            pool.push(conn);
        }
        out
    }

    /// The ten fields of `id`, or `None` if there is no such member.
    fn read(&self, id: SubjectId) -> anyhow::Result<Option<SubjectRecord>> {
        let values = self.with_reader(|conn| {
            let mut select = conn.prepare_cached(&self.select)?;
            Ok(select
                .query_row([id.as_str()], |row| {
                    (0..READ_FIELDS.len())
                        .map(|i| row.get::<_, Option<String>>(i))
                        .collect::<Result<Vec<_>, _>>()
                })
                .optional()?)
        })?;
        Ok(values.map(|values| SubjectRecord {
            fields: self
                .names
                .iter()
                .cloned()
                .zip(
                    values
                        .into_iter()
                        .map(|v| v.map(FieldValue::from_canonical)),
                )
                .collect(),
            id,
            denied: Vec::new(),
        }))
    }

    /// Sets the columns of `id` named in `values` (each parsed against the
    /// schema; empty clears it) in one durable commit. `Ok(false)` if there
    /// is no such member.
    fn update(
        &self,
        id: &SubjectId,
        values: &[(usize, Option<FieldValue>)],
    ) -> anyhow::Result<bool> {
        let sets: Vec<String> = values
            .iter()
            .enumerate()
            .map(|(p, (column, _))| format!("{} = ?{}", READ_FIELDS[*column], p + 1))
            .collect();
        // Column names come from READ_FIELDS, never from the request.
        let sql = format!(
            "UPDATE members SET {} WHERE id = ?{}",
            sets.join(", "),
            values.len() + 1
        );
        let writer = self
            .writer
            .lock()
            .map_err(|_| anyhow::anyhow!("the writer is poisoned"))?;
        let mut update = writer.prepare_cached(&sql)?;
        let changed = update.execute(params_from_iter(
            values
                .iter()
                .map(|(_, v)| v.as_ref().map(FieldValue::as_str))
                .chain([Some(id.as_str())]),
        ))?;
        Ok(changed > 0)
    }
}

fn failure(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

fn internal(e: impl std::fmt::Display) -> Response {
    failure(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
}

/// The floor's routes: the read and update paths of `custos_server::app`,
/// without its layers (request ids, tracing, timeouts) or its
/// authentication extractor.
fn app(floor: Arc<Floor>) -> Router {
    Router::new()
        .route("/v1/subjects/{id}", get(read).patch(update))
        .with_state(floor)
}

async fn read(State(floor): State<Arc<Floor>>, UrlPath(id): UrlPath<String>) -> Response {
    let Ok(id) = SubjectId::parse(&id) else {
        return failure(StatusCode::BAD_REQUEST, "bad subject id");
    };
    let state = Arc::clone(&floor);
    match tokio::task::spawn_blocking(move || state.read(id)).await {
        Ok(Ok(Some(record))) => Json(wire::record(&floor.schema, &record)).into_response(),
        Ok(Ok(None)) => failure(StatusCode::NOT_FOUND, "no such subject"),
        Ok(Err(e)) => internal(e),
        Err(e) => internal(e),
    }
}

/// The body of a PATCH parsed against the schema: each named field's
/// column in READ_FIELDS and its canonical value; a message for a 400
/// otherwise.
fn parse_update(schema: &Schema, body: &[u8]) -> Result<Vec<(usize, Option<FieldValue>)>, String> {
    let body: Value =
        serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))?;
    let fields = body
        .get("fields")
        .and_then(Value::as_object)
        .ok_or("`fields` must be an object of field names to values")?;
    if fields.is_empty() {
        return Err("no fields to update".to_owned());
    }
    fields
        .iter()
        .map(|(name, value)| {
            let column = READ_FIELDS
                .iter()
                .position(|f| f == name)
                .ok_or_else(|| format!("the floor has no field `{name}`"))?;
            let spec = schema
                .field(name)
                .ok_or_else(|| format!("the schema has no field `{name}`"))?;
            let raw = wire::raw_value(value).map_err(|m| format!("`{name}` {m}"))?;
            let value = spec
                .parse_value(&raw)
                .map_err(|e| format!("`{name}` {e}"))?;
            Ok((column, value))
        })
        .collect()
}

async fn update(
    State(floor): State<Arc<Floor>>,
    UrlPath(id): UrlPath<String>,
    body: Bytes,
) -> Response {
    let Ok(id) = SubjectId::parse(&id) else {
        return failure(StatusCode::BAD_REQUEST, "bad subject id");
    };
    let values = match parse_update(&floor.schema, &body) {
        Ok(values) => values,
        Err(message) => return failure(StatusCode::BAD_REQUEST, message),
    };
    let updated: Vec<&str> = values.iter().map(|(c, _)| READ_FIELDS[*c]).collect();
    let write =
        tokio::task::spawn_blocking(move || floor.update(&id, &values).map(|found| (id, found)));
    match write.await {
        Ok(Ok((id, true))) => {
            Json(json!({ "id": id.as_str(), "updated": updated })).into_response()
        }
        Ok(Ok((_, false))) => failure(StatusCode::NOT_FOUND, "no such subject"),
        Ok(Err(e)) => internal(e),
        Err(e) => internal(e),
    }
}

/// Serves the floor on `db` (made by [`build`]) on 127.0.0.1, on the
/// runtime the product's server gets (`server::start_with`).
pub(crate) fn start(db: &Path) -> anyhow::Result<Server> {
    let floor = Arc::new(Floor::open(db)?);
    server::start_with(move |listener, stop| async move {
        axum::serve(listener, app(floor))
            .with_graceful_shutdown(async {
                let _ = stop.await;
            })
            .await
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use std::io::{Read as _, Write as _};
    use std::net::{SocketAddr, TcpStream};

    use custos_engine::{Caller, FieldSelection};
    use custos_model::PrincipalKind;
    use custos_synth::{Generator, constituencies};

    use super::*;
    use crate::http;
    use crate::workload::read_path;

    /// One request on a fresh connection, through the bench's own request
    /// builder and head parser: the status and the body as JSON.
    fn exchange(addr: SocketAddr, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        let body = body.map(Value::to_string);
        let mut request = Vec::new();
        http::write_request(
            &mut request,
            method,
            path,
            &addr.to_string(),
            "ignored",
            body.as_deref().map(str::as_bytes),
        );
        let mut stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream.write_all(&request).unwrap();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            if let Some(head) = http::parse_head(&buf).unwrap()
                && buf.len() >= head.head_len + head.content_length
            {
                let json = serde_json::from_slice(&buf[head.head_len..]).unwrap();
                return (head.status, json);
            }
            let n = stream.read(&mut chunk).unwrap();
            assert!(n > 0, "the floor closed the connection");
            buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// A floor built from `members` synthetic members.
    fn floor(members: u64) -> (tempfile::TempDir, PathBuf, FloorBuild) {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("members.csv");
        Generator::new(1)
            .write_csv(std::fs::File::create(&csv).unwrap(), members)
            .unwrap();
        let db = dir.path().join("floor.sqlite");
        let built = build(&csv, &db).unwrap();
        (dir, db, built)
    }

    #[test]
    fn the_table_has_a_column_per_read_field() {
        let (_dir, db, built) = floor(30);
        assert_eq!(built.rows, 30);
        let conn = Connection::open(&db).unwrap();
        let columns: Vec<String> = conn
            .prepare("SELECT name FROM pragma_table_info('members')")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let mut expected = vec!["id".to_owned()];
        expected.extend(READ_FIELDS.iter().map(|f| (*f).to_owned()));
        assert_eq!(columns, expected);
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        // A second build never overwrites the first.
        let csv = db.with_file_name("members.csv");
        assert!(build(&csv, &db).unwrap_err().to_string().contains("exists"));
    }

    #[test]
    fn a_csv_with_an_invalid_value_is_refused_without_the_value() {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("members.csv");
        let mut text = Vec::new();
        Generator::new(1).write_csv(&mut text, 3).unwrap();
        let text = String::from_utf8(text).unwrap();
        let email = Generator::new(1).member(1).email().to_owned();
        std::fs::write(&csv, text.replace(&email, "not-an-email")).unwrap();
        let message = build(&csv, &dir.path().join("floor.sqlite"))
            .unwrap_err()
            .to_string();
        assert!(message.starts_with("row 3: `email` is not"), "{message}");
        assert!(!message.contains("not-an-email"));
    }

    #[test]
    fn serves_reads_and_durable_updates_over_http() {
        let (_dir, db, _) = floor(50);
        let server = start(&db).unwrap();
        let addr = server.addr;
        let id = Generator::new(1).member(7).id().to_owned();

        let (status, body) = exchange(addr, "GET", &read_path(&id), None);
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["id"], id.as_str());
        let fields = body["fields"].as_object().unwrap();
        let names: Vec<&str> = fields.keys().map(String::as_str).collect();
        assert_eq!(names, READ_FIELDS);
        assert!(fields["consent_email"].is_boolean());
        assert_eq!(body["denied"], json!([]));

        let patch =
            json!({ "fields": { "email": "New.Address@Example.org", "phone": "07700 900123" } });
        let path = format!("/v1/subjects/{id}?purpose=membership_admin");
        let (status, answer) = exchange(addr, "PATCH", &path, Some(&patch));
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer, json!({ "id": id, "updated": ["email", "phone"] }));
        let (_, after) = exchange(addr, "GET", &read_path(&id), None);
        // Stored canonical, as the vault would store them.
        assert_eq!(after["fields"]["email"], "new.address@example.org");
        assert_eq!(after["fields"]["phone"], "+447700900123");
        assert_eq!(after["fields"]["town"], fields["town"]);

        let (status, _) = exchange(addr, "GET", &read_path("M99999999"), None);
        assert_eq!(status, 404);
        let (status, _) = exchange(addr, "PATCH", "/v1/subjects/M99999999", Some(&patch));
        assert_eq!(status, 404);
        for bad in [
            json!({ "fields": { "email": "nope" } }),
            json!({ "fields": { "notes": "x" } }),
            json!({ "fields": {} }),
            json!({ "email": "a@example.org" }),
        ] {
            let (status, answer) = exchange(addr, "PATCH", &path, Some(&bad));
            assert_eq!(status, 400, "{bad}: {answer}");
        }
        server.stop().unwrap();

        // The update was committed to the file, not just served.
        let conn = Connection::open(&db).unwrap();
        let phone: String = conn
            .query_row("SELECT phone FROM members WHERE id = ?1", [&id], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(phone, "+447700900123");
    }

    #[test]
    fn the_floor_answers_a_read_as_the_vault_does() {
        let dir = tempfile::tempdir().unwrap();
        let members = 40;
        let (_, init) = crate::import::run(dir.path(), members, 1, &|_| {}).unwrap();
        let db = dir.path().join("floor.sqlite");
        build(&dir.path().join("members.csv"), &db).unwrap();
        let server = start(&db).unwrap();

        let vault = &init.vault;
        let operator = vault.local_operator();
        let seat = &constituencies()[3].code;
        let attributes = [("constituency".to_owned(), seat.clone())];
        vault
            .add_principal(
                &operator,
                "rep",
                PrincipalKind::Representative,
                &attributes,
                None,
                None,
            )
            .unwrap();
        let token = vault.create_token(&operator, "rep", None).unwrap();
        let caller = Caller::with_token(token.token.expose(), "test", "test")
            .with_purpose(Some(crate::workload::PURPOSE));
        let selection = FieldSelection::Only(READ_FIELDS.iter().map(|&f| f.to_owned()).collect());
        // Member 3 is of constituency 3.
        let id = SubjectId::parse(Generator::new(1).member(3).id()).unwrap();
        let record = vault.read_subject(&caller, &id, &selection).unwrap();
        let audited = wire::record(vault.schema(), &record);

        let (status, body) = exchange(server.addr, "GET", &read_path(id.as_str()), None);
        assert_eq!(status, 200);
        assert_eq!(body.to_string(), audited.to_string());
        server.stop().unwrap();
    }
}
