//! Row scopes: which rows of a type a responsibility-list item covers.
//!
//! A scope is a small expression over a fixed vocabulary of named conditions
//! ("atoms") joined by `&` and `|` with parentheses, e.g.
//! `jurisdiction&(school_age|guardian_of_school_age)`. It is parsed, never
//! evaluated as code. Each atom has two readings that must agree, and the
//! differential test checks that they do:
//!
//! - [`Scope::to_filter`]: the IR filter the Cypher compiler pushes into queries;
//! - [`Scope::holds`]: a plain evaluation over a row's facts ([`facts_of`]), used by
//!   casbin's `condMatch` when the reference evaluator enforces row by row.

use std::collections::BTreeSet;

use mandate_resolvers::ir::{CompareOp, Filter};
use serde_json::{json, Value};

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

/// The atoms each type understands.
pub fn atoms_for(type_name: &str) -> &'static [&'static str] {
    match type_name {
        "Resident" => &[
            "all",
            "jurisdiction",
            "low_income",
            "low_income_household",
            "elderly_living_alone",
            "elderly",
            "disabled",
            "school_age",
            "guardian_of_school_age",
            "working_age",
            "migrant",
            "unsafe_building",
        ],
        "Household" => &[
            "all",
            "jurisdiction",
            "low_income",
            "elderly_living_alone",
            "elderly",
            "disabled",
            "school_age",
            "migrant",
            "unsafe_building",
            "old_compound",
        ],
        "Building" => &["all", "jurisdiction", "old_compound", "unsafe"],
        "Grid" | "Community" | "Subdistrict" => &["all", "jurisdiction"],
        _ => &["all"],
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
            if !atoms_for(type_name).contains(&atom.as_str()) {
                return Err(format!(
                    "`{atom}` is not a scope of {type_name}; known: {}",
                    atoms_for(type_name).join(", ")
                ));
            }
        }
        Ok(scope)
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
            Scope::Atom(a) => atom_filter(type_name, a, ctx),
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
    Ok(out)
}

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

fn cmp(field: &str, op: CompareOp, value: Value) -> Filter {
    Filter::Compare {
        field: field.to_string(),
        op,
        value,
    }
}

fn related(relation: &str, filter: Filter) -> Filter {
    Filter::Related {
        relation: relation.to_string(),
        exists: true,
        filter: Some(Box::new(filter)),
    }
}

/// `today` minus `years`, as `YYYY-MM-DD` (29 February becomes 28 February).
pub fn years_before(today: &str, years: i32) -> String {
    let (y, rest) = today.split_at(4);
    let year: i32 = y.parse().unwrap_or(2000) - years;
    let rest = if rest == "-02-29" { "-02-28" } else { rest };
    format!("{year:04}{rest}")
}

fn resident_age_filter(atom: &str, ctx: &ScopeContext) -> Option<Filter> {
    let t = &ctx.today;
    Some(match atom {
        "elderly" => cmp("birthDate", CompareOp::Lte, json!(years_before(t, 60))),
        "school_age" => Filter::And(vec![
            cmp("birthDate", CompareOp::Gt, json!(years_before(t, 18))),
            cmp("birthDate", CompareOp::Lte, json!(years_before(t, 6))),
        ]),
        "working_age" => Filter::And(vec![
            cmp("birthDate", CompareOp::Gt, json!(years_before(t, 60))),
            cmp("birthDate", CompareOp::Lte, json!(years_before(t, 16))),
        ]),
        _ => return None,
    })
}

fn resident_atom(atom: &str, ctx: &ScopeContext) -> Filter {
    if let Some(f) = resident_age_filter(atom, ctx) {
        return f;
    }
    match atom {
        "jurisdiction" => related(
            "household",
            related("building", related("grid", id_in(&ctx.jurisdiction.grids))),
        ),
        "low_income" => cmp("lowIncome", CompareOp::Eq, json!(true)),
        "low_income_household" => related(
            "household",
            related("members", cmp("lowIncome", CompareOp::Eq, json!(true))),
        ),
        "elderly_living_alone" => cmp("elderlyLivingAlone", CompareOp::Eq, json!(true)),
        "disabled" => cmp(
            "disabilityStatus",
            CompareOp::In,
            json!(["GRADE_1", "GRADE_2", "GRADE_3", "GRADE_4"]),
        ),
        "guardian_of_school_age" => Filter::And(vec![
            cmp(
                "birthDate",
                CompareOp::Lte,
                json!(years_before(&ctx.today, 18)),
            ),
            related(
                "household",
                related("members", resident_atom("school_age", ctx)),
            ),
        ]),
        "migrant" => cmp("hukouType", CompareOp::Eq, json!("MIGRANT")),
        "unsafe_building" => related("household", related("building", unsafe_grade())),
        _ => Filter::And(vec![]),
    }
}

fn unsafe_grade() -> Filter {
    cmp("safetyGrade", CompareOp::In, json!(["C", "D"]))
}

fn id_in(ids: &[String]) -> Filter {
    cmp("id", CompareOp::In, json!(ids))
}

fn atom_filter(type_name: &str, atom: &str, ctx: &ScopeContext) -> Filter {
    if atom == "all" {
        return Filter::And(vec![]);
    }
    let j = &ctx.jurisdiction;
    match (type_name, atom) {
        ("Resident", a) => resident_atom(a, ctx),
        ("Household", "jurisdiction") => related("building", related("grid", id_in(&j.grids))),
        ("Household", "unsafe_building") => related("building", unsafe_grade()),
        ("Household", "old_compound") => {
            related("building", cmp("oldCompound", CompareOp::Eq, json!(true)))
        }
        ("Household", a) if MEMBER_ATOMS.contains(&a) => related("members", resident_atom(a, ctx)),
        ("Building", "jurisdiction") => related("grid", id_in(&j.grids)),
        ("Building", "old_compound") => cmp("oldCompound", CompareOp::Eq, json!(true)),
        ("Building", "unsafe") => unsafe_grade(),
        ("Grid", "jurisdiction") => id_in(&j.grids),
        ("Community", "jurisdiction") => id_in(&j.communities),
        ("Subdistrict", "jurisdiction") => id_in(&j.subdistricts),
        // `Scope::parse` admits only known atoms; anything else covers nothing.
        _ => Filter::Or(vec![]),
    }
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
    fn age_boundaries() {
        assert_eq!(years_before("2026-11-29", 18), "2008-11-29");
        assert_eq!(years_before("2028-02-29", 6), "2022-02-28");
    }
}
