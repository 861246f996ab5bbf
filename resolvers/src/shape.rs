//! Checks on a document that run before validation, in time linear in the
//! document's text:
//!
//! - **nesting** (on the text, before parsing): brackets nest at most
//!   [`MAX_NESTING`](crate::limits::MAX_NESTING) deep, so that no recursive
//!   parser or walker runs out of stack;
//! - **expansion**: the number of selections the document stands for once every
//!   fragment spread is expanded, counted with one memoised size per fragment — a
//!   document of a few hundred bytes whose spreads double at each level is refused
//!   here, before anything walks its expansion (async-graphql's recursion-depth check
//!   and its validation rules both do, without memo: seconds to hours of CPU);
//! - **one response key, one field**: in every selection set, after fragments are
//!   merged into it, fields sharing a response key must be the same field with the
//!   same arguments (and, recursively, their sub-selections too). Otherwise the
//!   executor would merge two different fields — at the root, two residents — into
//!   one object: personal data attributed to the wrong person.
//!
//! The second check walks the expansion, so it runs only once the first has bounded it.

use std::collections::HashMap;

use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, Field, FragmentDefinition, Selection, SelectionSet,
};
use async_graphql::{Name, Positioned};

/// Why a document is refused before validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ShapeError {
    /// The expanded document holds more than the limit's fields.
    TooLarge,
    /// Fragments spread each other in a cycle (or name one that is not defined).
    BadFragments(String),
    /// One response key would merge two different fields.
    KeyConflict(String),
}

/// Checks `doc`: its expansion holds at most `max_fields` selections (fields,
/// spreads, inline fragments) and no response key stands for two different fields.
pub(crate) fn check(doc: &ExecutableDocument, max_fields: usize) -> Result<(), ShapeError> {
    let mut sizes = Sizes {
        fragments: &doc.fragments,
        memo: HashMap::new(),
        max: max_fields,
    };
    let mut total = 0usize;
    for (_, op) in doc.operations.iter() {
        total = total.saturating_add(sizes.set(&op.node.selection_set.node, 0)?);
        if total > max_fields {
            return Err(ShapeError::TooLarge);
        }
    }
    let roots: Vec<&SelectionSet> = match &doc.operations {
        DocumentOperations::Single(op) => vec![&op.node.selection_set.node],
        DocumentOperations::Multiple(ops) => {
            // Each operation is answered on its own: check them apart.
            for op in ops.values() {
                merged(&doc.fragments, &[&op.node.selection_set.node])?;
            }
            return Ok(());
        }
    };
    merged(&doc.fragments, &roots)
}

/// The root field occurrences of `doc`'s operations, through fragment spreads
/// and inline fragments (`__typename` aside). Call once [`check`] has bounded
/// the expansion: each spread is walked where it stands.
pub(crate) fn root_fields(doc: &ExecutableDocument) -> usize {
    fn count(
        set: &SelectionSet,
        fragments: &HashMap<Name, Positioned<FragmentDefinition>>,
        depth: usize,
    ) -> usize {
        if depth > crate::limits::MAX_NESTING {
            return 0;
        }
        set.items
            .iter()
            .map(|item| match &item.node {
                Selection::Field(f) => usize::from(f.node.name.node != "__typename"),
                Selection::InlineFragment(i) => {
                    count(&i.node.selection_set.node, fragments, depth + 1)
                }
                Selection::FragmentSpread(s) => {
                    fragments.get(&s.node.fragment_name.node).map_or(0, |d| {
                        count(&d.node.selection_set.node, fragments, depth + 1)
                    })
                }
            })
            .sum()
    }
    doc.operations
        .iter()
        .map(|(_, op)| count(&op.node.selection_set.node, &doc.fragments, 0))
        .max()
        .unwrap_or(0)
}

/// Whether brackets (`{`, `[`, `(`) nest deeper than `max` anywhere in `text`,
/// outside strings and comments: one pass over the bytes, stopping early. Text
/// that does not lex (an unterminated string) is left to the parser to refuse.
pub(crate) fn nests_deeper(text: &str, max: usize) -> bool {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'{' | b'[' | b'(' => {
                depth += 1;
                if depth > max {
                    return true;
                }
            }
            b'}' | b']' | b')' => depth = depth.saturating_sub(1),
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' && bytes[i] != b'\r' {
                    i += 1;
                }
            }
            b'"' if bytes[i..].starts_with(b"\"\"\"") => {
                // A block string: up to the next `"""` not escaped as `\"""`.
                i += 3;
                while i < bytes.len() && !bytes[i..].starts_with(b"\"\"\"") {
                    i += if bytes[i..].starts_with(b"\\\"\"\"") {
                        4
                    } else {
                        1
                    };
                }
                i += 2;
            }
            b'"' => {
                // A string: up to the next unescaped `"` on the same line.
                i += 1;
                while i < bytes.len() && !matches!(bytes[i], b'"' | b'\n' | b'\r') {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            _ => {}
        }
        i += 1;
    }
    false
}

/// Fragment nesting deeper than this is refused (a cycle, or an abuse).
const MAX_FRAGMENT_NESTING: usize = 64;

