//! W1 on the peer: the members' CSV into `members`, parsed on the client
//! and sent in batches of one text array per column, which the server
//! encrypts as it inserts (`INSERT … SELECT pgp_sym_encrypt(…) FROM
//! unnest($1::text[], …)`): plaintext travels only in parameters and is
//! never stored, unlike a `COPY` into a staging table, whose plaintext
//! would sit in table files. Each batch is its own durable commit.
//!
//! Two sessions load at once, one per core: a backend encrypts on one
//! core, so a single session would leave the other idle.

use std::path::Path;

use tokio::sync::mpsc;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Config};

use super::{connect, describe};

/// Rows per batch: large enough that a round trip and a commit are
/// amortised, small enough that a batch's arrays stay a few hundred KB.
pub(super) const BATCH_ROWS: usize = 1_000;
/// Sessions loading at once.
pub(super) const LOADERS: usize = 2;
/// Batches waiting for each loader.
const QUEUE: usize = 2;

/// One batch, column by column: `batch[c][r]` is row `r`'s value of the
/// `c`-th column of `custos_synth::COLUMNS`.
type Batch = Vec<Vec<String>>;

/// Loads `csv`, whose header must be `custos_synth::COLUMNS`, with
/// `insert` (one array parameter per column) through [`LOADERS`]
/// sessions opened with `config`, each first running `setup`; returns the
/// rows inserted.
pub(super) async fn load(
    config: &Config,
    setup: &str,
    insert: &str,
    csv: &Path,
) -> anyhow::Result<u64> {
    let mut senders = Vec::with_capacity(LOADERS);
    let mut loaders = Vec::with_capacity(LOADERS);
    for _ in 0..LOADERS {
        let client = connect(config, setup).await?;
        let statement = insert.to_owned();
        let (tx, rx) = mpsc::channel::<Batch>(QUEUE);
        senders.push(tx);
        loaders.push(tokio::spawn(
            async move { loader(client, &statement, rx).await },
        ));
    }
    let csv = csv.to_owned();
    let reader = tokio::task::spawn_blocking(move || read(&csv, &senders));
    let mut inserted = 0;
    let mut first_error = None;
    for loader in loaders {
        match loader.await? {
            Ok(rows) => inserted += rows,
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    let read = reader.await?;
    // A loader's error explains a reader that found its queue closed.
    if let Some(e) = first_error {
        return Err(e);
    }
    let read = read?;
    anyhow::ensure!(
        inserted == read,
        "the peer inserted {inserted} rows of the {read} read"
    );
    Ok(inserted)
}

/// Inserts each batch it receives; returns the rows inserted.
async fn loader(
    client: Client,
    insert: &str,
    mut batches: mpsc::Receiver<Batch>,
) -> anyhow::Result<u64> {
    let statement = client.prepare(insert).await.map_err(describe)?;
    let mut rows = 0;
    while let Some(batch) = batches.recv().await {
        let params: Vec<&(dyn ToSql + Sync)> = batch
            .iter()
            .map(|column| column as &(dyn ToSql + Sync))
            .collect();
        rows += client
            .execute(&statement, &params)
            .await
            .map_err(describe)?;
    }
    Ok(rows)
}

/// Reads `csv` into batches, handed to the loaders in turn; returns the
/// rows read.
fn read(csv: &Path, loaders: &[mpsc::Sender<Batch>]) -> anyhow::Result<u64> {
    let mut reader = csv::Reader::from_path(csv)
        .map_err(|e| anyhow::anyhow!("cannot open `{}`: {e}", csv.display()))?;
    let header = reader.headers()?;
    anyhow::ensure!(
        header.iter().eq(custos_synth::COLUMNS.iter().copied()),
        "`{}` does not have the generator's columns",
        csv.display()
    );
    let mut record = csv::StringRecord::new();
    let mut rows = 0u64;
    let mut batch = new_batch();
    for next in (0..loaders.len()).cycle() {
        let more = fill(&mut reader, &mut record, &mut batch)?;
        let filled = batch.first().map_or(0, Vec::len);
        if filled > 0 {
            rows += filled as u64;
            let full = std::mem::replace(&mut batch, new_batch());
            loaders[next]
                .blocking_send(full)
                .map_err(|_| anyhow::anyhow!("a loader stopped"))?;
        }
        if !more {
            break;
        }
    }
    Ok(rows)
}

fn new_batch() -> Batch {
    vec![Vec::with_capacity(BATCH_ROWS); custos_synth::COLUMNS.len()]
}

/// Reads up to [`BATCH_ROWS`] records into `batch`; `false` at the end of
/// the input. The reader refuses records with another number of fields.
fn fill<R: std::io::Read>(
    reader: &mut csv::Reader<R>,
    record: &mut csv::StringRecord,
    batch: &mut Batch,
) -> anyhow::Result<bool> {
    for _ in 0..BATCH_ROWS {
        if !reader.read_record(record)? {
            return Ok(false);
        }
        for (column, value) in batch.iter_mut().zip(record.iter()) {
            column.push(value.to_owned());
        }
    }
    Ok(true)
}
