//! Row scopes: which rows of a type a responsibility-list item covers.
//!
//! A scope is a small expression over a fixed vocabulary of named conditions
//! ("atoms") joined by `&` and `|` with parentheses, e.g.
//! `jurisdiction&(school_age|guardian_of_school_age)`. It is parsed, never
//! evaluated as code. Each atom is declared once, in terms of the data model (the
//! fields, relationships and enum values it reads, on which type), and that
//! declaration is checked against the catalog whenever the lists load: for the
//! atoms each list line uses ([`Scope::check`]) and for every atom defined
//! ([`check_atoms`]). Each atom has two readings that must agree, and the
//! differential test checks that they do:
//!
//! - [`Scope::to_filter`]: the IR filter the Cypher compiler pushes into queries,
//!   built from the declaration;
//! - [`Scope::holds`]: a plain evaluation over a row's facts ([`facts_of`]), used by
//!   casbin's `condMatch` when the reference evaluator enforces row by row.

use std::collections::BTreeSet;

use mandate_resolvers::{CompareOp, Filter};
use mandate_schema::{Catalog, Field, ScalarKind};
use serde_json::{json, Value};

use crate::PolicyError;

/// The jurisdiction of an agency: what its Department node SERVES, closed over
/// the grid → community → subdistrict hierarchy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Jurisdiction {
    /// Grid ids.
    pub grids: Vec<String>,
    /// Community ids.
    pub communities: Vec<String>,
    /// Subdistrict ids.
    pub subdistricts: Vec<String>,
}

/// What scopes are evaluated against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ScopeContext {
    /// The agency's jurisdiction.
    pub jurisdiction: Jurisdiction,
    /// Today's date, `YYYY-MM-DD`, for age conditions.
    pub today: String,
}

/// A parsed scope expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// A named condition.
    Atom(String),
    /// Both hold.
    And(Box<Scope>, Box<Scope>),
    /// Either holds.
    Or(Box<Scope>, Box<Scope>),
}

/// The atom every type has: it covers every row.
const ALL: &str = "all";

