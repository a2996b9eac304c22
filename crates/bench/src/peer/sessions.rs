//! W2 and W3 on the peer: what each connection does, and the plan that
//! says which members it touches.
//!
//! Each W2 connection is one representative, logged in as their own role
//! for the whole run and reading random members of their own
//! constituency: the peer's best case, with no role switch per request
//! (Custos's HTTP load instead sends each request with the token of the
//! member's representative). pgaudit names the role in each audit line.
//! Each W3 connection is a member of the membership team's staff, updating
//! the email and phone of the same random members as Custos's W3, with the
//! same new values. Statements are prepared once per connection.

use std::sync::Arc;

use custos_synth::{Generator, constituencies};
use tokio_postgres::{Client, Config, Row, Statement};

use crate::load::{Failure, Session};
use crate::workload::{READ_FIELDS, SplitMix64, Update};

use super::{connect, describe};

/// At most this many representatives take part: one per connection, up to
/// the bench's largest connection count; more connections share them.
const MAX_REPRESENTATIVES: usize = 64;
/// Random members each representative cycles through.
const IDS_PER_REPRESENTATIVE: u64 = 1_024;
/// The number of constituencies, by which the generator deals members.
const CONSTITUENCIES: u64 = 650;

/// One representative of the plan: their role (named after their
/// constituency) and members of it to read.
#[derive(Debug, Clone)]
pub(crate) struct Representative {
    pub(crate) role: String,
    pub(crate) ids: Arc<[String]>,
}

/// A member whose values the plan knows, to check a read against.
#[derive(Debug, Clone)]
pub(super) struct Probe {
    pub(super) id: String,
    /// The ten read fields as the generator made them; `None` when absent.
    pub(super) fields: Vec<Option<String>>,
    /// A member of another constituency, whom the representative must not
    /// see.
    pub(super) foreign_id: String,
}

/// What the peer's W2 and W3 connections do.
#[derive(Debug, Clone)]
pub(crate) struct PeerPlan {
    pub(crate) representatives: Vec<Representative>,
    pub(super) updates: Arc<[Change]>,
    pub(super) probe: Probe,
}

/// One W3 update: the new values in `UPDATE_FIELDS` order, and the member.
#[derive(Debug, Clone)]
pub(super) struct Change {
    pub(super) values: [String; 2],
    pub(super) id: String,
}

impl PeerPlan {
    /// Representatives of random constituencies, each with random members
    /// of theirs among the first `members` of `generator`, and `updates`
    /// (Custos's W3 updates: the same members and values).
    pub(crate) fn new(
        generator: &Generator,
        members: u64,
        updates: &[Update],
        seed: u64,
    ) -> anyhow::Result<Self> {
        anyhow::ensure!(members >= 2, "the peer's plan needs at least two members");
        anyhow::ensure!(!updates.is_empty(), "the peer's plan has no updates");
        let mut rng = SplitMix64::new(seed);
        let populated = members.min(CONSTITUENCIES);
        let mut chosen = Vec::new();
        while chosen.len() < MAX_REPRESENTATIVES.min(populated as usize) {
            let c = rng.below(populated) as usize;
            if !chosen.contains(&c) {
                chosen.push(c);
            }
        }
        let representatives = chosen
            .iter()
            .map(|&c| representative(generator, members, c, &mut rng))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let probe = probe(generator, chosen[0])?;
        let updates = updates
            .iter()
            .map(|u| Change {
                values: [u.email.clone(), u.phone.clone()],
                id: u.id.as_str().to_owned(),
            })
            .collect();
        Ok(Self {
            representatives,
            updates,
            probe,
        })
    }
}

