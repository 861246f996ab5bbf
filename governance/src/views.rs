//! What officers read of a set of lists: the catalog, the matrix agency ×
//! purpose × field, why a field is or is not granted, and what a change does.
//! All of it is asked of the compiled plans — the same `compile` the hub serves
//! requests with — never of a second reading of the policy text.

use std::collections::{BTreeMap, BTreeSet};

use mandate_policies::{department_of, Mandate, PlanKey, Policies, MASKS};
use mandate_resolvers::FieldAccess;
use mandate_schema::{Catalog, ShareClass, ShareMeta};

/// Read, masked or nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, async_graphql::Enum)]
pub enum Access {
    /// The stored value.
    Read,
    /// A masked rendering.
    Masked,
    /// Nothing.
    None,
}

/// How a field is shared, in the catalog's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
#[graphql(name = "ShareClass")]
pub enum Class {
    /// 无条件共享.
    Unconditional,
    /// 有条件共享.
    Conditional,
    /// 不予共享.
    NotShared,
}

impl From<ShareClass> for Class {
    fn from(c: ShareClass) -> Self {
        match c {
            ShareClass::Unconditional => Class::Unconditional,
            ShareClass::Conditional => Class::Conditional,
            ShareClass::NotShared => Class::NotShared,
        }
    }
}

/// One catalog object: a field, relationship or relationship property.
#[derive(Debug, Clone, async_graphql::SimpleObject)]
pub struct CatalogField {
    /// The type.
    #[graphql(name = "type")]
    pub type_name: String,
    /// The field (`members.relationToHead` for a relationship property).
    pub field: String,
    /// `Type.field` as lists name it.
    pub object: String,
    /// Owner department code.
    pub owner: String,
    /// PUBLIC, PERSONAL or SENSITIVE.
    pub sensitivity: String,
    /// Share class.
    pub share_class: Class,
    /// The catalog's description.
    pub description: Option<String>,
}

/// Every object of the catalog, in catalog order.
pub fn catalog(catalog: &Catalog) -> Vec<CatalogField> {
    let row = |type_name: &str, field: String, share: &ShareMeta, description: Option<String>| {
        CatalogField {
            type_name: type_name.to_string(),
            object: format!("{type_name}.{field}"),
            field,
            owner: share.owner.clone(),
            sensitivity: format!("{:?}", share.sensitivity).to_uppercase(),
            share_class: share.class.into(),
            description,
        }
    };
    let mut out = Vec::new();
    for t in &catalog.types {
        for f in &t.fields {
            out.push(row(
                &t.name,
                f.name.clone(),
                &f.share,
                f.description.clone(),
            ));
        }
        for r in &t.remotes {
            let served = match &r.description {
                Some(d) => format!("{d} (served by subgraph `{}`)", r.subgraph),
                None => format!("Served by subgraph `{}`.", r.subgraph),
            };
            out.push(row(&t.name, r.name.clone(), &r.share, Some(served)));
        }
        for r in &t.relations {
            out.push(row(
                &t.name,
                r.name.clone(),
                &r.share,
                r.description.clone(),
            ));
            for p in &r.properties {
                out.push(row(
                    &t.name,
                    format!("{}.{}", r.name, p.name),
                    &p.share,
                    p.description.clone(),
                ));
            }
        }
    }
    out
}

/// The catalog entry of `object`, if it names one.
pub fn share_of(catalog: &Catalog, object: &str) -> Option<ShareMeta> {
    let parts: Vec<&str> = object.split('.').collect();
    let t = catalog.types.iter().find(|t| t.name == parts[0])?;
    match parts.as_slice() {
        [_, f] => t.share_of(f).cloned(),
        [_, r, p] => t
            .relation(r)?
            .properties
            .iter()
            .find(|x| x.name == *p)
            .map(|x| x.share.clone()),
        _ => None,
    }
}

/// What one mandate may do with one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// Read, masked or none.
    pub access: Access,
    /// The mask's name when masked.
    pub mask: Option<String>,
}

impl Grant {
    /// In plain words: `read`, `masked (phone)`, `none`.
    pub fn words(&self) -> String {
        match (&self.access, &self.mask) {
            (Access::Read, _) => "read".to_string(),
            (Access::Masked, Some(m)) => format!("masked ({m})"),
            (Access::Masked, None) => "masked".to_string(),
            (Access::None, _) => "none".to_string(),
        }
    }
}

fn mask_name(access: FieldAccess) -> Grant {
    match access {
        FieldAccess::Read => Grant {
            access: Access::Read,
            mask: None,
        },
        FieldAccess::Masked(m) => Grant {
            access: Access::Masked,
            mask: MASKS
                .iter()
                .find(|(_, x)| *x == m)
                .map(|(n, _)| (*n).to_string()),
        },
    }
}

/// What a mandate is granted: access per object, and the row scope per type.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Granted {
    /// Object → access (objects without access are absent).
    pub objects: BTreeMap<String, Grant>,
    /// Type → its rows scope (the `rows` conditions, joined with ` | `).
    pub rows: BTreeMap<String, String>,
}

