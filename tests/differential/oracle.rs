//! The mandate of one (agency, roles, purpose), asked of casbin's `enforce()`
//! over the responsibility lists: which rows of each type the officer sees, and
//! which fields and edge properties it reads in full or masked.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use mandate_policies::{atoms_for, facts_of, ScopeContext};
use mandate_policies::{Policies, MASKS};
use mandate_schema::ShareClass;

use crate::city::City;
use crate::TODAY;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    Full,
    Masked(&'static str),
}

#[derive(Debug, Default)]
pub(crate) struct TypeView {
    /// Visible row ids.
    rows: HashSet<String>,
    /// Readable scalar fields.
    pub(crate) fields: BTreeMap<String, Access>,
    /// Relationship fields readable in full, with their readable edge properties.
    pub(crate) relations: BTreeMap<String, BTreeMap<String, Access>>,
}

#[derive(Debug)]
pub(crate) struct Mandate {
    /// The purpose is in the agency's list.
    pub(crate) purpose_ok: bool,
    /// Visible types (those with a row grant).
    pub(crate) types: BTreeMap<String, TypeView>,
    /// The purpose is in the list, but the roles reach nothing with it: no type
    /// and no access receipts (the hub refuses such a request as NOTHING_GRANTED).
    pub(crate) nothing_granted: bool,
}

/// casbin's `enforce()` with two shortcuts that cannot change a verdict: a
/// question no line of the lists could match (same agency, purpose, object and
/// action, and for field reads the same condition) is false without asking; and
/// a row's facts are cut to the atoms the agency's row lines for that type and
/// purpose mention, since `condMatch` reads no other. Verdicts are remembered.
/// (casbin takes milliseconds per question in a debug build.)
pub(crate) struct Oracle<'a> {
    pub(crate) policies: &'a Policies,
    pub(crate) verdicts: HashMap<[String; 6], bool>,
    /// Facts of every row, per (jurisdiction grids, type).
    pub(crate) facts: HashMap<(Vec<String>, String), Vec<BTreeSet<String>>>,
    /// Questions answered by the shortcut.
    pub(crate) skipped: usize,
}