/// What a scope atom reads, declared in terms of the data model so that it can be
/// checked against the catalog when the lists load ([`check_atoms`]) and turned
/// into a query filter ([`Scope::to_filter`]) from the same description.
#[derive(Debug)]
enum Cond {
    /// Every row.
    All,
    /// A scalar field of the row compared with a value.
    Compare {
        /// The field (a scalar field of the type the condition is read on).
        field: &'static str,
        /// The comparison.
        op: CompareOp,
        /// The value, whose kind must fit the field's.
        value: Const,
    },
    /// Every condition holds.
    Both(&'static [Cond]),
    /// A related node, reached over `relation`, satisfies `then`.
    Via {
        /// The relationship field of the type the condition is read on.
        relation: &'static str,
        /// The type the relationship leads to, which `then` is read on.
        target: &'static str,
        /// The condition on the related node.
        then: &'static Cond,
    },
    /// Another atom of the same type.
    Atom(&'static str),
}

/// A value an atom compares a field with, and so the field kind it needs.
#[derive(Debug)]
enum Const {
    /// A Boolean (field kind `Boolean`).
    Bool(bool),
    /// One enum value (field kind: an enum that has it).
    Enum(&'static str),
    /// Several enum values, for `In` (field kind: an enum that has them all).
    Enums(&'static [&'static str]),
    /// Today's date minus so many years (field kind `Date`).
    YearsAgo(i32),
    /// The ids of the agency's jurisdiction at one level, for `In` (the `ID`
    /// field of the type the level names).
    Jurisdiction(Level),
}

/// A level of the jurisdiction hierarchy, named after its node type.
#[derive(Debug, Clone, Copy)]
enum Level {
    /// [`Jurisdiction::grids`]: ids of `Grid` nodes.
    Grid,
    /// [`Jurisdiction::communities`]: ids of `Community` nodes.
    Community,
    /// [`Jurisdiction::subdistricts`]: ids of `Subdistrict` nodes.
    Subdistrict,
}

impl Level {
    /// The node type whose ids this level lists.
    fn type_name(self) -> &'static str {
        match self {
            Level::Grid => "Grid",
            Level::Community => "Community",
            Level::Subdistrict => "Subdistrict",
        }
    }

    fn ids(self, j: &Jurisdiction) -> &[String] {
        match self {
            Level::Grid => &j.grids,
            Level::Community => &j.communities,
            Level::Subdistrict => &j.subdistricts,
        }
    }
}

/// `field` is `true`.
const fn is_true(field: &'static str) -> Cond {
    Cond::Compare {
        field,
        op: CompareOp::Eq,
        value: Const::Bool(true),
    }
}

/// `field` (a date) is on or before today minus `years`.
const fn born_by(years: i32) -> Cond {
    Cond::Compare {
        field: "birthDate",
        op: CompareOp::Lte,
        value: Const::YearsAgo(years),
    }
}

/// `field` (a date) is after today minus `years`.
const fn born_after(years: i32) -> Cond {
    Cond::Compare {
        field: "birthDate",
        op: CompareOp::Gt,
        value: Const::YearsAgo(years),
    }
}

/// The node's id is one of the jurisdiction's ids at `level`.
const fn id_in(level: Level) -> Cond {
    Cond::Compare {
        field: "id",
        op: CompareOp::In,
        value: Const::Jurisdiction(level),
    }
}

/// Safety grade C or D.
const UNSAFE: Cond = Cond::Compare {
    field: "safetyGrade",
    op: CompareOp::In,
    value: Const::Enums(&["C", "D"]),
};

/// Aged 6 to 17.
const SCHOOL_AGE: Cond = Cond::Both(&[born_after(18), born_by(6)]);

/// The atoms of each type besides [`ALL`], in the order error messages list them,
/// with what each reads.
static ATOMS: &[(&str, &[(&str, Cond)])] = &[
    (
        "Resident",
        &[
            (
                "jurisdiction",
                Cond::Via {
                    relation: "household",
                    target: "Household",
                    then: &Cond::Atom("jurisdiction"),
                },
            ),
            ("low_income", is_true("lowIncome")),
            (
                "low_income_household",
                Cond::Via {
                    relation: "household",
                    target: "Household",
                    then: &Cond::Atom("low_income"),
                },
            ),
            ("elderly_living_alone", is_true("elderlyLivingAlone")),
            ("elderly", born_by(60)),
            (
                "disabled",
                Cond::Compare {
                    field: "disabilityStatus",
                    op: CompareOp::In,
                    value: Const::Enums(&["GRADE_1", "GRADE_2", "GRADE_3", "GRADE_4"]),
                },
            ),
            ("school_age", SCHOOL_AGE),
            (
                "guardian_of_school_age",
                Cond::Both(&[
                    born_by(18),
                    Cond::Via {
                        relation: "household",
                        target: "Household",
                        then: &Cond::Atom("school_age"),
                    },
                ]),
            ),
            ("working_age", Cond::Both(&[born_after(60), born_by(16)])),
            (
                "migrant",
                Cond::Compare {
                    field: "hukouType",
                    op: CompareOp::Eq,
                    value: Const::Enum("MIGRANT"),
                },
            ),
            (
                "unsafe_building",
                Cond::Via {
                    relation: "household",
                    target: "Household",
                    then: &Cond::Atom("unsafe_building"),
                },
            ),
        ],
    ),
    (
        "Household",
        &[
            (
                "jurisdiction",
                Cond::Via {
                    relation: "building",
                    target: "Building",
                    then: &Cond::Atom("jurisdiction"),
                },
            ),
            ("low_income", member(&Cond::Atom("low_income"))),
            (
                "elderly_living_alone",
                member(&Cond::Atom("elderly_living_alone")),
            ),
            ("elderly", member(&Cond::Atom("elderly"))),
            ("disabled", member(&Cond::Atom("disabled"))),
            ("school_age", member(&Cond::Atom("school_age"))),
            ("migrant", member(&Cond::Atom("migrant"))),
            (
                "unsafe_building",
                Cond::Via {
                    relation: "building",
                    target: "Building",
                    then: &Cond::Atom("unsafe"),
                },
            ),
            (
                "old_compound",
                Cond::Via {
                    relation: "building",
                    target: "Building",
                    then: &Cond::Atom("old_compound"),
                },
            ),
        ],
    ),
    (
        "Building",
        &[
            (
                "jurisdiction",
                Cond::Via {
                    relation: "grid",
                    target: "Grid",
                    then: &Cond::Atom("jurisdiction"),
                },
            ),
            ("old_compound", is_true("oldCompound")),
            ("unsafe", UNSAFE),
        ],
    ),
    ("Grid", &[("jurisdiction", id_in(Level::Grid))]),
    ("Community", &[("jurisdiction", id_in(Level::Community))]),
    (
        "Subdistrict",
        &[("jurisdiction", id_in(Level::Subdistrict))],
    ),
];

/// Some member of the household satisfies `then` (read on `Resident`).
const fn member(then: &'static Cond) -> Cond {
    Cond::Via {
        relation: "members",
        target: "Resident",
        then,
    }
}

/// The atoms `type_name` has besides [`ALL`], with what each reads.
fn defined(type_name: &str) -> &'static [(&'static str, Cond)] {
    ATOMS
        .iter()
        .find(|(t, _)| *t == type_name)
        .map_or(&[], |(_, atoms)| *atoms)
}

