//! mandate-policies: responsibility lists (权责清单) as casbin policies, compiled
//! into access plans.
//!
//! `policies/model.conf` is the casbin model; `policies/lists/*.csv` hold one
//! department's list each: lines `p, role, agency, purpose, object, action,
//! condition, legal basis` and role inheritance `g, role, parent, agency`.
//! [`Policies::load`] reads and checks them against the catalog — unknown objects,
//! actions, masks or scopes, and grants the catalog's share class forbids, are
//! errors naming the file and line, as are scope atoms reading fields,
//! relationships or enum values the catalog lacks, and masks that the fields
//! granted beside them give away (fewer than [`MIN_CANDIDATES`] values left; see
//! the `masks` module) — and builds the casbin enforcer, which stays
//! the source of truth. [`Policies::compile`] turns one (agency, roles, purpose)
//! into an [`AccessPlan`]: readable fields per type asked of `enforce()`, masks,
//! and row predicates from the scopes. Callers cache plans by [`PlanKey`].

mod masks;
mod scope;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use casbin::function_map::OperatorFunction;
use casbin::rhai::Dynamic;
use casbin::{CoreApi, DefaultModel, Enforcer, MemoryAdapter, MgmtApi};
use mandate_resolvers::{AccessPlan, FieldAccess, Mask, TypeAccess};
use mandate_schema::{Catalog, ShareClass};
use sha2::{Digest, Sha256};

pub use masks::MIN_CANDIDATES;
pub use scope::{atoms_for, facts_of, years_before, Jurisdiction, Scope, ScopeContext};

/// The masks a list may name, with their names in policy text.
pub const MASKS: [(&str, Mask); 6] = [
    ("keep_ends", Mask::KeepEnds),
    ("keep_start", Mask::KeepStart),
    ("phone", Mask::Phone),
    ("first_char", Mask::FirstChar),
    ("year_only", Mask::YearOnly),
    ("redact", Mask::Redact),
];

/// The object granting access receipts: who read a resident's data. Granted with
/// `rows` and a scope over the residents whose receipts may be read.
pub const RECEIPTS: &str = "AccessReceipt";

/// The type a receipts grant's scope reads.
const RECEIPTS_OF: &str = "Resident";

/// The object a list marks one of its purposes with: `Purpose, confidential, -`
/// makes reads for that purpose show in residents' receipts without officer, case
/// number or stated purpose (the audit log keeps them in full).
pub const PURPOSE: &str = "Purpose";

/// Why policies could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// A file could not be read.
    #[error("{path}: {message}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        message: String,
    },
    /// A line is wrong; the message says how.
    #[error("{path}:{line}: {message}")]
    Line {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A scope atom the code defines reads something the catalog does not have
    /// (checked on every load, whether or not a list uses the atom).
    #[error("scope `{atom}` of {type_name} {message}")]
    Scope {
        /// The type the atom belongs to.
        type_name: String,
        /// The atom.
        atom: String,
        /// What does not fit the model.
        message: String,
    },
    /// casbin rejected the model or the policies.
    #[error("casbin: {0}")]
    Casbin(String),
}

/// One `p` line of a list.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Item {
    /// Role (subject).
    pub role: String,
    /// Agency (department id, the casbin domain).
    pub agency: String,
    /// Purpose (事由).
    pub purpose: String,
    /// `Type` or `Type.field` or `Type.relation.property`.
    pub object: String,
    /// `rows`, `read` or `read_masked`.
    pub action: String,
    /// Scope for `rows`, mask for `read_masked`, `-` for `read`.
    pub condition: String,
    /// Legal basis reference.
    pub basis: String,
    /// Where it was read.
    pub source: String,
}

/// One (agency, role, purpose) the lists grant something for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct Mandate {
    /// Agency id.
    pub agency: String,
    /// Role within the agency.
    pub role: String,
    /// Purpose (事由).
    pub purpose: String,
}

