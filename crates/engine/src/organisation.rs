//! Who the vault belongs to: the controller's name and its data protection
//! officer's contact, kept in `vault.toml`, for breach reports (Art.
//! 33(3)(b)) and notices to members (Art. 34(2)).

use crate::clock::now_stamp;
use crate::error::{EngineError, Problem};
use crate::principal::Caller;
use crate::recording::{Action, Entry};
use crate::vault::Vault;
use crate::vault_dir::{CONFIG_FILE, OrganisationConfig};

/// The organisation and its DPO. An empty string means not set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Organisation {
    /// The controller's name, as members know it.
    pub name: String,
    /// The data protection officer's name.
    pub dpo_name: String,
    /// Their email address.
    pub dpo_email: String,
    /// Their phone number.
    pub dpo_phone: String,
    /// Their postal address, on one line.
    pub dpo_address: String,
    /// The domain of canary email addresses: one the organisation
    /// controls, so that mail sent to a canary reaches it. When empty, a
    /// canary's address takes the domain of a real row of its export.
    pub canary_email_domain: String,
}

impl Organisation {
    /// How to reach the DPO, in one line, or none if nothing is set.
    pub fn dpo_contact(&self) -> Option<String> {
        let parts: Vec<&str> = [
            self.dpo_name.as_str(),
            self.dpo_email.as_str(),
            self.dpo_phone.as_str(),
            self.dpo_address.as_str(),
        ]
        .into_iter()
        .filter(|p| !p.is_empty())
        .collect();
        (!parts.is_empty()).then(|| parts.join(", "))
    }

    fn from_config(config: Option<OrganisationConfig>) -> Self {
        let c = config.unwrap_or_default();
        Self {
            name: c.name,
            dpo_name: c.dpo_name,
            dpo_email: c.dpo_email,
            dpo_phone: c.dpo_phone,
            dpo_address: c.dpo_address,
            canary_email_domain: c.canary_email_domain,
        }
    }

    fn to_config(&self) -> Option<OrganisationConfig> {
        let c = OrganisationConfig {
            name: self.name.clone(),
            dpo_name: self.dpo_name.clone(),
            dpo_email: self.dpo_email.clone(),
            dpo_phone: self.dpo_phone.clone(),
            dpo_address: self.dpo_address.clone(),
            canary_email_domain: self.canary_email_domain.clone(),
        };
        (c != OrganisationConfig::default()).then_some(c)
    }
}

/// A change to the organisation: each value given replaces the old one; an
/// empty value removes it.
#[derive(Debug, Clone, Default)]
pub struct OrganisationChange {
    /// The controller's name.
    pub name: Option<String>,
    /// The DPO's name.
    pub dpo_name: Option<String>,
    /// The DPO's email.
    pub dpo_email: Option<String>,
    /// The DPO's phone.
    pub dpo_phone: Option<String>,
    /// The DPO's postal address.
    pub dpo_address: Option<String>,
    /// The domain of canary email addresses.
    pub canary_email_domain: Option<String>,
}

/// The longest value of any setting.
const MAX_VALUE: usize = 300;