/// What `atom` reads on rows of `type_name`, if the type has that atom.
fn definition(type_name: &str, atom: &str) -> Option<&'static Cond> {
    if atom == ALL {
        return Some(&Cond::All);
    }
    defined(type_name)
        .iter()
        .find(|(a, _)| *a == atom)
        .map(|(_, c)| c)
}

/// The atoms each type understands (`all` for every type).
pub fn atoms_for(type_name: &str) -> Vec<&'static str> {
    std::iter::once(ALL)
        .chain(defined(type_name).iter().map(|(a, _)| *a))
        .collect()
}

/// How deeply atoms may refer to atoms over relationships: far more than the
/// table needs, and a bound on a cycle.
const MAX_DEPTH: usize = 16;

/// Checks every atom the code defines against the catalog, once per load, so that
/// a model change breaking an atom no list uses yet is caught too.
///
/// # Errors
/// [`PolicyError::Scope`] naming the first atom that does not fit the model.
pub(crate) fn check_atoms(catalog: &Catalog) -> Result<(), PolicyError> {
    for (type_name, atoms) in ATOMS {
        for (atom, cond) in *atoms {
            check_cond(cond, type_name, type_name, catalog, 0).map_err(|message| {
                PolicyError::Scope {
                    type_name: (*type_name).to_string(),
                    atom: (*atom).to_string(),
                    message,
                }
            })?;
        }
    }
    Ok(())
}

/// Checks `cond`, read on rows of `type_name` (reached by `path`), against the
/// catalog: the fields and relationships it names exist, relationships lead to
/// the types it expects, and values fit the fields' kinds.
fn check_cond(
    cond: &Cond,
    type_name: &str,
    path: &str,
    catalog: &Catalog,
    depth: usize,
) -> Result<(), String> {
    if depth > MAX_DEPTH {
        return Err(format!(
            "scopes refer to scopes too deeply at `{path}` (a cycle?)"
        ));
    }
    let t = catalog
        .node(type_name)
        .ok_or_else(|| format!("`{type_name}` (at `{path}`) is not a type of the model"))?;
    match cond {
        Cond::All => Ok(()),
        Cond::Compare { field, op, value } => {
            let f = t.field(field).ok_or_else(|| {
                format!(
                    "reads `{path}.{field}`, but `{type_name}` has no field `{field}` in the model"
                )
            })?;
            check_value(f, *op, value, type_name, catalog)
                .map_err(|m| format!("reads `{path}.{field}`: {m}"))
        }
        Cond::Both(conds) => conds
            .iter()
            .try_for_each(|c| check_cond(c, type_name, path, catalog, depth + 1)),
        Cond::Via {
            relation,
            target,
            then,
        } => {
            let r = t.relation(relation).ok_or_else(|| {
                format!(
                    "follows `{path}.{relation}`, but `{type_name}` has no relationship `{relation}` in the model"
                )
            })?;
            if r.target != *target {
                return Err(format!(
                    "follows `{path}.{relation}` to `{target}`, but it leads to `{}` in the model",
                    r.target
                ));
            }
            check_cond(
                then,
                target,
                &format!("{path}.{relation}"),
                catalog,
                depth + 1,
            )
        }
        Cond::Atom(atom) => {
            let c = definition(type_name, atom).ok_or_else(|| {
                format!("refers to `{atom}`, which is not a scope of {type_name}")
            })?;
            check_cond(c, type_name, path, catalog, depth + 1)
        }
    }
}

