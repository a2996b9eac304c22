//! The peer's roles, tables, row-level security and statements, as SQL.
//!
//! * `members` has the generator's 23 columns. `id` (the primary key) and
//!   `constituency` (the row-level security key, a scope attribute that
//!   Custos keeps readable too) are plaintext; every other value is
//!   `pgp_sym_encrypt(value, key, 'cipher-algo=aes256, s2k-mode=1')` in a
//!   `bytea` column, and an absent value (an empty CSV field) is NULL.
//! * The key is the session setting `custos.key`, set with `SET` right
//!   after connecting, never stored in a table. `SET` is not in pgaudit's
//!   `read, write` classes, so the key never reaches the audit log (a
//!   `SELECT set_config(…)` would be logged, key and all).
//! * Row-level security is enabled and forced (so that the owner is
//!   subject to it too). A representative logs in as `rep_<code>`, a
//!   member of the `representatives` group, and sees the rows where
//!   `constituency = upper(substr(current_user, 5))`: `current_user`
//!   cannot be changed by the session (only to a role it is a member of),
//!   unlike a session setting such as `custos.constituency`, which any
//!   client could set to another constituency. Comparing with the role
//!   name also keeps a second relation (a role-to-constituency table) out
//!   of every read, and out of its audit lines.
//! * The membership team's staff (`membership_staff`) may read and update
//!   every row. The owner (`members_owner`) may only insert, for the import,
//!   and its sessions do not log parameters: with them, the audit log would
//!   hold every imported member in plaintext.
//! * `members_plain` is an unprotected copy (plaintext, no row-level
//!   security), owned by the superuser, for the unaudited read.

use custos_synth::{COLUMNS, constituencies};

use crate::workload::{READ_FIELDS, UPDATE_FIELDS};

/// The role that owns `members` and imports into it.
pub(super) const OWNER: &str = "members_owner";
/// The role of the membership team's staff, who update members.
pub(super) const STAFF: &str = "membership_staff";
/// The group role of the representatives.
const REPRESENTATIVES: &str = "representatives";
/// The prefix of a representative's role name; the rest is their
/// constituency's code in lower case.
const REPRESENTATIVE_PREFIX: &str = "rep_";
/// The columns kept in plaintext.
const PLAIN_COLUMNS: [&str; 2] = ["id", "constituency"];
/// pgcrypto's options: AES-256, and a salted (not iterated) S2K, as
/// PERFORMANCE.md prescribes.
const ENCRYPTION_OPTIONS: &str = "cipher-algo=aes256, s2k-mode=1";
/// The session setting that holds the key.
const KEY_SETTING: &str = "custos.key";

/// The role of the representative of the constituency with this code.
pub(super) fn representative(code: &str) -> String {
    format!("{REPRESENTATIVE_PREFIX}{}", code.to_lowercase())
}

fn is_plain(column: &str) -> bool {
    PLAIN_COLUMNS.contains(&column)
}

/// The session's key, in a form that `SET` and `Debug` never show.
#[derive(Clone)]
pub(super) struct SessionKey(String);

impl std::fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKey(…)")
    }
}

impl SessionKey {
    /// 32 random bytes from the kernel, as 64 hex digits: the form keeps
    /// the key safe to quote in `SET`.
    pub(super) fn random() -> anyhow::Result<Self> {
        use std::io::Read as _;
        let mut bytes = [0u8; 32];
        std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
        Ok(Self(bytes.iter().map(|b| format!("{b:02x}")).collect()))
    }

    /// The statement that gives a session the key.
    pub(super) fn set_statement(&self) -> String {
        format!("SET {KEY_SETTING} = '{}'", self.0)
    }
}

/// The superuser's setup: the extensions and the roles, including one
/// representative per constituency.
pub(super) fn roles() -> String {
    let mut sql = format!(
        "CREATE EXTENSION pgcrypto;
         CREATE EXTENSION pgaudit;
         CREATE ROLE {OWNER} LOGIN;
         ALTER ROLE {OWNER} SET pgaudit.log_parameter = off;
         GRANT CREATE ON SCHEMA public TO {OWNER};
         CREATE ROLE {STAFF} LOGIN;
         CREATE ROLE {REPRESENTATIVES} NOLOGIN;\n"
    );
    for constituency in constituencies() {
        sql.push_str(&format!(
            "CREATE ROLE {} LOGIN IN ROLE {REPRESENTATIVES};\n",
            representative(&constituency.code)
        ));
    }
    sql
}

/// The owner's setup: `members`, its row-level security and grants.
pub(super) fn members_table() -> String {
    let columns: Vec<String> = COLUMNS
        .iter()
        .map(|&c| match c {
            "id" => "id text PRIMARY KEY".to_owned(),
            _ if is_plain(c) => format!("{c} text NOT NULL"),
            _ => format!("{c} bytea"),
        })
        .collect();
    let prefix_len = REPRESENTATIVE_PREFIX.len();
    format!(
        "CREATE TABLE members ({});
         ALTER TABLE members ENABLE ROW LEVEL SECURITY;
         ALTER TABLE members FORCE ROW LEVEL SECURITY;
         CREATE POLICY representative_reads ON members FOR SELECT TO {REPRESENTATIVES}
           USING (constituency = upper(substr(current_user, {})));
         CREATE POLICY staff_all ON members FOR ALL TO {STAFF} USING (true) WITH CHECK (true);
         CREATE POLICY owner_imports ON members FOR INSERT TO {OWNER} WITH CHECK (true);
         GRANT SELECT ON members TO {REPRESENTATIVES};
         GRANT SELECT, UPDATE ON members TO {STAFF};",
        columns.join(", "),
        prefix_len + 1
    )
}