fn checked(key: &str, value: &str) -> Result<String, Problem> {
    let value = value.trim();
    if value.chars().count() > MAX_VALUE {
        return Err(Problem::field(
            key,
            format!("is longer than {MAX_VALUE} characters"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(Problem::field(
            key,
            "contains a control character (write the address on one line)",
        ));
    }
    Ok(value.to_owned())
}

impl OrganisationChange {
    fn apply(&self, org: &mut Organisation) -> Result<(), EngineError> {
        let mut problems = Vec::new();
        let mut set = |key: &str, new: &Option<String>, slot: &mut String| {
            if let Some(new) = new {
                match checked(key, new) {
                    Ok(v) => *slot = v,
                    Err(p) => problems.push(p),
                }
            }
        };
        set("name", &self.name, &mut org.name);
        set("dpo_name", &self.dpo_name, &mut org.dpo_name);
        set("dpo_email", &self.dpo_email, &mut org.dpo_email);
        set("dpo_phone", &self.dpo_phone, &mut org.dpo_phone);
        set("dpo_address", &self.dpo_address, &mut org.dpo_address);
        set(
            "canary_email_domain",
            &self.canary_email_domain,
            &mut org.canary_email_domain,
        );
        let email = &org.dpo_email;
        if !email.is_empty() && (email.contains(' ') || email.split('@').count() != 2) {
            problems.push(Problem::field(
                "dpo_email",
                "is not an email address (expected one such as dpo@party.example)",
            ));
        }
        let domain = &org.canary_email_domain;
        if !domain.is_empty()
            && (!domain.contains('.')
                || !domain
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-')))
        {
            problems.push(Problem::field(
                "canary_email_domain",
                "is not a domain name (expected one such as canaries.party.example)",
            ));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(EngineError::Invalid(problems, 0))
        }
    }
}

impl Vault {
    /// The organisation and its DPO, as `vault.toml` says now (another
    /// process may have changed it), for any authenticated principal.
    pub fn organisation(&self, caller: &Caller) -> Result<Organisation, EngineError> {
        self.admit_principal(caller, Action::Audit, &[])?;
        self.current_organisation()
    }

    pub(crate) fn current_organisation(&self) -> Result<Organisation, EngineError> {
        let config = self
            .dir
            .read_config(CONFIG_FILE)?
            .ok_or_else(|| EngineError::NotAVault(self.dir.root().to_owned()))?;
        Ok(Organisation::from_config(config.organisation))
    }

    /// Changes the organisation or its DPO's contact; administrators only.
    pub fn set_organisation(
        &self,
        caller: &Caller,
        change: &OrganisationChange,
    ) -> Result<Organisation, EngineError> {
        let actor = self.admit_admin(caller, Action::Administer)?;
        let mut config = self
            .dir
            .read_config(CONFIG_FILE)?
            .ok_or_else(|| EngineError::NotAVault(self.dir.root().to_owned()))?;
        let mut org = Organisation::from_config(config.organisation.take());
        change
            .apply(&mut org)
            .map_err(|e| self.refuse(&actor, Action::Administer, Vec::new(), e))?;
        config.organisation = org.to_config();
        self.dir.write_config(CONFIG_FILE, &config)?;
        self.record(
            &actor,
            Entry {
                reason: format!("changed the organisation's details at {}", now_stamp()),
                ..Entry::allowed(Action::Administer, Vec::new(), Vec::new())
            },
        )?;
        Ok(org)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_are_checked_and_empty_values_remove() {
        let mut org = Organisation::default();
        let change = OrganisationChange {
            name: Some(" Demo Party ".into()),
            dpo_email: Some("dpo@party.example".into()),
            ..OrganisationChange::default()
        };
        change.apply(&mut org).unwrap();
        assert_eq!(org.name, "Demo Party");
        assert_eq!(org.dpo_contact().as_deref(), Some("dpo@party.example"));
        let clear = OrganisationChange {
            dpo_email: Some(String::new()),
            ..OrganisationChange::default()
        };
        clear.apply(&mut org).unwrap();
        assert_eq!(org.dpo_contact(), None);
        for (bad, key) in [
            (
                OrganisationChange {
                    dpo_email: Some("not an email".into()),
                    ..OrganisationChange::default()
                },
                "dpo_email",
            ),
            (
                OrganisationChange {
                    dpo_address: Some("1 High St\nLeeds".into()),
                    ..OrganisationChange::default()
                },
                "dpo_address",
            ),
            (
                OrganisationChange {
                    canary_email_domain: Some("nodots".into()),
                    ..OrganisationChange::default()
                },
                "canary_email_domain",
            ),
        ] {
            let err = bad.apply(&mut org.clone()).unwrap_err();
            assert_eq!(err.problems()[0].field.as_deref(), Some(key), "{err}");
        }
    }
}