/// Whether `value`, compared by `op`, fits field `f` of `type_name`.
fn check_value(
    f: &Field,
    op: CompareOp,
    value: &Const,
    type_name: &str,
    catalog: &Catalog,
) -> Result<(), String> {
    let want_op = |ok: &[CompareOp]| {
        if ok.contains(&op) {
            Ok(())
        } else {
            Err(format!("{value:?} is not compared with {op:?}"))
        }
    };
    let enum_values = || match &f.kind {
        ScalarKind::Enum(e) => catalog
            .enum_type(e)
            .map(|e| (e.name.as_str(), e))
            .ok_or_else(|| format!("its enum `{e}` is not in the model")),
        other => Err(format!("an enum value needs an enum field, not {other:?}")),
    };
    let has = |values: &[&str]| -> Result<(), String> {
        let (name, e) = enum_values()?;
        match values
            .iter()
            .find(|v| !e.values.iter().any(|(x, _)| x == *v))
        {
            Some(v) => Err(format!("`{v}` is not a value of enum `{name}`")),
            None => Ok(()),
        }
    };
    match value {
        Const::Bool(_) => {
            want_op(&[CompareOp::Eq])?;
            if f.kind != ScalarKind::Boolean {
                return Err(format!(
                    "a Boolean value needs a Boolean field, not {:?}",
                    f.kind
                ));
            }
            Ok(())
        }
        Const::Enum(v) => {
            want_op(&[CompareOp::Eq])?;
            has(&[v])
        }
        Const::Enums(vs) => {
            want_op(&[CompareOp::In])?;
            has(vs)
        }
        Const::YearsAgo(_) => {
            want_op(&[CompareOp::Gt, CompareOp::Gte, CompareOp::Lt, CompareOp::Lte])?;
            if f.kind != ScalarKind::Date {
                return Err(format!("a date needs a Date field, not {:?}", f.kind));
            }
            Ok(())
        }
        Const::Jurisdiction(level) => {
            want_op(&[CompareOp::In])?;
            if f.kind != ScalarKind::Id || !f.is_id {
                return Err(format!(
                    "jurisdiction ids need the `@id` field, not {:?}",
                    f.kind
                ));
            }
            if level.type_name() != type_name {
                return Err(format!(
                    "the jurisdiction's {} ids are not ids of `{type_name}`",
                    level.type_name()
                ));
            }
            Ok(())
        }
    }
}

impl Const {
    /// The value as a filter wants it, on `ctx`.
    fn to_json(&self, ctx: &ScopeContext) -> Value {
        match self {
            Const::Bool(b) => json!(b),
            Const::Enum(v) => json!(v),
            Const::Enums(vs) => json!(vs),
            Const::YearsAgo(n) => json!(years_before(&ctx.today, *n)),
            Const::Jurisdiction(level) => json!(level.ids(&ctx.jurisdiction)),
        }
    }
}

impl Cond {
    /// The filter selecting the rows of `type_name` the condition covers.
    fn filter(&self, type_name: &str, ctx: &ScopeContext, depth: usize) -> Filter {
        if depth > MAX_DEPTH {
            // `check_atoms` rules this out when the lists load; cover nothing.
            return Filter::Or(vec![]);
        }
        match self {
            Cond::All => Filter::And(vec![]),
            Cond::Compare { field, op, value } => Filter::Compare {
                field: (*field).to_string(),
                op: *op,
                value: value.to_json(ctx),
            },
            Cond::Both(conds) => Filter::And(
                conds
                    .iter()
                    .map(|c| c.filter(type_name, ctx, depth + 1))
                    .collect(),
            ),
            Cond::Via {
                relation,
                target,
                then,
            } => Filter::Related {
                relation: (*relation).to_string(),
                exists: true,
                filter: Some(Box::new(then.filter(target, ctx, depth + 1))),
            },
            Cond::Atom(atom) => atom_filter(type_name, atom, ctx, depth + 1),
        }
    }
}

