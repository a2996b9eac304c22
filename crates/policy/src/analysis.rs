//! What a policy set can depend on, read from its JSON form.
//!
//! Decisions are cached, and a cached decision is only sound if its key
//! holds every input that could change it. Policies reach a subject only
//! through `resource.attr` and `resource has attr` (which this records), or
//! through its identity (`resource == …`, `resource in …`), which makes
//! decisions depend on the subject id. A policy that reads `context.now`
//! makes every decision depend on the clock, and then nothing is cached.

use std::collections::BTreeSet;

use serde_json::Value;

/// The inputs a policy set reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Reads {
    /// Subject attributes read with `.` or `has`.
    pub(crate) resource_attrs: BTreeSet<String>,
    /// Principal attributes read with `.` or `has`.
    pub(crate) principal_attrs: BTreeSet<String>,
    /// Whether some policy depends on the subject's identity.
    pub(crate) subject_identity: bool,
    /// Whether some policy reads the time (or the whole context).
    pub(crate) clock: bool,
    /// Context attributes read with `.` or `has`.
    pub(crate) context_attrs: BTreeSet<String>,
    /// Whether some policy uses the context as a whole, so that every
    /// attribute must be there.
    pub(crate) context_whole: bool,
}

impl Reads {
    /// Adds what another set of policies reads.
    pub(crate) fn merge(&mut self, other: Reads) {
        self.resource_attrs.extend(other.resource_attrs);
        self.principal_attrs.extend(other.principal_attrs);
        self.subject_identity |= other.subject_identity;
        self.clock |= other.clock;
        self.context_attrs.extend(other.context_attrs);
        self.context_whole |= other.context_whole;
    }

    /// Adds what one policy (in Cedar's JSON policy format) reads.
    pub(crate) fn add_policy(&mut self, policy: &Value) {
        if let Some(op) = policy
            .get("resource")
            .and_then(|r| r.get("op"))
            .and_then(Value::as_str)
        {
            let is_with_in = policy
                .get("resource")
                .is_some_and(|r| r.get("in").is_some());
            if op == "==" || op == "in" || is_with_in {
                self.subject_identity = true;
            }
        }
        if let Some(conditions) = policy.get("conditions") {
            let mut uses = VarUses::default();
            self.walk(conditions, &mut uses);
            if uses.resource_whole > 0 {
                self.subject_identity = true;
            }
            if uses.context_whole > 0 {
                self.clock = true;
                self.context_whole = true;
            }
        }
    }

    fn walk(&mut self, value: &Value, uses: &mut VarUses) {
        match value {
            Value::Object(map) => {
                for (key, inner) in map {
                    if key == "Var" {
                        match inner.as_str() {
                            Some("resource") => uses.resource_whole += 1,
                            Some("context") => uses.context_whole += 1,
                            _ => {}
                        }
                        continue;
                    }
                    if matches!(key.as_str(), "." | "has" | "is")
                        && let Some(var) = inner
                            .get("left")
                            .and_then(|l| l.get("Var"))
                            .and_then(Value::as_str)
                    {
                        let attr = inner.get("attr").and_then(Value::as_str);
                        match (var, key.as_str(), attr) {
                            ("resource", "is", _) => {
                                // A type test reads no attribute; an
                                // `is … in …` reads the identity, which
                                // the walk below counts.
                                if let Some(rest) = inner.get("in") {
                                    self.walk(rest, uses);
                                }
                                continue;
                            }
                            ("resource", _, Some(attr)) => {
                                self.resource_attrs.insert(attr.to_owned());
                                continue;
                            }
                            ("principal", "." | "has", Some(attr)) => {
                                self.principal_attrs.insert(attr.to_owned());
                                continue;
                            }
                            ("context", "." | "has", Some(attr)) => {
                                if attr == "now" {
                                    self.clock = true;
                                }
                                self.context_attrs.insert(attr.to_owned());
                                continue;
                            }
                            _ => {}
                        }
                    }
                    self.walk(inner, uses);
                }
            }
            Value::Array(items) => {
                for item in items {
                    self.walk(item, uses);
                }
            }
            _ => {}
        }
    }
}

/// Uses of a variable other than reading one of its attributes.
#[derive(Default)]
struct VarUses {
    resource_whole: usize,
    context_whole: usize,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn reads(src: &str) -> Reads {
        let policy = cedar_policy::Policy::from_str(src).unwrap();
        let mut reads = Reads::default();
        reads.add_policy(&policy.to_json().unwrap());
        reads
    }

    #[test]
    fn attribute_reads_are_collected() {
        let r = reads(
            r#"permit (principal, action, resource is Custos::Subject)
               when { resource has constituency && resource.constituency == principal.constituency && resource.consent_phone };"#,
        );
        assert_eq!(
            r.resource_attrs
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
            ["consent_phone", "constituency"]
        );
        assert!(!r.subject_identity);
        assert!(!r.clock);
    }

    #[test]
    fn identity_and_clock_are_noticed() {
        assert!(
            reads(r#"permit (principal, action, resource == Custos::Subject::"M1");"#)
                .subject_identity
        );
        assert!(reads(r#"permit (principal, action, resource) when { resource == Custos::Subject::"M1" };"#).subject_identity);
        assert!(reads(r#"permit (principal, action, resource) when { context.now > datetime("2027-01-01") };"#).clock);
        assert!(reads(r#"permit (principal, action, resource) when { context == {} };"#).clock);
        assert!(
            !reads(
                r#"permit (principal, action, resource) when { context.purpose == "casework" };"#
            )
            .clock
        );
    }
}