/// The representative of constituency `c` and random members of it.
fn representative(
    generator: &Generator,
    members: u64,
    c: usize,
    rng: &mut SplitMix64,
) -> anyhow::Result<Representative> {
    let code = &constituencies()
        .get(c)
        .ok_or_else(|| anyhow::anyhow!("no constituency #{c}"))?
        .code;
    // Members of `c` are c, c + 650, …: those below `members`.
    let count = (members - c as u64).div_ceil(CONSTITUENCIES);
    let ids = (0..IDS_PER_REPRESENTATIVE)
        .map(|_| {
            generator
                .member_index(c, rng.below(count))
                .map(|index| generator.member(index).id().to_owned())
                .ok_or_else(|| anyhow::anyhow!("no member index in constituency #{c}"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(Representative {
        role: super::schema::representative(code),
        ids: ids.into(),
    })
}

/// The first member of constituency `c`, and a member of another.
fn probe(generator: &Generator, c: usize) -> anyhow::Result<Probe> {
    let index = generator
        .member_index(c, 0)
        .ok_or_else(|| anyhow::anyhow!("no member index in constituency #{c}"))?;
    let member = generator.member(index);
    let values = member.values();
    let fields = READ_FIELDS
        .iter()
        .map(|f| {
            let column = custos_synth::COLUMNS
                .iter()
                .position(|c| c == f)
                .ok_or_else(|| anyhow::anyhow!("the generator has no `{f}` column"))?;
            Ok(Some(values[column])
                .filter(|v| !v.is_empty())
                .map(str::to_owned))
        })
        .collect::<anyhow::Result<_>>()?;
    // Members 0 and 1 are in constituencies 0 and 1.
    let foreign = if c == 0 { 1 } else { 0 };
    Ok(Probe {
        id: member.id().to_owned(),
        fields,
        foreign_id: generator.member(foreign).id().to_owned(),
    })
}

/// The fields of a read's row, `None` for NULL.
pub(super) fn fields(row: &Row) -> Result<Vec<Option<String>>, tokio_postgres::Error> {
    (0..row.len()).map(|i| row.try_get(i)).collect()
}

/// Turns a client error into a failure of one operation: a closed
/// connection needs a new session, anything else is a refusal.
fn failure(e: tokio_postgres::Error) -> Failure {
    let closed = e.is_closed();
    let message = describe(e).to_string();
    if closed {
        Failure::Broken(message)
    } else {
        Failure::Refused(message)
    }
}

/// A connection with one prepared statement, run once per operation for
/// each of `items` in turn, from the connection's own offset.
pub(super) struct Prepared<T> {
    client: Client,
    statement: Statement,
    items: Arc<[T]>,
    first: usize,
}

/// Reads members by id (the audited read, or the unprotected one).
pub(super) type ReadSession = Prepared<String>;
/// A staff connection updating two fields of members, each update a
/// durable commit.
pub(super) type UpdateSession = Prepared<Change>;

impl<T> std::fmt::Debug for Prepared<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prepared")
            .field("items", &self.items.len())
            .field("first", &self.first)
            .finish_non_exhaustive()
    }
}

impl<T> Prepared<T> {
    /// Connects with `config`, runs `setup` and prepares `sql`.
    pub(super) async fn open(
        config: &Config,
        setup: &str,
        sql: &str,
        items: Arc<[T]>,
        first: usize,
    ) -> anyhow::Result<Self> {
        let client = connect(config, setup).await?;
        let statement = client.prepare(sql).await.map_err(describe)?;
        Ok(Self {
            client,
            statement,
            items,
            first,
        })
    }

    fn item(&self, n: usize) -> &T {
        &self.items[(self.first + n) % self.items.len()]
    }
}

impl Session for ReadSession {
    async fn call(&mut self, n: usize) -> Result<usize, Failure> {
        let id = self.item(n);
        match self.client.query_opt(&self.statement, &[id]).await {
            Ok(Some(row)) => Ok(fields(&row)
                .map_err(failure)?
                .iter()
                .map(|v| v.as_ref().map_or(0, String::len))
                .sum()),
            Ok(None) => Err(Failure::Refused(format!(
                "`{id}` is missing or hidden by row-level security"
            ))),
            Err(e) => Err(failure(e)),
        }
    }
}

impl Session for UpdateSession {
    async fn call(&mut self, n: usize) -> Result<usize, Failure> {
        let change = self.item(n);
        let [email, phone] = &change.values;
        match self
            .client
            .execute(&self.statement, &[email, phone, &change.id])
            .await
        {
            Ok(1) => Ok(0),
            Ok(rows) => Err(Failure::Refused(format!(
                "the update of `{}` changed {rows} rows",
                change.id
            ))),
            Err(e) => Err(failure(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use custos_model::SubjectId;

    fn one_update() -> Update {
        Update {
            id: SubjectId::parse("M00000001").unwrap(),
            token: Arc::from("unused"),
            email: "w3.0.000001@example.org".to_owned(),
            phone: "+447000000001".to_owned(),
        }
    }

    #[test]
    fn each_representative_reads_members_of_their_constituency() {
        let generator = Generator::new(1);
        let plan = PeerPlan::new(&generator, 20_000, &[one_update()], 5).unwrap();
        let constituency_of: std::collections::HashMap<String, String> = (0..20_000)
            .map(|i| {
                let member = generator.member(i);
                (member.id().to_owned(), member.constituency().to_owned())
            })
            .collect();
        assert_eq!(plan.representatives.len(), MAX_REPRESENTATIVES);
        let mut seen = std::collections::HashSet::new();
        for rep in &plan.representatives {
            let constituency = &constituency_of[rep.ids[0].as_str()];
            assert!(seen.insert(constituency.clone()), "one per constituency");
            assert_eq!(rep.role, super::super::schema::representative(constituency));
            assert_eq!(rep.ids.len() as u64, IDS_PER_REPRESENTATIVE);
            for id in rep.ids.iter() {
                assert_eq!(constituency_of.get(id.as_str()), Some(constituency));
            }
        }
    }

    #[test]
    fn the_probe_is_the_first_representatives_and_the_foreigner_is_not() {
        let generator = Generator::new(1);
        let plan = PeerPlan::new(&generator, 3, &[one_update()], 5).unwrap();
        assert_eq!(plan.representatives.len(), 3);
        let rep = &plan.representatives[0];
        assert!(rep.ids.contains(&plan.probe.id));
        assert!(!rep.ids.contains(&plan.probe.foreign_id));
        assert_eq!(plan.probe.fields.len(), READ_FIELDS.len());
        let constituency = plan.probe.fields[7].as_deref().unwrap();
        assert_eq!(rep.role, super::super::schema::representative(constituency));
        assert_eq!(plan.updates[0].id, "M00000001");
        assert!(PeerPlan::new(&generator, 1, &[one_update()], 5).is_err());
        assert!(PeerPlan::new(&generator, 100, &[], 5).is_err());
    }
}
