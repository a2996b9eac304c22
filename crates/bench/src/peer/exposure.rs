//! W4 on the peer: an incident's exposure from pgaudit's log. The log is
//! CSV text files; to query it, an analyst loads them into a table (the
//! `postgres_log` table of PostgreSQL 15's documentation) and searches the
//! audit lines' text. This module times the load and two questions about
//! one representative, and lists what the peer can and cannot answer.
//!
//! The analyst's session does not audit itself (`pgaudit.log = 'none'`),
//! so that the loading and the queries add nothing to the files loaded.

use std::time::{Duration, Instant};

use serde_json::json;
use tokio_postgres::{Client, SimpleQueryMessage};

use super::{describe, scalar};

/// Each question is asked this many times; the median time is kept.
const QUERY_REPEATS: usize = 3;
/// How long to wait for the log to switch files, and how often to ask
/// again: file names have a resolution of one second, so a rotation within
/// the same second as the file's creation keeps the same file.
const ROTATE_POLLS: u32 = 50;
const ROTATE_POLL: Duration = Duration::from_millis(100);
const ROTATE_AGAIN_EVERY: u32 = 10;

/// The `postgres_log` table of PostgreSQL 15's documentation (19.8.4,
/// "Using CSV-Format Log Output").
const LOG_TABLE: &str = "DROP TABLE IF EXISTS postgres_log;
CREATE TABLE postgres_log (
  log_time timestamp(3) with time zone,
  user_name text,
  database_name text,
  process_id integer,
  connection_from text,
  session_id text,
  session_line_num bigint,
  command_tag text,
  session_start_time timestamp with time zone,
  virtual_transaction_id text,
  transaction_id bigint,
  error_severity text,
  sql_state_code text,
  message text,
  detail text,
  hint text,
  internal_query text,
  internal_query_pos integer,
  context text,
  query text,
  query_pos integer,
  location text,
  application_name text,
  backend_type text,
  leader_pid integer,
  query_id bigint,
  PRIMARY KEY (session_id, session_line_num)
)";

/// Question 1: the audit lines of one role in a time window.
const STATEMENTS: &str = "SELECT log_time, message FROM postgres_log
  WHERE user_name = $1 AND log_time >= $2::text::timestamptz AND log_time < $3::text::timestamptz
    AND message LIKE 'AUDIT: SESSION,%'
  ORDER BY log_time";
/// Question 2: the member ids that one role's reads of `members` named,
/// parsed from the logged parameter: the audit line ends with it (a read
/// has one parameter, the id, which holds no comma).
const MEMBERS_NAMED: &str = "SELECT DISTINCT substring(message FROM ',([^,]*)$') FROM postgres_log
  WHERE user_name = $1 AND log_time >= $2::text::timestamptz AND log_time < $3::text::timestamptz
    AND message LIKE 'AUDIT: SESSION,%,READ,SELECT,TABLE,public.members,%'";

/// Whether the peer can answer a question.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Answer {
    Yes,
    Partial,
    No,
}

impl Answer {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Yes => "yes",
            Self::Partial => "partial",
            Self::No => "no",
        }
    }
}

/// A question an incident asks, and whether and why the peer answers it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Capability {
    pub(crate) question: &'static str,
    pub(crate) answer: Answer,
    pub(crate) why: &'static str,
}