/// One `g` line: `role` inherits `parent` within `agency`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Inherit {
    /// Inheriting role.
    pub role: String,
    /// Inherited role.
    pub parent: String,
    /// Agency.
    pub agency: String,
}

/// Who asks, for what: the input of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PlanKey {
    /// Agency id.
    pub agency: String,
    /// The agency's department code (its Department node's `code`).
    pub department: String,
    /// Roles of the officer, sorted.
    pub roles: Vec<String>,
    /// Stated purpose.
    pub purpose: String,
    /// Jurisdiction and date the scopes are evaluated with.
    pub context: ScopeContext,
}

impl PlanKey {
    /// The key of a plan compiled without reading the agency's jurisdiction: the
    /// department from the agency id, no grids, communities or subdistricts.
    /// Such a plan decides the schema (types, fields, masks) exactly; only its
    /// `jurisdiction` row predicates select nothing (`mandate sdl --agency`, the
    /// generated tables of mandates).
    pub fn without_jurisdiction(
        agency: &str,
        roles: &[String],
        purpose: &str,
        today: &str,
    ) -> Self {
        let mut roles = roles.to_vec();
        roles.sort();
        roles.dedup();
        PlanKey {
            agency: agency.to_string(),
            department: department_of(agency).unwrap_or_default().to_string(),
            roles,
            purpose: purpose.to_string(),
            context: ScopeContext {
                jurisdiction: Jurisdiction::default(),
                today: today.to_string(),
            },
        }
    }
}

/// Loaded, checked responsibility lists and their enforcer.
pub struct Policies {
    enforcer: Enforcer,
    purposes_by_agency: BTreeMap<String, BTreeSet<String>>,
    /// (agency, purpose) pairs marked confidential.
    confidential: Vec<(String, String)>,
    /// (agency, purpose, object) of every item: the matcher compares these three
    /// exactly, so without such an item `enforce` cannot allow, and is not asked.
    named: std::collections::HashSet<(String, String, String)>,
    items: Vec<Item>,
    inherits: Vec<Inherit>,
    version: String,
    catalog: Catalog,
}

impl std::fmt::Debug for Policies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Policies")
            .field("version", &self.version)
            .field("items", &self.items.len())
            .finish_non_exhaustive()
    }
}

/// casbin's `condMatch(r.cond, p.cond)`: for row checks the request carries
/// `facts:<atom> <atom> ...` and the policy a scope expression; otherwise the two
/// must be equal.
fn cond_match(request: Dynamic, policy: Dynamic) -> Dynamic {
    let request = request.into_string().unwrap_or_default();
    let policy = policy.into_string().unwrap_or_default();
    let holds = match request.strip_prefix("facts:") {
        Some(facts) => {
            let facts: BTreeSet<String> = facts.split_whitespace().map(str::to_string).collect();
            // The type is not known here; parse against the widest vocabulary.
            ["Resident", "Household", "Building", "Grid"]
                .iter()
                .find_map(|t| Scope::parse(&policy, t).ok())
                .is_some_and(|s| s.holds(&facts))
        }
        None => request == policy,
    };
    holds.into()
}

fn split_line(line: &str) -> Vec<String> {
    line.split(',').map(|c| c.trim().to_string()).collect()
}

impl Policies {
    /// Loads `dir/model.conf` and every `dir/lists/*.csv`.
    ///
    /// # Errors
    /// [`PolicyError`] naming the file and line.
    pub async fn load(dir: &Path, catalog: &Catalog) -> Result<Policies, PolicyError> {
        let (model_text, texts) = read_dir(dir)?;
        Self::from_texts(&model_text, &texts, catalog).await
    }