/// Compiles what `m` is granted under `policies` (no jurisdiction read: the
/// schema-deciding part of the plan).
pub fn granted(policies: &Policies, m: &Mandate, today: &str) -> Granted {
    let key =
        PlanKey::without_jurisdiction(&m.agency, std::slice::from_ref(&m.role), &m.purpose, today);
    let Ok(plan) = policies.compile(&key) else {
        return Granted::default();
    };
    let mut out = Granted::default();
    for (t, access) in &plan.types {
        for (f, a) in &access.fields {
            out.objects.insert(format!("{t}.{f}"), mask_name(*a));
        }
        for (r, props) in &access.relations {
            out.objects
                .insert(format!("{t}.{r}"), mask_name(FieldAccess::Read));
            for (p, a) in props {
                out.objects.insert(format!("{t}.{r}.{p}"), mask_name(*a));
            }
        }
    }
    let mut rows: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for i in policies.items_of(m) {
        if i.action == "rows" {
            rows.entry(i.object.clone())
                .or_default()
                .insert(i.condition.clone());
        }
    }
    for (t, conds) in rows {
        if plan.types.contains_key(&t) || t == mandate_policies::RECEIPTS {
            out.rows
                .insert(t, conds.into_iter().collect::<Vec<_>>().join(" | "));
        }
    }
    out
}

/// One cell of the matrix.
#[derive(Debug, Clone, async_graphql::SimpleObject)]
pub struct MatrixCell {
    /// Agency.
    pub agency: String,
    /// Role.
    pub role: String,
    /// Purpose.
    pub purpose: String,
    /// `Type.field`.
    pub object: String,
    /// Read, masked or none.
    pub access: Access,
    /// The mask when masked.
    pub mask: Option<String>,
    /// The rows of the field's type this mandate reaches.
    pub scope: Option<String>,
    /// The catalog's share class.
    pub share_class: Class,
    /// The lines granting it (`file:line`).
    pub granted_by: Vec<String>,
}

/// The matrix: for each mandate (optionally of one agency / purpose), every
/// catalog object, granted or not.
pub fn matrix(
    policies: &Policies,
    agency: Option<&str>,
    purpose: Option<&str>,
    today: &str,
) -> Vec<MatrixCell> {
    let objects = catalog(policies.catalog());
    let mut out = Vec::new();
    for m in policies.mandates() {
        if agency.is_some_and(|a| a != m.agency) || purpose.is_some_and(|p| p != m.purpose) {
            continue;
        }
        let g = granted(policies, &m, today);
        let items = policies.items_of(&m);
        for o in &objects {
            let grant = g.objects.get(&o.object).cloned().unwrap_or(Grant {
                access: Access::None,
                mask: None,
            });
            let granted_by = if grant.access == Access::None {
                Vec::new()
            } else {
                items
                    .iter()
                    .filter(|i| i.object == o.object)
                    .map(|i| i.source.clone())
                    .collect()
            };
            out.push(MatrixCell {
                agency: m.agency.clone(),
                role: m.role.clone(),
                purpose: m.purpose.clone(),
                object: o.object.clone(),
                access: grant.access,
                mask: grant.mask,
                scope: g.rows.get(&o.type_name).cloned(),
                share_class: o.share_class,
                granted_by,
            });
        }
    }
    out
}

/// A policy line, located.
#[derive(Debug, Clone, async_graphql::SimpleObject)]
pub struct Line {
    /// The list file.
    pub file: String,
    /// The line number.
    pub line: i32,
    /// The line as the loader read it.
    pub text: String,
}

/// Why a mandate may or may not read an object.
#[derive(Debug, Clone, async_graphql::SimpleObject)]
pub struct Explanation {
    /// Whether anything of it is read.
    pub allowed: bool,
    /// How.
    pub access: Access,
    /// The mask when masked.
    pub mask: Option<String>,
    /// The lines that grant it (the field's and its type's `rows` lines).
    pub lines: Vec<Line>,
    /// In plain words.
    pub reason: String,
}

fn line_of(i: &mandate_policies::Item) -> Line {
    let (file, line) = i
        .source
        .rsplit_once(':')
        .map_or((i.source.clone(), 0), |(f, l)| {
            (f.to_string(), l.parse().unwrap_or(0))
        });
    Line {
        file,
        line,
        text: format!(
            "p, {}, {}, {}, {}, {}, {}, {}",
            i.role, i.agency, i.purpose, i.object, i.action, i.condition, i.basis
        ),
    }
}