/// What the peer can tell after an incident, from its audit log.
pub(crate) const CAPABILITIES: [Capability; 9] = [
    Capability {
        question: "which statements did a principal run in a time window",
        answer: Answer::Yes,
        why: "pgaudit logs every read and write with the role and the time, once the CSV \
              files are loaded into a table",
    },
    Capability {
        question: "which members did a principal's reads name",
        answer: Answer::Partial,
        why: "only by parsing the statement text and logged parameters, and only for \
              statements that select by member id; a query by constituency, name or any \
              other criterion names no member",
    },
    Capability {
        question: "which members and fields were actually released",
        answer: Answer::No,
        why: "pgaudit logs statements, not the rows returned: a read that row-level security \
              filtered out, or of a member who does not exist, looks like one that returned \
              the member, and a bulk SELECT cannot say whom it returned",
    },
    Capability {
        question: "which members did a processor receive in an export",
        answer: Answer::No,
        why: "an export is a query (SELECT or COPY … TO): the log holds its text, not the rows",
    },
    Capability {
        question: "is each access recorded durably before the data is released",
        answer: Answer::No,
        why: "the logging collector writes asynchronously through a pipe: a crash can lose \
              the lines of reads whose replies were already sent",
    },
    Capability {
        question: "can tampering with the record be detected",
        answer: Answer::No,
        why: "the log is plain files that a superuser or anyone with the server's file access \
              can edit or truncate: there is no hash chain or signed head",
    },
    Capability {
        question: "for which purpose was each access made",
        answer: Answer::No,
        why: "nothing binds a purpose to a statement (application_name is chosen freely by \
              the client)",
    },
    Capability {
        question: "can one member be erased (crypto-shredded)",
        answer: Answer::No,
        why: "one pgcrypto key encrypts every member, and deleted rows and their old \
              versions stay in the WAL, in dead tuples until vacuum, and in backups",
    },
    Capability {
        question: "does the record itself keep personal data out",
        answer: Answer::No,
        why: "with pgaudit.log_parameter on (needed to name the member read), every update's \
              new values are logged in plaintext; without it, no read names its member",
    },
];

/// One question's figures.
#[derive(Debug, Clone)]
pub(crate) struct Query {
    pub(crate) question: &'static str,
    /// Rows the answer has.
    pub(crate) rows: u64,
    /// The median of [`QUERY_REPEATS`] runs.
    pub(crate) median: Duration,
}

/// W4's figures on the peer.
#[derive(Debug, Clone)]
pub(crate) struct PeerExposure {
    /// The CSV log files loaded, and their total size.
    pub(crate) log_files: usize,
    pub(crate) log_bytes: u64,
    /// Log lines loaded, and the time the `COPY`s took.
    pub(crate) log_rows: u64,
    pub(crate) load: Duration,
    /// The representative the questions are about, and the window: from
    /// the cluster's start to the start of W4.
    pub(crate) principal: String,
    pub(crate) from: String,
    pub(crate) to: String,
    pub(crate) statements: Query,
    pub(crate) members_named: Query,
    pub(crate) capabilities: &'static [Capability],
}

impl PeerExposure {
    /// Log lines loaded per second.
    pub(crate) fn load_rows_per_s(&self) -> f64 {
        crate::stats::per_s(self.log_rows, self.load)
    }

    pub(crate) fn json(&self) -> serde_json::Value {
        let query = |q: &Query| {
            json!({
                "question": q.question,
                "rows": q.rows,
                "median_ms": q.median.as_secs_f64() * 1e3,
            })
        };
        json!({
            "log_files": self.log_files,
            "log_bytes": self.log_bytes,
            "log_rows": self.log_rows,
            "load_seconds": self.load.as_secs_f64(),
            "load_rows_per_s": self.load_rows_per_s(),
            "principal": self.principal,
            "window": { "from": self.from, "to": self.to },
            "queries": [query(&self.statements), query(&self.members_named)],
            "capabilities": self.capabilities.iter().map(|c| json!({
                "question": c.question,
                "answer": c.answer.as_str(),
                "why": c.why,
            })).collect::<Vec<_>>(),
        })
    }
}