/// The filter of one atom; an atom the type does not have covers nothing
/// (`Scope::parse` admits only known atoms).
fn atom_filter(type_name: &str, atom: &str, ctx: &ScopeContext, depth: usize) -> Filter {
    match definition(type_name, atom) {
        Some(cond) => cond.filter(type_name, ctx, depth),
        None => Filter::Or(vec![]),
    }
}

/// Atoms of Household that mean "some member is ...".
const MEMBER_ATOMS: [&str; 6] = [
    "low_income",
    "elderly_living_alone",
    "elderly",
    "disabled",
    "school_age",
    "migrant",
];

impl Scope {
    /// Parses `text` for `type_name`; unknown atoms are errors.
    ///
    /// # Errors
    /// A message naming the problem.
    pub fn parse(text: &str, type_name: &str) -> Result<Scope, String> {
        let tokens = tokenize(text)?;
        let mut p = Parser { tokens, pos: 0 };
        let scope = p.or()?;
        if p.pos != p.tokens.len() {
            return Err(format!(
                "unexpected `{}` in scope `{text}`",
                p.tokens[p.pos]
            ));
        }
        for atom in scope.atoms() {
            if definition(type_name, &atom).is_none() {
                return Err(format!(
                    "`{atom}` is not a scope of {type_name}; known: {}",
                    atoms_for(type_name).join(", ")
                ));
            }
        }
        Ok(scope)
    }

    /// Checks what the scope's atoms read on `type_name` against the catalog:
    /// every field and relationship exists, leads where the atom expects, and
    /// holds the kind of value the atom compares it with.
    ///
    /// # Errors
    /// A message naming the atom and what does not fit the model.
    pub fn check(&self, type_name: &str, catalog: &Catalog) -> Result<(), String> {
        for atom in self.atoms() {
            let cond = definition(type_name, &atom)
                .ok_or_else(|| format!("`{atom}` is not a scope of {type_name}"))?;
            check_cond(cond, type_name, type_name, catalog, 0)
                .map_err(|m| format!("scope `{atom}` of {type_name} {m}"))?;
        }
        Ok(())
    }

    /// Any of several scopes.
    pub fn any(scopes: Vec<Scope>) -> Option<Scope> {
        scopes
            .into_iter()
            .reduce(|a, b| Scope::Or(Box::new(a), Box::new(b)))
    }

    fn atoms(&self) -> Vec<String> {
        match self {
            Scope::Atom(a) => vec![a.clone()],
            Scope::And(a, b) | Scope::Or(a, b) => {
                let mut v = a.atoms();
                v.extend(b.atoms());
                v
            }
        }
    }

    /// Whether the scope covers every row.
    pub fn is_all(&self) -> bool {
        match self {
            Scope::Atom(a) => a == "all",
            Scope::And(a, b) => a.is_all() && b.is_all(),
            Scope::Or(a, b) => a.is_all() || b.is_all(),
        }
    }

    /// Evaluates the scope over a row's facts.
    pub fn holds(&self, facts: &BTreeSet<String>) -> bool {
        match self {
            Scope::Atom(a) => a == "all" || facts.contains(a),
            Scope::And(a, b) => a.holds(facts) && b.holds(facts),
            Scope::Or(a, b) => a.holds(facts) || b.holds(facts),
        }
    }

    /// The filter selecting the rows of `type_name` the scope covers.
    pub fn to_filter(&self, type_name: &str, ctx: &ScopeContext) -> Filter {
        match self {
            Scope::Atom(a) => atom_filter(type_name, a, ctx, 0),
            Scope::And(a, b) => Filter::And(vec![
                a.to_filter(type_name, ctx),
                b.to_filter(type_name, ctx),
            ]),
            Scope::Or(a, b) => Filter::Or(vec![
                a.to_filter(type_name, ctx),
                b.to_filter(type_name, ctx),
            ]),
        }
    }
}