impl Oracle<'_> {
    fn enforce(
        &mut self,
        role: &str,
        agency: &str,
        purpose: &str,
        object: &str,
        action: &str,
        condition: &str,
    ) -> bool {
        let could = self.policies.items().iter().any(|i| {
            i.agency == agency
                && i.purpose == purpose
                && i.object == object
                && i.action == action
                && (action == "rows" || i.condition == condition)
        });
        if !could {
            // Spot-check the shortcut against casbin (it rests on the model's
            // matcher comparing these columns exactly).
            self.skipped += 1;
            if self.skipped.is_multiple_of(32) {
                let v = self
                    .policies
                    .enforce(role, agency, purpose, object, action, condition)
                    .expect("casbin evaluates");
                assert!(
                    !v,
                    "casbin grants {role} {agency} {purpose} {object} {action} {condition} without a matching line"
                );
            }
            return false;
        }
        let key = [role, agency, purpose, object, action, condition].map(str::to_string);
        if let Some(v) = self.verdicts.get(&key) {
            return *v;
        }
        let v = self
            .policies
            .enforce(role, agency, purpose, object, action, condition)
            .expect("casbin evaluates");
        self.verdicts.insert(key, v);
        v
    }

    /// The atoms the row lines of (agency, purpose, type) mention.
    fn atoms(&self, agency: &str, purpose: &str, ty: &str) -> BTreeSet<String> {
        self.policies
            .items()
            .iter()
            .filter(|i| {
                i.agency == agency && i.purpose == purpose && i.object == ty && i.action == "rows"
            })
            .flat_map(|i| {
                i.condition
                    .split(|c: char| !(c.is_ascii_lowercase() || c == '_'))
                    .filter(|w| !w.is_empty())
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    fn facts(&mut self, city: &City, ty: &str, ctx: &ScopeContext) -> &[BTreeSet<String>] {
        let key = (ctx.jurisdiction.grids.clone(), ty.to_string());
        self.facts.entry(key).or_insert_with(|| {
            city.rows[ty]
                .iter()
                .map(|row| facts_of(ty, &city.facts_row(ty, row), ctx))
                .collect()
        })
    }
}

impl Mandate {
    pub(crate) fn compute(
        oracle: &mut Oracle,
        city: &City,
        agency: &str,
        roles: &[&str],
        purpose: &str,
    ) -> Mandate {
        let purpose_ok = oracle
            .policies
            .items()
            .iter()
            .any(|i| i.agency == agency && i.purpose == purpose);
        let department = city.department(agency);
        let ctx = ScopeContext {
            jurisdiction: city.jurisdiction(agency),
            today: TODAY.to_string(),
        };
        let allowed = |o: &mut Oracle, object: &str, action: &str, condition: &str| {
            roles
                .iter()
                .any(|role| o.enforce(role, agency, purpose, object, action, condition))
        };
        let access =
            |o: &mut Oracle, object: &str, class: ShareClass, owner: &str| -> Option<Access> {
                if class == ShareClass::NotShared && owner != department {
                    return None;
                }
                if allowed(o, object, "read", "-") {
                    return Some(Access::Full);
                }
                MASKS
                    .iter()
                    .find(|(name, _)| allowed(o, object, "read_masked", name))
                    .map(|(name, _)| Access::Masked(name))
            };
        let mut types = BTreeMap::new();
        if purpose_ok {
            for t in &city.catalog.types {
                // Any row grant at all: every atom of the type holds.
                let every = format!("facts:{}", atoms_for(&t.name).join(" "));
                if !allowed(oracle, &t.name, "rows", &every) {
                    continue;
                }
                let mut view = TypeView::default();
                let atoms = oracle.atoms(agency, purpose, &t.name);
                let conds: Vec<String> = oracle
                    .facts(city, &t.name, &ctx)
                    .iter()
                    .map(|facts| {
                        let kept: Vec<&str> = facts
                            .iter()
                            .filter(|f| atoms.contains(*f))
                            .map(String::as_str)
                            .collect();
                        format!("facts:{}", kept.join(" "))
                    })
                    .collect();
                for (row, cond) in city.rows[&t.name].iter().zip(&conds) {
                    if allowed(oracle, &t.name, "rows", cond) {
                        view.rows.insert(row["id"].as_str().unwrap().to_string());
                    }
                }
                for f in &t.fields {
                    let object = format!("{}.{}", t.name, f.name);
                    if let Some(a) = access(oracle, &object, f.share.class, &f.share.owner) {
                        view.fields.insert(f.name.clone(), a);
                    }
                }
                for r in &t.relations {
                    let object = format!("{}.{}", t.name, r.name);
                    if access(oracle, &object, r.share.class, &r.share.owner) != Some(Access::Full)
                    {
                        continue;
                    }
                    let props = r
                        .properties
                        .iter()
                        .filter_map(|p| {
                            let object = format!("{}.{}.{}", t.name, r.name, p.name);
                            access(oracle, &object, p.share.class, &p.share.owner)
                                .map(|a| (p.name.clone(), a))
                        })
                        .collect();
                    view.relations.insert(r.name.clone(), props);
                }
                types.insert(t.name.clone(), view);
            }
        }
        let receipts = purpose_ok && {
            let every = format!("facts:{}", atoms_for("Resident").join(" "));
            allowed(oracle, "AccessReceipt", "rows", &every)
        };
        let nothing_granted = purpose_ok && types.is_empty() && !receipts;
        Mandate {
            purpose_ok,
            types,
            nothing_granted,
        }
    }

    pub(crate) fn field(&self, ty: &str, field: &str) -> Option<Access> {
        self.types.get(ty)?.fields.get(field).copied()
    }

    /// Whether `_entities` fetches `ty`: visible (every visible type has root
    /// fields) with its id readable in full.
    pub(crate) fn is_entity(&self, ty: &str) -> bool {
        self.full(ty, "id")
    }

    pub(crate) fn full(&self, ty: &str, field: &str) -> bool {
        self.field(ty, field) == Some(Access::Full)
    }

    pub(crate) fn relation_visible(&self, city: &City, ty: &str, rel: &str) -> bool {
        let Some(view) = self.types.get(ty) else {
            return false;
        };
        view.relations.contains_key(rel)
            && city
                .ty(ty)
                .relation(rel)
                .is_some_and(|r| self.types.contains_key(&r.target))
    }

    pub(crate) fn edge_props(&self, ty: &str, rel: &str) -> Option<&BTreeMap<String, Access>> {
        self.types.get(ty)?.relations.get(rel)
    }

    pub(crate) fn sees(&self, ty: &str, id: &str) -> bool {
        self.types.get(ty).is_some_and(|v| v.rows.contains(id))
    }
}