/// Loads the log and asks both questions about `principal` from `from`
/// until now, through `admin` (a superuser's session that does not audit
/// itself).
pub(super) async fn run(
    admin: &Client,
    principal: &str,
    from: &str,
) -> anyhow::Result<PeerExposure> {
    let to: String = scalar(admin, "SELECT now()::text").await?;
    let current = rotate(admin).await?;
    let files: Vec<(String, i64)> = admin
        .query(
            "SELECT name, size FROM pg_ls_logdir() WHERE name LIKE '%.csv' ORDER BY name",
            &[],
        )
        .await
        .map_err(describe)?
        .iter()
        .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
        .collect::<Result<_, tokio_postgres::Error>>()
        .map_err(describe)?;
    let closed: Vec<&(String, i64)> = files
        .iter()
        .filter(|(name, _)| format!("log/{name}") != current)
        .collect();
    admin.batch_execute(LOG_TABLE).await.map_err(describe)?;
    let start = Instant::now();
    let mut log_rows = 0;
    for (name, _) in &closed {
        let copy = format!(
            "COPY postgres_log FROM 'log/{}' WITH (FORMAT csv)",
            name.replace('\'', "''")
        );
        log_rows += copied(&admin.simple_query(&copy).await.map_err(describe)?);
    }
    let load = start.elapsed();
    let window = [principal, from, to.as_str()];
    let statements = ask(admin, STATEMENTS, &window, CAPABILITIES[0].question).await?;
    let members_named = ask(admin, MEMBERS_NAMED, &window, CAPABILITIES[1].question).await?;
    Ok(PeerExposure {
        log_files: closed.len(),
        log_bytes: closed
            .iter()
            .map(|(_, size)| u64::try_from(*size).unwrap_or(0))
            .sum(),
        log_rows,
        load,
        principal: principal.to_owned(),
        from: from.to_owned(),
        to,
        statements,
        members_named,
        capabilities: &CAPABILITIES,
    })
}

/// Switches the log to a new file, so that every earlier file is complete;
/// returns the new file's name (`log/…`).
async fn rotate(admin: &Client) -> anyhow::Result<String> {
    let current = "SELECT pg_current_logfile('csvlog')";
    let before: String = scalar(admin, current).await?;
    for poll in 0..ROTATE_POLLS {
        if poll % ROTATE_AGAIN_EVERY == 0 {
            admin
                .batch_execute("SELECT pg_rotate_logfile()")
                .await
                .map_err(describe)?;
        }
        tokio::time::sleep(ROTATE_POLL).await;
        let now: String = scalar(admin, current).await?;
        if now != before {
            return Ok(now);
        }
    }
    anyhow::bail!("the peer's log did not switch to a new file")
}

/// The rows a `COPY` reports.
fn copied(messages: &[SimpleQueryMessage]) -> u64 {
    messages
        .iter()
        .map(|m| match m {
            SimpleQueryMessage::CommandComplete(rows) => *rows,
            _ => 0,
        })
        .sum()
}

/// Runs `sql` [`QUERY_REPEATS`] times; its rows and the median time.
async fn timed(
    admin: &Client,
    sql: &str,
    params: &[&str; 3],
) -> anyhow::Result<(Vec<tokio_postgres::Row>, Duration)> {
    let statement = admin.prepare(sql).await.map_err(describe)?;
    let [a, b, c] = params;
    let mut times = Vec::with_capacity(QUERY_REPEATS);
    let mut rows = Vec::new();
    for _ in 0..QUERY_REPEATS {
        let start = Instant::now();
        rows = admin
            .query(&statement, &[a, b, c])
            .await
            .map_err(describe)?;
        times.push(start.elapsed());
    }
    times.sort_unstable();
    Ok((rows, times[times.len() / 2]))
}

async fn ask(
    admin: &Client,
    sql: &str,
    params: &[&str; 3],
    question: &'static str,
) -> anyhow::Result<Query> {
    let (rows, median) = timed(admin, sql, params).await?;
    Ok(Query {
        question,
        rows: rows.len() as u64,
        median,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_answer_says_why_and_the_first_two_are_the_timed_questions() {
        assert!(CAPABILITIES.iter().all(|c| !c.why.is_empty()));
        assert_eq!(CAPABILITIES[0].answer, Answer::Yes);
        assert_eq!(CAPABILITIES[1].answer, Answer::Partial);
        assert!(CAPABILITIES[2..].iter().all(|c| c.answer == Answer::No));
    }
}