fn tokenize(text: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut word = String::new();
    for c in text.chars() {
        match c {
            'a'..='z' | '_' => word.push(c),
            '&' | '|' | '(' | ')' | ' ' => {
                if !word.is_empty() {
                    out.push(std::mem::take(&mut word));
                }
                if c != ' ' {
                    out.push(c.to_string());
                }
            }
            other => return Err(format!("unexpected character `{other}` in scope `{text}`")),
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    if out.is_empty() {
        return Err("empty scope".to_string());
    }
    if out.len() > MAX_SCOPE_TOKENS {
        // The parser and every walk of a scope recurse once per nesting level,
        // and a chain `a&b&…` nests once per operator: a scope of some thousand
        // terms would overflow the stack of the thread loading the lists.
        return Err(format!(
            "a scope has at most {MAX_SCOPE_TOKENS} names, operators and parentheses; this one has {}",
            out.len()
        ));
    }
    Ok(out)
}

/// The longest scope accepted, in tokens (names, `&`, `|`, parentheses): far
/// above any list's need, far below what would exhaust a thread's stack.
const MAX_SCOPE_TOKENS: usize = 128;

struct Parser {
    tokens: Vec<String>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&str> {
        self.tokens.get(self.pos).map(String::as_str)
    }

    fn or(&mut self) -> Result<Scope, String> {
        let mut left = self.and()?;
        while self.peek() == Some("|") {
            self.pos += 1;
            left = Scope::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Scope, String> {
        let mut left = self.term()?;
        while self.peek() == Some("&") {
            self.pos += 1;
            left = Scope::And(Box::new(left), Box::new(self.term()?));
        }
        Ok(left)
    }

    fn term(&mut self) -> Result<Scope, String> {
        match self.peek() {
            Some("(") => {
                self.pos += 1;
                let inner = self.or()?;
                if self.peek() != Some(")") {
                    return Err("missing `)` in scope".to_string());
                }
                self.pos += 1;
                Ok(inner)
            }
            Some(t) if t.chars().all(|c| c.is_ascii_lowercase() || c == '_') => {
                let atom = t.to_string();
                self.pos += 1;
                Ok(Scope::Atom(atom))
            }
            Some(t) => Err(format!("unexpected `{t}` in scope")),
            None => Err("scope ends too early".to_string()),
        }
    }
}

/// `today` minus `years`, as `YYYY-MM-DD` (29 February becomes 28 February).
pub fn years_before(today: &str, years: i32) -> String {
    let (y, rest) = today.split_at(4);
    let year: i32 = y.parse().unwrap_or(2000) - years;
    let rest = if rest == "-02-29" { "-02-28" } else { rest };
    format!("{year:04}{rest}")
}

/// The facts (atoms that hold) of one row, from its unrestricted data: the
/// reference reading of the atoms, in plain Rust. `row` carries the fields the
/// atoms need (see the reference evaluator in the tests for their shape):
/// for residents `birthDate`, `lowIncome`, `elderlyLivingAlone`, `disabilityStatus`,
/// `hukouType`, `gridId`, `buildingSafetyGrade`, `householdLowIncome` (bool),
/// `householdHasSchoolAge` (bool); for households `gridId`, `buildingSafetyGrade`,
/// `buildingOldCompound` and `members` (an array of resident rows); for buildings
/// `gridId`, `oldCompound`, `safetyGrade`; for grids, communities and subdistricts `id`.
pub fn facts_of(type_name: &str, row: &Value, ctx: &ScopeContext) -> BTreeSet<String> {
    let mut facts = BTreeSet::new();
    let j = &ctx.jurisdiction;
    let s = |k: &str| row.get(k).and_then(Value::as_str).unwrap_or("");
    let b = |k: &str| row.get(k).and_then(Value::as_bool).unwrap_or(false);
    let mut add = |atom: &str, holds: bool| {
        if holds {
            facts.insert(atom.to_string());
        }
    };
    match type_name {
        "Resident" => {
            for atom in resident_facts(row, ctx) {
                add(&atom, true);
            }
        }
        "Household" => {
            add("jurisdiction", j.grids.iter().any(|g| g == s("gridId")));
            add(
                "unsafe_building",
                matches!(s("buildingSafetyGrade"), "C" | "D"),
            );
            add("old_compound", b("buildingOldCompound"));
            let members = row
                .get("members")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for atom in MEMBER_ATOMS {
                let any = members
                    .iter()
                    .any(|m| resident_facts(m, ctx).contains(atom));
                add(atom, any);
            }
        }
        "Building" => {
            add("jurisdiction", j.grids.iter().any(|g| g == s("gridId")));
            add("old_compound", b("oldCompound"));
            add("unsafe", matches!(s("safetyGrade"), "C" | "D"));
        }
        "Grid" => add("jurisdiction", j.grids.iter().any(|g| g == s("id"))),
        "Community" => add("jurisdiction", j.communities.iter().any(|g| g == s("id"))),
        "Subdistrict" => add("jurisdiction", j.subdistricts.iter().any(|g| g == s("id"))),
        _ => {}
    }
    facts
}

fn resident_facts(row: &Value, ctx: &ScopeContext) -> BTreeSet<String> {
    let s = |k: &str| row.get(k).and_then(Value::as_str).unwrap_or("");
    let b = |k: &str| row.get(k).and_then(Value::as_bool).unwrap_or(false);
    let birth = s("birthDate");
    let t = &ctx.today;
    let school_age = birth > years_before(t, 18).as_str() && birth <= years_before(t, 6).as_str();
    let adult = birth <= years_before(t, 18).as_str();
    let mut facts = BTreeSet::new();
    let mut add = |atom: &str, holds: bool| {
        if holds {
            facts.insert(atom.to_string());
        }
    };
    add(
        "jurisdiction",
        ctx.jurisdiction.grids.iter().any(|g| g == s("gridId")),
    );
    add("low_income", b("lowIncome"));
    add("low_income_household", b("householdLowIncome"));
    add("elderly_living_alone", b("elderlyLivingAlone"));
    add(
        "elderly",
        !birth.is_empty() && birth <= years_before(t, 60).as_str(),
    );
    add("disabled", !matches!(s("disabilityStatus"), "NONE" | ""));
    add("school_age", !birth.is_empty() && school_age);
    add(
        "guardian_of_school_age",
        !birth.is_empty() && adult && b("householdHasSchoolAge"),
    );
    add(
        "working_age",
        !birth.is_empty()
            && birth > years_before(t, 60).as_str()
            && birth <= years_before(t, 16).as_str(),
    );
    add("migrant", s("hukouType") == "MIGRANT");
    add(
        "unsafe_building",
        matches!(s("buildingSafetyGrade"), "C" | "D"),
    );
    facts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_evaluates() {
        let s = Scope::parse(
            "jurisdiction&(school_age|guardian_of_school_age)",
            "Resident",
        )
        .unwrap();
        let facts = |xs: &[&str]| xs.iter().map(|x| x.to_string()).collect::<BTreeSet<_>>();
        assert!(s.holds(&facts(&["jurisdiction", "school_age"])));
        assert!(!s.holds(&facts(&["school_age"])));
        assert!(!s.holds(&facts(&["jurisdiction"])));
        assert!(Scope::parse("all", "Grid").unwrap().is_all());
        assert!(Scope::parse("low_income", "Building")
            .unwrap_err()
            .contains("not a scope of Building"));
        assert!(Scope::parse("a|", "Resident").is_err());
        assert!(Scope::parse("(jurisdiction", "Resident").is_err());
        assert!(Scope::parse("x; DROP", "Resident").is_err());
        assert!(Scope::parse("", "Resident").is_err());
    }

    #[test]
    fn long_scopes_are_refused_before_they_are_parsed() {
        let nested = |n: usize| format!("{}jurisdiction{}", "(".repeat(n), ")".repeat(n));
        let chain = |n: usize| vec!["jurisdiction"; n].join("&");
        assert!(Scope::parse(&nested(40), "Resident").is_ok());
        assert!(Scope::parse(&chain(60), "Resident").is_ok());
        // Found by the loader fuzz (tests/fuzz_loaders.rs): these overflowed the
        // stack of the thread loading the lists and aborted the process.
        for text in [nested(100_000), chain(100_000), nested(65)] {
            let err = Scope::parse(&text, "Resident").unwrap_err();
            assert!(err.contains("at most 128"), "{err}");
        }
    }

    #[test]
    fn age_boundaries() {
        assert_eq!(years_before("2026-11-29", 18), "2008-11-29");
        assert_eq!(years_before("2028-02-29", 6), "2022-02-28");
    }

    fn catalog(from: &str, to: &str) -> Catalog {
        let sdl = mandate_schema::HUB_SDL;
        assert!(sdl.contains(from), "the model has `{from}`");
        // A renamed relationship is renamed where the model's directives name it too.
        let renamed = match (from.trim().strip_suffix(':'), to.trim().strip_suffix(':')) {
            (Some(a), Some(b)) => sdl
                .replacen(from, to, 1)
                .replace(&format!("relation: \"{a}\""), &format!("relation: \"{b}\"")),
            _ => sdl.replacen(from, to, 1),
        };
        Catalog::load(&renamed).unwrap()
    }

    #[test]
    fn every_atom_fits_the_hub_model() {
        let hub = mandate_schema::hub_catalog().unwrap();
        check_atoms(&hub).unwrap();
        for (t, atoms) in ATOMS {
            for (a, _) in *atoms {
                Scope::parse(a, t).unwrap().check(t, &hub).unwrap();
            }
        }
    }

    #[test]
    fn model_changes_break_the_atoms_reading_them() {
        let cases = [
            (
                "lowIncome:",
                "lowIncomeFlag:",
                "Resident",
                "low_income",
                "no field `lowIncome`",
            ),
            (
                "  members:",
                "  residents:",
                "Household",
                "low_income",
                "no relationship `members`",
            ),
            (
                "enum HukouType { LOCAL MIGRANT }",
                "enum HukouType { LOCAL NON_LOCAL }",
                "Resident",
                "migrant",
                "`MIGRANT` is not a value of enum `HukouType`",
            ),
            (
                "oldCompound: Boolean!",
                "oldCompound: String!",
                "Building",
                "old_compound",
                "needs a Boolean field",
            ),
            (
                "grid: Grid @relationship",
                "grid: Community @relationship",
                "Household",
                "jurisdiction",
                "leads to `Community`",
            ),
            (
                "birthDate: Date!",
                "birthDate: String!",
                "Resident",
                "elderly",
                "needs a Date field",
            ),
        ];
        for (from, to, t, atom, want) in cases {
            let changed = catalog(from, to);
            let err = Scope::parse(atom, t)
                .unwrap()
                .check(t, &changed)
                .unwrap_err();
            assert!(err.contains(want), "{from} -> {to}: {err}");
            assert!(err.starts_with(&format!("scope `{atom}` of {t} ")), "{err}");
            assert!(check_atoms(&changed).is_err(), "{from} -> {to}");
        }
    }

    #[test]
    fn declarations_are_checked_themselves() {
        let hub = mandate_schema::hub_catalog().unwrap();
        let bad = [
            (
                Cond::Compare {
                    field: "lowIncome",
                    op: CompareOp::In,
                    value: Const::Bool(true),
                },
                "Resident",
                "compared with In",
            ),
            (id_in(Level::Grid), "Community", "not ids of `Community`"),
            (
                Cond::Via {
                    relation: "household",
                    target: "Building",
                    then: &Cond::All,
                },
                "Resident",
                "leads to `Household`",
            ),
            (Cond::Atom("unsafe"), "Resident", "not a scope of Resident"),
            (is_true("lowIncome"), "Nowhere", "not a type of the model"),
        ];
        for (cond, t, want) in bad {
            let err = check_cond(&cond, t, t, &hub, 0).unwrap_err();
            assert!(err.contains(want), "{cond:?}: {err}");
        }
    }
}