/// Explains `object` for `agency` and `purpose`, for `role` or every role the
/// lists name for that purpose. `None` if the catalog has no such object.
pub fn explain(
    policies: &Policies,
    agency: &str,
    purpose: &str,
    object: &str,
    role: Option<&str>,
    today: &str,
) -> Option<Explanation> {
    let share = share_of(policies.catalog(), object)?;
    let type_name = object.split('.').next().unwrap_or_default();
    let mandates: Vec<Mandate> = policies
        .mandates()
        .into_iter()
        .filter(|m| m.agency == agency && m.purpose == purpose && role.is_none_or(|r| r == m.role))
        .collect();
    let mut best = Grant {
        access: Access::None,
        mask: None,
    };
    let mut lines = Vec::new();
    let mut seen = BTreeSet::new();
    let mut has_rows = false;
    for m in &mandates {
        let g = granted(policies, m, today);
        if let Some(x) = g.objects.get(object) {
            if x.access < best.access {
                best = x.clone();
            }
        }
        has_rows |= g.rows.contains_key(type_name);
        for i in policies.items_of(m) {
            let relevant = i.object == object || (i.object == type_name && i.action == "rows");
            if relevant && seen.insert(i.source.clone()) {
                lines.push(line_of(i));
            }
        }
    }
    let department = department_of(agency).unwrap_or_default();
    let who = role.map_or_else(|| agency.to_string(), |r| format!("{agency} ({r})"));
    let reason = if best.access != Access::None {
        format!(
            "{who} may read {object} for {purpose}: {} — granted by {} line(s) of the lists; the rows of {type_name} reached are those of the `rows` lines shown",
            best.words(),
            lines.len()
        )
    } else if share.class == ShareClass::NotShared && share.owner != department {
        format!(
            "the catalog forbids it: {object} is 不予共享 (not shared) and only its owner department {} may read it",
            share.owner
        )
    } else if mandates.is_empty() {
        format!("{agency}'s list names no grant for the purpose {purpose}")
    } else if !lines
        .iter()
        .any(|l| l.text.contains(&format!(", {object}, ")))
    {
        format!("no line of {agency}'s list grants {object} for {purpose}")
    } else if !has_rows {
        format!("{object} is named, but no `rows` line of {type_name} for {purpose}: no row of it is read")
    } else {
        format!("{object} is named but not granted to {who} for {purpose}")
    };
    Some(Explanation {
        allowed: best.access != Access::None,
        access: best.access,
        mask: best.mask,
        lines,
        reason,
    })
}

/// What a change does, in the officers' words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, async_graphql::Enum)]
pub enum ChangeKind {
    /// A field becomes readable.
    GainsField,
    /// A field is no longer readable.
    LosesField,
    /// Read becomes masked, masked becomes read, or the mask changes.
    MaskChanged,
    /// The rows of a type change.
    ScopeChanged,
    /// Rows of a type become reachable.
    GainsRows,
    /// Rows of a type are no longer reachable.
    LosesRows,
}

/// One change of what a mandate is granted.
#[derive(Debug, Clone, async_graphql::SimpleObject)]
pub struct Change {
    /// What kind.
    pub kind: ChangeKind,
    /// Agency.
    pub agency: String,
    /// Role.
    pub role: String,
    /// Purpose.
    pub purpose: String,
    /// `Type.field`, or `Type` for rows.
    pub object: String,
    /// Before, in plain words.
    pub before: Option<String>,
    /// After.
    pub after: Option<String>,
    /// How many residents of the current data the change touches (rows of
    /// `Resident` reached before or after), when counted.
    pub residents_touched: Option<i64>,
}

/// The changes from `before` to `after`, mandate by mandate.
pub fn changes(before: &Policies, after: &Policies, today: &str) -> Vec<Change> {
    let mandates: BTreeSet<Mandate> = before
        .mandates()
        .into_iter()
        .chain(after.mandates())
        .collect();
    let mut out = Vec::new();
    for m in mandates {
        let b = granted(before, &m, today);
        let a = granted(after, &m, today);
        let push = |out: &mut Vec<Change>,
                    kind,
                    object: &str,
                    before: Option<String>,
                    after: Option<String>| {
            out.push(Change {
                kind,
                agency: m.agency.clone(),
                role: m.role.clone(),
                purpose: m.purpose.clone(),
                object: object.to_string(),
                before,
                after,
                residents_touched: None,
            });
        };
        let objects: BTreeSet<&String> = b.objects.keys().chain(a.objects.keys()).collect();
        for o in objects {
            match (b.objects.get(o), a.objects.get(o)) {
                (None, Some(x)) => push(
                    &mut out,
                    ChangeKind::GainsField,
                    o,
                    Some("none".into()),
                    Some(x.words()),
                ),
                (Some(x), None) => push(
                    &mut out,
                    ChangeKind::LosesField,
                    o,
                    Some(x.words()),
                    Some("none".into()),
                ),
                (Some(x), Some(y)) if x != y => {
                    push(
                        &mut out,
                        ChangeKind::MaskChanged,
                        o,
                        Some(x.words()),
                        Some(y.words()),
                    );
                }
                _ => {}
            }
        }
        let types: BTreeSet<&String> = b.rows.keys().chain(a.rows.keys()).collect();
        for t in types {
            match (b.rows.get(t), a.rows.get(t)) {
                (None, Some(y)) => push(&mut out, ChangeKind::GainsRows, t, None, Some(y.clone())),
                (Some(x), None) => push(&mut out, ChangeKind::LosesRows, t, Some(x.clone()), None),
                (Some(x), Some(y)) if x != y => {
                    push(
                        &mut out,
                        ChangeKind::ScopeChanged,
                        t,
                        Some(x.clone()),
                        Some(y.clone()),
                    );
                }
                _ => {}
            }
        }
    }
    out
}