struct Sizes<'a> {
    fragments: &'a HashMap<Name, Positioned<FragmentDefinition>>,
    /// Expanded size of each fragment; `None` while it is being sized (a cycle).
    memo: HashMap<&'a str, Option<usize>>,
    max: usize,
}

impl<'a> Sizes<'a> {
    fn set(&mut self, set: &'a SelectionSet, depth: usize) -> Result<usize, ShapeError> {
        let mut n = 0usize;
        for item in &set.items {
            // Every selection counts, spreads and inline fragments too: the bound
            // is on the nodes any walk of the expansion visits.
            let inner = match &item.node {
                Selection::Field(f) => self.set(&f.node.selection_set.node, depth)?,
                Selection::InlineFragment(i) => self.set(&i.node.selection_set.node, depth)?,
                Selection::FragmentSpread(s) => self.fragment(&s.node.fragment_name.node, depth)?,
            };
            let add = 1usize.saturating_add(inner);
            n = n.saturating_add(add);
            if n > self.max {
                return Err(ShapeError::TooLarge);
            }
        }
        Ok(n)
    }

    fn fragment(&mut self, name: &'a str, depth: usize) -> Result<usize, ShapeError> {
        match self.memo.get(name) {
            Some(Some(n)) => return Ok(*n),
            Some(None) => {
                return Err(ShapeError::BadFragments(format!(
                    "fragment `{name}` spreads itself"
                )))
            }
            None => {}
        }
        if depth >= MAX_FRAGMENT_NESTING {
            return Err(ShapeError::BadFragments(
                "fragments nest too deeply".to_string(),
            ));
        }
        let Some(def) = self.fragments.get(name) else {
            return Err(ShapeError::BadFragments(format!(
                "unknown fragment `{name}`"
            )));
        };
        self.memo.insert(name, None);
        let n = self.set(&def.node.selection_set.node, depth + 1)?;
        self.memo.insert(name, Some(n));
        Ok(n)
    }
}