/// The superuser's unprotected copy, in plaintext.
pub(super) fn plain_table() -> String {
    let columns: Vec<String> = COLUMNS
        .iter()
        .map(|&c| match c {
            "id" => "id text PRIMARY KEY".to_owned(),
            _ => format!("{c} text"),
        })
        .collect();
    format!("CREATE TABLE members_plain ({})", columns.join(", "))
}

/// `$1::text[], …` and the column list, for an `unnest` of one array
/// parameter per column.
fn unnest_arrays() -> (String, String) {
    let arrays: Vec<String> = (1..=COLUMNS.len())
        .map(|i| format!("${i}::text[]"))
        .collect();
    (arrays.join(", "), COLUMNS.join(", "))
}

/// One batch of the import: one text array per column, encrypted on the
/// server, so that plaintext travels in parameters and is never stored.
pub(super) fn insert_members() -> String {
    let (arrays, names) = unnest_arrays();
    let values: Vec<String> = COLUMNS
        .iter()
        .map(|&c| {
            if is_plain(c) {
                format!("r.{c}")
            } else {
                format!("pgp_sym_encrypt(NULLIF(r.{c}, ''), k.key, '{ENCRYPTION_OPTIONS}')")
            }
        })
        .collect();
    format!(
        "INSERT INTO members ({names}) SELECT {} \
         FROM unnest({arrays}) AS r({names}), \
         (SELECT current_setting('{KEY_SETTING}') AS key) AS k",
        values.join(", ")
    )
}

/// One batch of the unprotected copy.
pub(super) fn insert_plain() -> String {
    let (arrays, names) = unnest_arrays();
    let values: Vec<String> = COLUMNS
        .iter()
        .map(|&c| {
            if c == "id" {
                format!("r.{c}")
            } else {
                format!("NULLIF(r.{c}, '')")
            }
        })
        .collect();
    format!(
        "INSERT INTO members_plain ({names}) SELECT {} FROM unnest({arrays}) AS r({names})",
        values.join(", ")
    )
}

/// W2: the ten fields of one member, decrypted; row-level security hides
/// members of other constituencies.
pub(super) fn read_member() -> String {
    let fields: Vec<String> = READ_FIELDS
        .iter()
        .map(|&f| {
            if is_plain(f) {
                f.to_owned()
            } else {
                format!("pgp_sym_decrypt({f}, current_setting('{KEY_SETTING}'))")
            }
        })
        .collect();
    format!("SELECT {} FROM members WHERE id = $1", fields.join(", "))
}

/// The unaudited read: the same ten fields from the plaintext copy.
pub(super) fn read_plain() -> String {
    format!(
        "SELECT {} FROM members_plain WHERE id = $1",
        READ_FIELDS.join(", ")
    )
}

/// W3: two fields of one member, re-encrypted: `$1` and `$2` are the new
/// values in `UPDATE_FIELDS` order, `$3` the member.
pub(super) fn update_member() -> String {
    let sets: Vec<String> = UPDATE_FIELDS
        .iter()
        .enumerate()
        .map(|(i, f)| {
            format!(
                "{f} = pgp_sym_encrypt(${}, current_setting('{KEY_SETTING}'), '{ENCRYPTION_OPTIONS}')",
                i + 1
            )
        })
        .collect();
    format!(
        "UPDATE members SET {} WHERE id = ${}",
        sets.join(", "),
        UPDATE_FIELDS.len() + 1
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_id_and_constituency_are_plaintext() {
        let table = members_table();
        assert!(table.contains("id text PRIMARY KEY"));
        assert!(table.contains("constituency text NOT NULL"));
        assert!(table.contains("email bytea"));
        assert_eq!(table.matches(" bytea").count(), COLUMNS.len() - 2);
        let insert = insert_members();
        assert_eq!(
            insert.matches("pgp_sym_encrypt(").count(),
            COLUMNS.len() - 2
        );
        assert!(insert.contains(&format!("${}::text[]", COLUMNS.len())));
    }

    #[test]
    fn the_read_decrypts_nine_of_its_ten_fields() {
        let read = read_member();
        assert_eq!(read.matches("pgp_sym_decrypt(").count(), 9);
        assert!(read.ends_with("FROM members WHERE id = $1"));
        assert_eq!(update_member().matches("pgp_sym_encrypt(").count(), 2);
        assert!(update_member().ends_with("WHERE id = $3"));
    }

    #[test]
    fn representatives_are_named_after_their_constituency() {
        assert_eq!(representative("E14000530"), "rep_e14000530");
        // The policy strips the prefix: `substr(current_user, 5)`.
        assert!(members_table().contains("substr(current_user, 5)"));
        assert_eq!(roles().matches(" IN ROLE representatives;").count(), 650);
    }

    #[test]
    fn the_key_never_shows() {
        let key = SessionKey::random().unwrap();
        assert_eq!(format!("{key:?}"), "SessionKey(…)");
        let set = key.set_statement();
        assert!(set.starts_with("SET custos.key = '") && set.len() == 64 + 19);
        assert_ne!(set, SessionKey::random().unwrap().set_statement());
    }
}