    /// Reads the lists as [`Policies::load`] does, but a list file that does not
    /// load is left out — its grants are not in force until it is mended (fail
    /// closed) — while every other file's changes, revocations included, are.
    /// Returns the lists in force and the errors of the files left out.
    ///
    /// # Errors
    /// If the model or the folder cannot be read, or the lists fail together
    /// (an error no single file is to blame for).
    pub async fn load_failing_closed(
        dir: &Path,
        catalog: &Catalog,
    ) -> Result<(Policies, Vec<PolicyError>), PolicyError> {
        let (model_text, texts) = read_dir(dir)?;
        Self::from_texts_failing_closed(&model_text, texts, catalog).await
    }

    /// [`Policies::load_failing_closed`] over texts already read: each
    /// `(path, text)` that does not load, alone or beside the others, is left
    /// out and its error returned.
    ///
    /// # Errors
    /// If the model does not load, or the lists fail together.
    pub async fn from_texts_failing_closed(
        model_text: &str,
        texts: Vec<(PathBuf, String)>,
        catalog: &Catalog,
    ) -> Result<(Policies, Vec<PolicyError>), PolicyError> {
        let model_text = model_text.to_string();
        let mut kept = Vec::with_capacity(texts.len());
        let mut refused = Vec::new();
        for file in texts {
            match Self::from_texts(&model_text, std::slice::from_ref(&file), catalog).await {
                Ok(_) => kept.push(file),
                Err(e @ (PolicyError::Line { .. } | PolicyError::Io { .. })) => refused.push(e),
                Err(e) => return Err(e),
            }
        }
        // Files that load alone may not together: a mask in one, granted for the
        // same agency and purpose as fields in another that give it away. The
        // mask's file is left out, and the rest tried again.
        loop {
            match Self::from_texts(&model_text, &kept, catalog).await {
                Ok(policies) => return Ok((policies, refused)),
                Err(PolicyError::Line {
                    path,
                    line,
                    message,
                }) if kept.iter().any(|(p, _)| *p == path) => {
                    kept.retain(|(p, _)| *p != path);
                    refused.push(PolicyError::Line {
                        path,
                        line,
                        message,
                    });
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Builds from the model text and `(path, text)` of each list.
    ///
    /// # Errors
    /// [`PolicyError`] naming the file and line.
    pub async fn from_texts(
        model_text: &str,
        lists: &[(PathBuf, String)],
        catalog: &Catalog,
    ) -> Result<Policies, PolicyError> {
        let mut items = Vec::new();
        let mut places = Vec::new();
        let mut inherits = Vec::new();
        let mut hash = Sha256::new();
        hash.update(model_text.as_bytes());
        for (path, text) in lists {
            hash.update(
                path.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            );
            hash.update(text.as_bytes());
            for (i, raw) in text.lines().enumerate() {
                let line = raw.trim();
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                let err = |message: String| PolicyError::Line {
                    path: path.clone(),
                    line: i + 1,
                    message,
                };
                let cols = split_line(line);
                match cols.first().map(String::as_str) {
                    Some("p") => {
                        if cols.len() != 8 {
                            return Err(err(format!(
                                "a `p` line has 8 columns (p, role, agency, purpose, object, action, condition, basis); found {}",
                                cols.len()
                            )));
                        }
                        let item = Item {
                            role: cols[1].clone(),
                            agency: cols[2].clone(),
                            purpose: cols[3].clone(),
                            object: cols[4].clone(),
                            action: cols[5].clone(),
                            condition: cols[6].clone(),
                            basis: cols[7].clone(),
                            source: format!("{}:{}", path.display(), i + 1),
                        };
                        check_item(&item, catalog).map_err(err)?;
                        items.push(item);
                        places.push((path.clone(), i + 1));
                    }
                    Some("g") => {
                        if cols.len() != 4 {
                            return Err(err(
                                "a `g` line has 4 columns (g, role, parent, agency)".to_string()
                            ));
                        }
                        for c in &cols[1..] {
                            check_name(c).map_err(&err)?;
                        }
                        for c in &cols[1..3] {
                            not_an_officer_role(c).map_err(&err)?;
                        }
                        inherits.push(Inherit {
                            role: cols[1].clone(),
                            parent: cols[2].clone(),
                            agency: cols[3].clone(),
                        });
                    }
                    _ => {
                        return Err(err(
                            "a line starts with `p` or `g` (or `#` for a comment)".to_string()
                        ))
                    }
                }
            }
        }
        // A write is a compare-and-set against what the writer read: it needs a
        // full `read` of the same field for the same role and purpose.
        for (i, (path, line)) in items.iter().zip(&places) {
            if i.action == "write"
                && !items.iter().any(|r| {
                    r.action == "read"
                        && r.object == i.object
                        && r.role == i.role
                        && r.agency == i.agency
                        && r.purpose == i.purpose
                })
            {
                return Err(PolicyError::Line {
                    path: path.clone(),
                    line: *line,
                    message: format!(
                        "a `write` of `{}` needs a `read` of it for the same role and purpose (the update is checked against what was read)",
                        i.object
                    ),
                });
            }
        }
        // The lines checked the atoms they use (errors with file and line);
        // now every atom, used or not.
        scope::check_atoms(catalog)?;
        // Each mask against the structure of its field and what the same
        // agency is granted beside it for the same purpose.
        masks::check(&items, &places, catalog)?;
        let model = DefaultModel::from_str(model_text)
            .await
            .map_err(|e| PolicyError::Casbin(e.to_string()))?;
        let mut enforcer = Enforcer::new(model, MemoryAdapter::default())
            .await
            .map_err(|e| PolicyError::Casbin(e.to_string()))?;
        enforcer.add_function("condMatch", OperatorFunction::Arg2(cond_match));
        let p_rules: Vec<Vec<String>> = items
            .iter()
            .map(|i| {
                vec![
                    i.role.clone(),
                    i.agency.clone(),
                    i.purpose.clone(),
                    i.object.clone(),
                    i.action.clone(),
                    i.condition.clone(),
                    i.basis.clone(),
                ]
            })
            .collect();
        if !p_rules.is_empty() {
            enforcer
                .add_policies(p_rules)
                .await
                .map_err(|e| PolicyError::Casbin(e.to_string()))?;
        }
        let g_rules: Vec<Vec<String>> = inherits
            .iter()
            .map(|g| vec![g.role.clone(), g.parent.clone(), g.agency.clone()])
            .collect();
        if !g_rules.is_empty() {
            enforcer
                .add_grouping_policies(g_rules)
                .await
                .map_err(|e| PolicyError::Casbin(e.to_string()))?;
        }
        let mut purposes_by_agency: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for i in &items {
            purposes_by_agency
                .entry(i.agency.clone())
                .or_default()
                .insert(i.purpose.clone());
        }
        let named = items
            .iter()
            .map(|i| (i.agency.clone(), i.purpose.clone(), i.object.clone()))
            .collect();
        let confidential: BTreeSet<(String, String)> = items
            .iter()
            .filter(|i| i.object == PURPOSE)
            .map(|i| (i.agency.clone(), i.purpose.clone()))
            .collect();
        Ok(Policies {
            enforcer,
            purposes_by_agency,
            confidential: confidential.into_iter().collect(),
            named,
            items,
            inherits,
            version: hex::encode(&hash.finalize()[..8]),
            catalog: catalog.clone(),
        })
    }

    /// A hash of the model and every list: changes whenever a policy changes.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The `p` lines.
    pub fn items(&self) -> &[Item] {
        &self.items
    }

    /// The purposes an agency's list names.
    pub fn purposes(&self, agency: &str) -> BTreeSet<String> {
        self.items
            .iter()
            .filter(|i| i.agency == agency)
            .map(|i| i.purpose.clone())
            .collect()
    }

    /// Whether `agency`'s list names `purpose` (the per-request check: a map
    /// lookup, not a scan of the lists).
    pub fn names_purpose(&self, agency: &str, purpose: &str) -> bool {
        self.purposes_by_agency
            .get(agency)
            .is_some_and(|p| p.contains(purpose))
    }

    /// Every (agency, role, purpose) the lists grant something for, sorted: the roles
    /// of `p` lines and the roles that inherit them through `g` lines (transitively).
    pub fn mandates(&self) -> BTreeSet<Mandate> {
        let mut out: BTreeSet<Mandate> = self
            .items
            .iter()
            .map(|i| Mandate {
                agency: i.agency.clone(),
                role: i.role.clone(),
                purpose: i.purpose.clone(),
            })
            .collect();
        // Inheritance: a role gets every purpose of its parent in the same agency;
        // repeated until nothing changes (chains of `g` lines).
        loop {
            let inherited: Vec<Mandate> = self
                .inherits
                .iter()
                .flat_map(|g| {
                    out.iter()
                        .filter(|m| m.agency == g.agency && m.role == g.parent)
                        .map(|m| Mandate {
                            agency: m.agency.clone(),
                            role: g.role.clone(),
                            purpose: m.purpose.clone(),
                        })
                        .collect::<Vec<_>>()
                })
                .filter(|m| !out.contains(m))
                .collect();
            if inherited.is_empty() {
                return out;
            }
            out.extend(inherited);
        }
    }

    /// The `p` lines that grant `mandate`: its agency's lines for its purpose, of its
    /// role and every role that role inherits.
    pub fn items_of(&self, mandate: &Mandate) -> Vec<&Item> {
        let subjects = self.subjects(&mandate.agency, std::slice::from_ref(&mandate.role));
        self.items
            .iter()
            .filter(|i| {
                i.agency == mandate.agency
                    && i.purpose == mandate.purpose
                    && subjects.contains(&i.role)
            })
            .collect()
    }

    /// The (agency, purpose) pairs whose reads residents' receipts show
    /// without officer, case or purpose.
    pub fn confidential(&self) -> &[(String, String)] {
        &self.confidential
    }

    /// The `g` lines.
    pub fn inherits(&self) -> &[Inherit] {
        &self.inherits
    }

    /// The catalog the lists were checked against.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// Agencies that have a list.
    pub fn agencies(&self) -> BTreeSet<String> {
        self.items.iter().map(|i| i.agency.clone()).collect()
    }

    /// casbin's verdict on one request, as the source of truth.
    ///
    /// # Errors
    /// If casbin fails to evaluate.
    pub fn enforce(
        &self,
        role: &str,
        agency: &str,
        purpose: &str,
        object: &str,
        action: &str,
        condition: &str,
    ) -> Result<bool, PolicyError> {
        self.enforcer
            .enforce((role, agency, purpose, object, action, condition))
            .map_err(|e| PolicyError::Casbin(e.to_string()))
    }

    /// The roles `roles` stand for in `agency`, inherited ones included.
    fn subjects(&self, agency: &str, roles: &[String]) -> BTreeSet<String> {
        let mut out: BTreeSet<String> = roles.iter().cloned().collect();
        let mut changed = true;
        while changed {
            changed = false;
            for g in &self.inherits {
                if g.agency == agency && out.contains(&g.role) && out.insert(g.parent.clone()) {
                    changed = true;
                }
            }
        }
        out
    }

    /// Whether any of `roles` may do `action` on `object` (with `condition`).
    fn allowed(
        &self,
        key: &PlanKey,
        object: &str,
        action: &str,
        condition: &str,
    ) -> Result<bool, PolicyError> {
        let triple = (key.agency.clone(), key.purpose.clone(), object.to_string());
        if !self.named.contains(&triple) {
            return Ok(false);
        }
        for role in &key.roles {
            if self.enforce(role, &key.agency, &key.purpose, object, action, condition)? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The field access `roles` have to `object`, asked of casbin: full read
    /// first, then each mask. The catalog's share class bounds the answer.
    fn field_access(
        &self,
        key: &PlanKey,
        object: &str,
        class: ShareClass,
        owner: &str,
    ) -> Result<Option<FieldAccess>, PolicyError> {
        if class == ShareClass::NotShared && owner != key.department {
            return Ok(None);
        }
        if self.allowed(key, object, "read", "-")? {
            return Ok(Some(FieldAccess::Read));
        }
        for (name, mask) in MASKS {
            if self.allowed(key, object, "read_masked", name)? {
                return Ok(Some(FieldAccess::Masked(mask)));
            }
        }
        Ok(None)
    }

    /// Compiles the access plan of `key`. A purpose the agency's list does not
    /// name yields a plan that shows nothing.
    ///
    /// # Errors
    /// If casbin fails to evaluate.
    pub fn compile(&self, key: &PlanKey) -> Result<AccessPlan, PolicyError> {
        let subjects = self.subjects(&key.agency, &key.roles);
        let mut types = BTreeMap::new();
        for t in &self.catalog.types {
            let scopes: Vec<Scope> = self
                .items
                .iter()
                .filter(|i| {
                    i.agency == key.agency
                        && i.purpose == key.purpose
                        && i.object == t.name
                        && i.action == "rows"
                        && subjects.contains(&i.role)
                })
                .filter_map(|i| Scope::parse(&i.condition, &t.name).ok())
                .collect();
            let Some(scope) = Scope::any(scopes) else {
                continue;
            };
            let mut access = TypeAccess {
                root: true,
                rows: if scope.is_all() {
                    None
                } else {
                    Some(scope.to_filter(&t.name, &key.context))
                },
                ..TypeAccess::default()
            };
            for f in &t.fields {
                let object = format!("{}.{}", t.name, f.name);
                if let Some(a) = self.field_access(key, &object, f.share.class, &f.share.owner)? {
                    access.fields.insert(f.name.clone(), a);
                    // Written only by its owner (checked at load), over what it reads in full.
                    if a == FieldAccess::Read
                        && department_of(&key.agency) == Some(f.share.owner.as_str())
                        && self.allowed(key, &object, "write", "-")?
                    {
                        access.writes.insert(f.name.clone());
                    }
                }
            }
            // Fields a departmental subgraph serves: granted and masked like the rest.
            for r in &t.remotes {
                let object = format!("{}.{}", t.name, r.name);
                if let Some(a) = self.field_access(key, &object, r.share.class, &r.share.owner)? {
                    access.fields.insert(r.name.clone(), a);
                }
            }
            for r in &t.relations {
                let object = format!("{}.{}", t.name, r.name);
                if self.field_access(key, &object, r.share.class, &r.share.owner)?
                    != Some(FieldAccess::Read)
                {
                    continue;
                }
                let mut props = BTreeMap::new();
                for p in &r.properties {
                    let object = format!("{}.{}.{}", t.name, r.name, p.name);
                    if let Some(a) =
                        self.field_access(key, &object, p.share.class, &p.share.owner)?
                    {
                        props.insert(p.name.clone(), a);
                    }
                }
                access.relations.insert(r.name.clone(), props);
            }
            types.insert(t.name.clone(), access);
        }
        let mut fp = Sha256::new();
        fp.update(self.version.as_bytes());
        for part in [
            &key.agency,
            &key.department,
            &key.purpose,
            &key.context.today,
        ] {
            fp.update((part.len() as u64).to_be_bytes());
            fp.update(part.as_bytes());
        }
        for r in &key.roles {
            fp.update(r.as_bytes());
            fp.update([0]);
        }
        for g in key
            .context
            .jurisdiction
            .grids
            .iter()
            .chain(&key.context.jurisdiction.communities)
            .chain(&key.context.jurisdiction.subdistricts)
        {
            fp.update(g.as_bytes());
            fp.update([0]);
        }
        // Receipts are granted like rows: over the residents the grant's scope selects.
        let receipt_scopes: Vec<Scope> = self
            .items
            .iter()
            .filter(|i| {
                i.agency == key.agency
                    && i.purpose == key.purpose
                    && i.object == RECEIPTS
                    && i.action == "rows"
                    && subjects.contains(&i.role)
            })
            .filter_map(|i| Scope::parse(&i.condition, RECEIPTS_OF).ok())
            .collect();
        let receipt_scope = Scope::any(receipt_scopes);
        let receipts = receipt_scope.is_some();
        let receipts_rows = receipt_scope
            .filter(|s| !s.is_all())
            .map(|s| s.to_filter(RECEIPTS_OF, &key.context));
        Ok(AccessPlan {
            fingerprint: hex::encode(&fp.finalize()[..12]),
            types,
            receipts,
            receipts_rows,
            confidential: if receipts {
                self.confidential.clone()
            } else {
                Vec::new()
            },
        })
    }
}

/// The model text and every `lists/*.csv` of a policies folder, sorted by name.
fn read_dir(dir: &Path) -> Result<(String, Vec<(PathBuf, String)>), PolicyError> {
    let model_path = dir.join("model.conf");
    let model_text = std::fs::read_to_string(&model_path).map_err(|e| PolicyError::Io {
        path: model_path.clone(),
        message: e.to_string(),
    })?;
    let lists = dir.join("lists");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&lists)
        .map_err(|e| PolicyError::Io {
            path: lists.clone(),
            message: e.to_string(),
        })?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "csv"))
        .collect();
    files.sort();
    let mut texts = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).map_err(|e| PolicyError::Io {
            path: f.clone(),
            message: e.to_string(),
        })?;
        texts.push((f, text));
    }
    Ok((model_text, texts))
}

/// The admin API's officer roles. They are not data roles: a list that grants
/// to one (`p`) or lets a role inherit one (`g`) is refused, so that no data
/// credential is ever an officer's because of a line of a list.
pub const OFFICER_ROLES: [&str; 6] = [
    "policy_editor",
    "policy_approver",
    "data_steward",
    "auditor",
    "platform_admin",
    "resident_service",
];

fn not_an_officer_role(role: &str) -> Result<(), String> {
    if OFFICER_ROLES.contains(&role) {
        return Err(format!(
            "`{role}` is an officer role of the admin API, not a data role; a list may not name it"
        ));
    }
    Ok(())
}

/// The department code an agency id names: `D-<CODE>` or `D-<CODE>-<unit>`
/// (`D-GRID_MANAGEMENT-T1` → `GRID_MANAGEMENT`). Compared whole, never as a
/// prefix: `D-PUBLIC_SECURITY_X` is not the public security bureau.
pub fn department_of(agency: &str) -> Option<&str> {
    agency.strip_prefix("D-")?.split('-').next()
}

fn check_name(s: &str) -> Result<(), String> {
    if s.is_empty()
        || !s
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(format!(
            "`{s}` is not a plain name (letters, digits, _ and -)"
        ));
    }
    Ok(())
}