/// The fields of `sets` merged into one selection set (through inline fragments
/// and spreads), grouped by response key; checks each group is one field with one
/// set of arguments, then each group's merged sub-selections.
///
/// Fields under different type conditions apply to different objects when the
/// position is a union (`_entities`), where GraphQL lets one key name different
/// fields: such classes are checked apart. The hub's schema has no interfaces, so
/// everywhere else every condition names the parent type itself and all the
/// fields of a key are one class. Every field is visited once.
fn merged(
    fragments: &HashMap<Name, Positioned<FragmentDefinition>>,
    sets: &[&SelectionSet],
) -> Result<(), ShapeError> {
    type Group<'a> = Vec<(Option<&'a str>, &'a Field)>;
    let mut groups: Vec<(&str, Group<'_>)> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut pending: Vec<(&SelectionSet, Option<&str>)> = sets.iter().map(|s| (*s, None)).collect();
    while let Some((set, cond)) = pending.pop() {
        for item in &set.items {
            match &item.node {
                Selection::Field(f) => {
                    let key = f.node.response_key().node.as_str();
                    match index.get(key) {
                        Some(&i) => groups[i].1.push((cond, &f.node)),
                        None => {
                            index.insert(key, groups.len());
                            groups.push((key, vec![(cond, &f.node)]));
                        }
                    }
                }
                Selection::InlineFragment(i) => {
                    let inner = i
                        .node
                        .type_condition
                        .as_ref()
                        .map(|t| t.node.on.node.as_str());
                    pending.push((&i.node.selection_set.node, inner.or(cond)));
                }
                Selection::FragmentSpread(s) => {
                    // Unknown fragments are validation's to report.
                    if let Some(def) = fragments.get(s.node.fragment_name.node.as_str()) {
                        let on = def.node.type_condition.node.on.node.as_str();
                        pending.push((&def.node.selection_set.node, Some(on)));
                    }
                }
            }
        }
    }
    for (key, fields) in &groups {
        let mut conditions: Vec<&str> = fields.iter().filter_map(|(c, _)| *c).collect();
        conditions.sort_unstable();
        conditions.dedup();
        // One class unless two different conditions meet (a union position).
        let classes: Vec<Vec<&Field>> = if conditions.len() <= 1 {
            vec![fields.iter().map(|(_, f)| *f).collect()]
        } else {
            let mut by: Vec<Vec<&Field>> = Vec::new();
            let mut unconditioned = Vec::new();
            for c in &conditions {
                by.push(
                    fields
                        .iter()
                        .filter(|(x, _)| *x == Some(*c))
                        .map(|(_, f)| *f)
                        .collect(),
                );
            }
            unconditioned.extend(fields.iter().filter(|(x, _)| x.is_none()).map(|(_, f)| *f));
            if !unconditioned.is_empty() {
                by.push(unconditioned);
            }
            by
        };
        for class in classes {
            let first = class[0];
            for other in &class[1..] {
                if other.name.node != first.name.node || !same_arguments(first, other) {
                    return Err(ShapeError::KeyConflict(format!(
                        "the response key `{key}` stands for two different fields (`{}` and `{}`); give each its own alias",
                        first.name.node, other.name.node
                    )));
                }
            }
            let subs: Vec<&SelectionSet> = class.iter().map(|f| &f.selection_set.node).collect();
            if subs.iter().any(|s| !s.items.is_empty()) {
                merged(fragments, &subs)?;
            }
        }
    }
    Ok(())
}

fn same_arguments(a: &Field, b: &Field) -> bool {
    let sorted = |f: &Field| {
        let mut args: Vec<_> = f
            .arguments
            .iter()
            .map(|(n, v)| (n.node.as_str().to_string(), v.node.to_string()))
            .collect();
        args.sort();
        args
    };
    sorted(a) == sorted(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_text(query: &str, max: usize) -> Result<(), ShapeError> {
        let doc = crate::parse_document(query).unwrap();
        check(&doc, max)
    }

    /// `levels` fragments, each spreading the next twice: 2^levels fields.
    fn doubling(levels: usize) -> String {
        let mut q = String::from("{ ...F0 }\n");
        for i in 0..levels {
            q.push_str(&format!(
                "fragment F{i} on Query {{ ...F{next} ...F{next} }}\n",
                next = i + 1
            ));
        }
        q.push_str(&format!("fragment F{levels} on Query {{ __typename }}\n"));
        q
    }

    #[test]
    fn nesting_is_measured_on_the_text_outside_strings_and_comments() {
        let nested = |n: usize| format!("{}{}", "{AND: [".repeat(n), "]}".repeat(n));
        let q = |n: usize| format!("{{ residents(where: {}) {{ totalCount }} }}", nested(n));
        // Brackets: the selection set, the arguments, then two per filter level.
        assert!(!nests_deeper(&q(4), 10));
        assert!(nests_deeper(&q(5), 10));
        let started = std::time::Instant::now();
        assert!(nests_deeper(&q(500_000), 64));
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        // Brackets inside strings, block strings and comments do not count.
        let deep = "[".repeat(100);
        for text in [
            format!("{{ resident(id: \"{deep}\") {{ id }} }}"),
            format!("{{ resident(id: \"\\\"{deep}\") {{ id }} }}"),
            format!("{{ resident(id: \"\"\"{deep} \\\"\"\" {deep}\"\"\") {{ id }} }}"),
            format!("# {deep}\n{{ __typename }}"),
        ] {
            assert!(!nests_deeper(&text, 8), "{text}");
        }
        // Unbalanced or unterminated text does not confuse it.
        assert!(!nests_deeper("}}}}{ a }", 2));
        assert!(nests_deeper("{ a(x: \"open\n) { b { c { d } } } }", 3));
        assert!(!nests_deeper("\"\"\"never closed [[[[[", 2));
    }

    #[test]
    fn exponential_fragments_are_refused_in_linear_time() {
        assert_eq!(check_text(&doubling(10), 20_000), Ok(()));
        let started = std::time::Instant::now();
        // 2^60 fields in about 2 KB of text.
        assert_eq!(check_text(&doubling(60), 20_000), Err(ShapeError::TooLarge));
        assert!(started.elapsed() < std::time::Duration::from_millis(100));
    }

    #[test]
    fn fragment_cycles_and_unknown_fragments_stop_the_count() {
        let cycle = "{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }";
        assert!(matches!(
            check_text(cycle, 100),
            Err(ShapeError::BadFragments(_))
        ));
        assert!(matches!(
            check_text("{ ...Nope }", 100),
            Err(ShapeError::BadFragments(_))
        ));
    }

    #[test]
    fn one_response_key_is_one_field() {
        let conflicts = [
            r#"{ a: resident(id: "1") { id } ... on Query { a: resident(id: "2") { name } } }"#,
            r#"{ a: resident(id: "1") { id } a: resident(id: "2") { id } }"#,
            r#"{ r: resident(id: "1") { x: name x: phone } }"#,
            r#"{ r: resident(id: "1") { h: household { id } } ...F }
               fragment F on Query { r: resident(id: "1") { h: building { id } } }"#,
            r#"{ r: resident(id: "1") { household { k: id } } r: resident(id: "1") { household { k: memberCount } } }"#,
            r#"{ _entities(representations: []) { ... on Resident { x: name } ... on Resident { x: phone } } }"#,
        ];
        for q in conflicts {
            assert!(
                matches!(check_text(q, 1000), Err(ShapeError::KeyConflict(_))),
                "{q}"
            );
        }
        let fine = [
            r#"{ a: resident(id: "1") { id } b: resident(id: "2") { id } }"#,
            // A union position: one key, a different field per concrete type.
            r#"{ _entities(representations: []) { ... on Resident { x: name } ... on Building { x: address } } }"#,
            r#"{ resident(id: "1") { id } ... on Query { resident(id: "1") { name } } }"#,
            r#"query Q { a: residents { totalCount } } query P { a: households { totalCount } }"#,
        ];
        for q in fine {
            assert_eq!(check_text(q, 1000), Ok(()), "{q}");
        }
    }
}