/// Checks one item against the catalog and the vocabulary.
fn check_item(i: &Item, catalog: &Catalog) -> Result<(), String> {
    check_name(&i.role)?;
    not_an_officer_role(&i.role)?;
    check_name(&i.agency)?;
    check_name(&i.purpose)?;
    if i.basis.is_empty() {
        return Err("every item names its legal basis".to_string());
    }
    if i.object == RECEIPTS {
        if i.action != "rows" {
            return Err(format!(
                "`{RECEIPTS}` takes `rows` with a scope over the residents whose receipts may be read"
            ));
        }
        Scope::parse(&i.condition, RECEIPTS_OF)?.check(RECEIPTS_OF, catalog)?;
        return Ok(());
    }
    if i.object == PURPOSE {
        return if i.action == "confidential" && i.condition == "-" {
            Ok(())
        } else {
            Err(format!(
                "`{PURPOSE}` takes `confidential` with condition `-`"
            ))
        };
    }
    let parts: Vec<&str> = i.object.split('.').collect();
    let t = catalog
        .node(parts[0])
        .ok_or_else(|| format!("`{}` is not a type of the model", parts[0]))?;
    let share = match parts.as_slice() {
        [_] => {
            if i.action != "rows" {
                return Err(format!("a type (`{}`) takes the action `rows`", i.object));
            }
            Scope::parse(&i.condition, &t.name)?.check(&t.name, catalog)?;
            return Ok(());
        }
        [_, f] => match t.share_of(f) {
            Some(share) => share.clone(),
            None => return Err(format!("`{}` has no field `{f}`", t.name)),
        },
        [_, r, p] => {
            let rel = t
                .relation(r)
                .ok_or_else(|| format!("`{}` has no relationship `{r}`", t.name))?;
            rel.properties
                .iter()
                .find(|x| x.name == *p)
                .map(|x| x.share.clone())
                .ok_or_else(|| format!("`{}.{r}` has no property `{p}`", t.name))?
        }
        _ => {
            return Err(format!(
                "`{}` is not Type, Type.field or Type.relation.property",
                i.object
            ))
        }
    };
    match i.action.as_str() {
        "read" => {
            if i.condition != "-" {
                return Err("`read` takes the condition `-`".to_string());
            }
        }
        "read_masked" => {
            if let [_, f] = parts.as_slice() {
                if let Some(remote) = t.remote(f).filter(|r| !r.maskable()) {
                    return Err(format!(
                        "a mask applies to one scalar value; `{}` is {}",
                        i.object,
                        match &remote.value {
                            mandate_schema::RemoteValue::Object(v) if remote.list => {
                                format!("a list of {v}")
                            }
                            mandate_schema::RemoteValue::Object(v) => format!("a {v}"),
                            mandate_schema::RemoteValue::Scalar(_) => "a list".to_string(),
                        }
                    ));
                }
            }
            if !MASKS.iter().any(|(n, _)| *n == i.condition) {
                return Err(format!(
                    "unknown mask `{}`; known: {}",
                    i.condition,
                    MASKS.map(|(n, _)| n).join(", ")
                ));
            }
        }
        "write" => {
            if i.condition != "-" {
                return Err("`write` takes the condition `-`".to_string());
            }
            let [_, f] = parts.as_slice() else {
                return Err("`write` applies to a field (`Type.field`)".to_string());
            };
            if t.remote(f).is_some() {
                return Err(format!(
                    "`{}` is kept by subgraph `{}`; it is written in its department's own system",
                    i.object,
                    t.remote(f).map_or("", |r| r.subgraph.as_str())
                ));
            }
            let field = t.field(f).ok_or_else(|| {
                format!(
                    "`write` applies to a field; `{}` is a relationship",
                    i.object
                )
            })?;
            if field.is_id || field.count_of.is_some() {
                return Err(format!(
                    "`{}` cannot be written (an id or a derived count)",
                    i.object
                ));
            }
            if department_of(&i.agency) != Some(share.owner.as_str()) {
                return Err(format!(
                    "`{}` is owned by {} (catalog); only its owner department may write it",
                    i.object, share.owner
                ));
            }
        }
        "rows" => return Err("`rows` applies to a type, not a field".to_string()),
        other => {
            return Err(format!(
                "unknown action `{other}`; use rows, read, read_masked or write"
            ))
        }
    }
    if share.class == ShareClass::NotShared
        && department_of(&i.agency) != Some(share.owner.as_str())
    {
        return Err(format!(
            "`{}` is not shared (catalog); only its owner department {} may read it",
            i.object, share.owner
        ));
    }
    Ok(())
}
