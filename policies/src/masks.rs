//! The mask check: a mask must leave the reader of an answer enough possible
//! values of what it hides, counting what the fields granted beside it reveal.
//!
//! A mask shows the first and last so many characters of a value ([`shown`]).
//! Whether that hides anything depends on the value's structure and on the rest
//! of the plan: `keep_ends` hides characters 7–14 of an ID number, which are the
//! birth date — so beside `birthDate` read in full it hides nothing, and the
//! check character it shows gives the rest away. The catalog declares the
//! structure of such values with `@segment` (ID number: region, birth date,
//! order number, sex digit, check character; birth date; phone; name) and which
//! field beside a segment carries the same information (`revealedBy`: the ID
//! number's birth date is `birthDate`, the parity of its 17th digit is `sex`).
//!
//! For every `read_masked` item, [`check`] takes what the same agency grants for
//! the same purpose — under any of its roles, since one officer may hold several
//! — on the same node type (or the same relationship, whichever end it is read
//! from): fields read in full are known, masked ones known as far as their mask
//! shows, and what one field reveals of another is passed on both ways until
//! nothing changes. It then counts the values the masked field can still have
//! ([`count`]) and refuses the item, naming its file and line and the fields
//! that give it away, when fewer than [`MIN_CANDIDATES`] remain — or, for a
//! field with fewer possible values to begin with (an enum), fewer than it has.
//! The count errs low: region codes count as known, a date component as known
//! once any of its digits shows, months as 28 days, a value of unknown length
//! as shown in full once a mask keeps its end, and a masked field without
//! declared structure as shown in full unless the mask shows none of it. Row
//! scopes are not counted (the narrowest, `school_age`, spans 12 years).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use mandate_resolvers::Mask;
use mandate_schema::{Catalog, Field, ScalarKind, SegmentKind};

use crate::{Item, PolicyError, MASKS};

/// The fewest values an answer may leave possible for a masked field (or all of
/// a field's values, when it has fewer): below it a list is refused. A reader
/// guessing the hidden value is then right at most once in 100.
///
/// Why not more: a birth date shown as `year_only` leaves 336 values (12 × 28,
/// counted low), and an ID number whose holder's birth date and sex are known
/// leaves 500 (100 order numbers × 5 digits of the sex's parity) whatever its
/// mask shows of the region — both disclosures the lists make on purpose. What
/// the check catches sits far below: `keep_ends` beside a birth date leaves 1,
/// beside its year and the sex 30.
pub const MIN_CANDIDATES: u64 = 100;

/// What a mask shows of a value's text: its first and last so many characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Shown {
    /// Characters kept at the start.
    pub(crate) first: usize,
    /// Characters kept at the end.
    pub(crate) last: usize,
}

/// What `mask` shows; must agree with the Cypher of each mask
/// (`mandate-resolvers`, `masked`).
pub(crate) fn shown(mask: Mask) -> Shown {
    let (first, last) = match mask {
        Mask::KeepEnds => (6, 4),
        Mask::KeepStart => (6, 0),
        Mask::Phone => (3, 4),
        Mask::FirstChar => (1, 0),
        Mask::YearOnly => (4, 0),
        Mask::Redact => (0, 0),
    };
    Shown { first, last }
}

/// How one item grants a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Grant {
    /// `read`: the stored value.
    Full,
    /// `read_masked`.
    Masked(Shown),
}

/// What a reader knows of one value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Known {
    /// All of it.
    whole: bool,
    /// 1-based character positions shown.
    positions: BTreeSet<usize>,
    /// Segments (by index) whose `revealedBy` field is known.
    hinted: BTreeSet<usize>,
}

impl Known {
    fn has(&self, p: usize) -> bool {
        self.whole || self.positions.contains(&p)
    }

    fn has_any(&self, ps: &[usize]) -> bool {
        ps.iter().any(|p| self.has(*p))
    }

    /// Adds `ps`; whether anything was new.
    fn learn(&mut self, ps: &[usize]) -> bool {
        if self.whole {
            return false;
        }
        let mut new = false;
        for p in ps {
            new |= self.positions.insert(*p);
        }
        new
    }

    /// What `grant` shows of `field`.
    fn of(field: &Field, grant: Grant) -> Known {
        let whole = Known {
            whole: true,
            ..Known::default()
        };
        let Grant::Masked(shown) = grant else {
            return whole;
        };
        if shown.first == 0 && shown.last == 0 {
            return Known::default();
        }
        if field.segments.is_empty() {
            // No declared structure: whatever shows may be all there is.
            return whole;
        }
        let mut k = Known {
            positions: (1..=shown.first).collect(),
            ..Known::default()
        };
        if shown.last > 0 {
            match field.fixed_length() {
                Some(n) => k.positions.extend(n.saturating_sub(shown.last) + 1..=n),
                // The end of a value of varying length may be all of it.
                None => return whole,
            }
        }
        k
    }
}

/// The positions of year, month and day in a date segment starting at `from`
/// of `len` characters (`YYYYMMDD` or `YYYY-MM-DD`).
fn date_parts(from: usize, len: usize) -> [Vec<usize>; 3] {
    let gap = usize::from(len == 10);
    let month = from + 4 + gap;
    let day = month + 2 + gap;
    [
        (from..from + 4).collect(),
        (month..month + 2).collect(),
        (day..day + 2).collect(),
    ]
}

/// Counts per date part when unknown, besides the years a segment spans.
const MONTHS: u128 = 12;
/// Days counted per month: the fewest, to err low.
const DAYS: u128 = 28;

/// The fields that can reveal each other: one node type's, or one
/// relationship's properties (the same whichever end they are read from).
struct Group<'c> {
    fields: &'c [Field],
}

/// Values of `field`'s enum, if it is one.
fn enum_size(catalog: &Catalog, field: &Field) -> Option<u128> {
    match &field.kind {
        ScalarKind::Enum(e) => catalog.enum_type(e).map(|e| e.values.len() as u128),
        ScalarKind::Boolean => Some(2),
        _ => None,
    }
}

/// Passes what each field reveals of another (`revealedBy`) on, both ways,
/// until nothing changes.
fn spread(fields: &[Field], known: &mut [Known]) {
    loop {
        let mut changed = false;
        for (i, f) in fields.iter().enumerate() {
            for (s, seg) in f.segments.iter().enumerate() {
                let Some(j) = seg
                    .revealed_by
                    .as_ref()
                    .and_then(|by| fields.iter().position(|o| o.name == *by))
                else {
                    continue;
                };
                match seg.kind {
                    SegmentKind::Date => {
                        let mine = date_parts(seg.from, seg.positions().count());
                        // A Date field reads as YYYY-MM-DD (and a date kept as text
                        // is written so: the catalog checks it).
                        let theirs = date_parts(1, 10);
                        for (m, t) in mine.iter().zip(&theirs) {
                            if known[i].has_any(m) {
                                changed |= known[j].learn(t);
                            }
                            if known[j].has_any(t) {
                                changed |= known[i].learn(m);
                            }
                        }
                    }
                    SegmentKind::Chars => {
                        if known[i].has(seg.from) && !known[j].whole {
                            known[j].whole = true;
                            changed = true;
                        }
                        if known[j].whole {
                            changed |= known[i].hinted.insert(s);
                        }
                    }
                    SegmentKind::Check | SegmentKind::Known => {}
                }
            }
        }
        if !changed {
            return;
        }
    }
}

/// How many values `field` can have given `known` (at least 1; `u128::MAX` for
/// an unstructured value not shown at all).
fn count(catalog: &Catalog, fields: &[Field], field: &Field, known: &Known) -> u128 {
    if known.whole {
        return 1;
    }
    if field.segments.is_empty() {
        return enum_size(catalog, field).unwrap_or(u128::MAX);
    }
    let mut total: u128 = 1;
    let mut check: u128 = 1;
    for (s, seg) in field.segments.iter().enumerate() {
        let values = u128::from(seg.values);
        match seg.kind {
            SegmentKind::Known => {}
            SegmentKind::Chars => {
                let mut n: u128 = 1;
                for p in seg.positions() {
                    if !known.has(p) {
                        n = n.saturating_mul(values);
                    }
                }
                if n > 1 && known.hinted.contains(&s) {
                    let split = seg
                        .revealed_by
                        .as_ref()
                        .and_then(|by| fields.iter().find(|o| o.name == *by))
                        .and_then(|o| enum_size(catalog, o))
                        .unwrap_or(1);
                    n = (n / split.max(1)).max(1);
                }
                total = total.saturating_mul(n);
            }
            SegmentKind::Date => {
                let parts = date_parts(seg.from, seg.positions().count());
                for (part, n) in parts.iter().zip([values, MONTHS, DAYS]) {
                    if !known.has_any(part) {
                        total = total.saturating_mul(n);
                    }
                }
            }
            SegmentKind::Check => {
                if known.has(seg.from) {
                    check = check.saturating_mul(values);
                }
            }
        }
    }
    (total / check).max(1)
}

/// Where each grantable object lands: (group, field).
fn groups(catalog: &Catalog) -> (Vec<Group<'_>>, BTreeMap<String, (usize, usize)>) {
    let mut groups = Vec::new();
    let mut objects = BTreeMap::new();
    let mut edges: BTreeMap<(String, String, String), usize> = BTreeMap::new();
    for t in &catalog.types {
        let g = groups.len();
        groups.push(Group { fields: &t.fields });
        for (i, f) in t.fields.iter().enumerate() {
            objects.insert(format!("{}.{}", t.name, f.name), (g, i));
        }
        for r in &t.relations {
            if r.properties.is_empty() {
                continue;
            }
            let (source, target) = match r.direction {
                mandate_schema::Direction::Out => (t.name.clone(), r.target.clone()),
                mandate_schema::Direction::In => (r.target.clone(), t.name.clone()),
            };
            let g = *edges
                .entry((r.rel_type.clone(), source, target))
                .or_insert_with(|| {
                    groups.push(Group {
                        fields: &r.properties,
                    });
                    groups.len() - 1
                });
            for p in &r.properties {
                if let Some(i) = groups[g].fields.iter().position(|f| f.name == p.name) {
                    objects.insert(format!("{}.{}.{}", t.name, r.name, p.name), (g, i));
                }
            }
        }
    }
    (groups, objects)
}

/// The grant an item makes, if it reads a field.
fn grant(item: &Item) -> Option<Grant> {
    match item.action.as_str() {
        "read" => Some(Grant::Full),
        "read_masked" => MASKS
            .iter()
            .find(|(n, _)| *n == item.condition)
            .map(|(_, m)| Grant::Masked(shown(*m))),
        _ => None,
    }
}

/// Refuses the first `read_masked` item (in list order) whose answers would
/// leave too few values of the field, with its file and line (`places[i]` is
/// where `items[i]` was read).
///
/// # Errors
/// [`PolicyError::Line`] naming the mask's item and the fields that invert it.
pub(crate) fn check(
    items: &[Item],
    places: &[(PathBuf, usize)],
    catalog: &Catalog,
) -> Result<(), PolicyError> {
    let (groups, objects) = groups(catalog);
    // (agency, purpose) → (group, field) → grants, with the item granting each.
    type Grants = BTreeMap<(usize, usize), Vec<(Grant, usize)>>;
    let mut plans: BTreeMap<(&str, &str), Grants> = BTreeMap::new();
    for (n, item) in items.iter().enumerate() {
        let (Some(at), Some(g)) = (objects.get(&item.object), grant(item)) else {
            continue;
        };
        plans
            .entry((&item.agency, &item.purpose))
            .or_default()
            .entry(*at)
            .or_default()
            .push((g, n));
    }
    for (n, item) in items.iter().enumerate() {
        let (Some(&(g, f)), Some(Grant::Masked(mask))) = (objects.get(&item.object), grant(item))
        else {
            continue;
        };
        let Some(grants) = plans.get(&(item.agency.as_str(), item.purpose.as_str())) else {
            continue;
        };
        let group = &groups[g];
        let field = &group.fields[f];
        // The grants beside the mask: every other object of the group (the same
        // property read at the other end of its relationship included). The
        // mask's own object under another role is not: that officer reads the
        // field in full, without the mask.
        let beside: Vec<(usize, Grant, &Item)> = grants
            .iter()
            .filter(|(&(gg, _), _)| gg == g)
            .flat_map(|(&(_, i), list)| {
                list.iter().map(move |(grant, at)| (i, *grant, &items[*at]))
            })
            .filter(|(_, _, it)| it.object != item.object)
            .collect();
        // What a reader knows with every grant beside the mask, or without those
        // on the object `left_out`.
        let left = |left_out: Option<&str>| -> u128 {
            let mut known: Vec<Known> = vec![Known::default(); group.fields.len()];
            known[f] = Known::of(field, Grant::Masked(mask));
            for (i, grant, it) in &beside {
                if Some(it.object.as_str()) == left_out {
                    continue;
                }
                let k = Known::of(&group.fields[*i], *grant);
                let into = &mut known[*i];
                into.whole |= k.whole;
                into.positions.extend(k.positions);
            }
            spread(group.fields, &mut known);
            count(catalog, group.fields, field, &known[f])
        };
        let left_now = left(None);
        let all = count(catalog, group.fields, field, &Known::default());
        let floor = u128::from(MIN_CANDIDATES).min(all);
        if left_now >= floor {
            continue;
        }
        // Each grant that gives the mask away, as `Object (how)`.
        let givers: BTreeSet<String> = beside
            .iter()
            .filter(|(_, _, it)| left(Some(&it.object)) > left_now)
            .map(|(_, _, it)| {
                let how = if it.action == "read" {
                    "read"
                } else {
                    it.condition.as_str()
                };
                format!("{} ({how})", it.object)
            })
            .collect();
        let givers: Vec<String> = givers.into_iter().collect();
        let because = if givers.is_empty() {
            "the mask alone".to_string()
        } else {
            format!("with {} granted beside it", givers.join(", "))
        };
        let (path, line) = places[n].clone();
        return Err(PolicyError::Line {
            path,
            line,
            message: format!(
                "`{}` masked `{}` can be rebuilt by {} for {}: {because}, an answer leaves {left_now} possible value(s) of {all} (at least {floor} must remain); show less of it, or grant less beside it",
                item.object, item.condition, item.agency, item.purpose,
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Catalog {
        mandate_schema::hub_catalog().unwrap()
    }

    /// Values left of Resident.`target` masked `mask` beside `beside`.
    fn left(target: &str, mask: &str, beside: &[(&str, &str)]) -> u128 {
        let mut items = vec![item(target, "read_masked", mask)];
        for (f, how) in beside {
            items.push(match *how {
                "read" => item(f, "read", "-"),
                m => item(f, "read_masked", m),
            });
        }
        let c = catalog();
        let (groups, objects) = groups(&c);
        let (g, f) = objects[&format!("Resident.{target}")];
        let fields = groups[g].fields;
        let mut known = vec![Known::default(); fields.len()];
        for it in &items {
            let (_, i) = objects[&it.object];
            let k = Known::of(&fields[i], grant(it).unwrap());
            known[i].whole |= k.whole;
            known[i].positions.extend(k.positions);
        }
        spread(fields, &mut known);
        count(&c, fields, &fields[f], &known[f])
    }

    fn item(field: &str, action: &str, condition: &str) -> Item {
        Item {
            role: "r".into(),
            agency: "D-HEALTH".into(),
            purpose: "p".into(),
            object: format!("Resident.{field}"),
            action: action.into(),
            condition: condition.into(),
            basis: "b".into(),
            source: String::new(),
        }
    }

    #[test]
    fn counts_what_an_answer_leaves() {
        // keep_ends: the birth date hidden, the check character shown.
        assert_eq!(left("idNumber", "keep_ends", &[]), 100 * 12 * 28 / 11);
        assert_eq!(left("idNumber", "keep_ends", &[("birthDate", "read")]), 1);
        assert_eq!(
            left(
                "idNumber",
                "keep_ends",
                &[("birthDate", "year_only"), ("sex", "read")]
            ),
            12 * 28 / 11
        );
        // The region only: order number and the sex digit's parity remain.
        assert_eq!(
            left(
                "idNumber",
                "keep_start",
                &[("birthDate", "read"), ("sex", "read")]
            ),
            100 * 5
        );
        assert_eq!(left("idNumber", "redact", &[("birthDate", "read")]), 1000);
        // Both ways: the ID number gives away the birth date and the sex.
        assert_eq!(left("birthDate", "year_only", &[]), 12 * 28);
        assert_eq!(left("birthDate", "year_only", &[("idNumber", "read")]), 1);
        assert_eq!(left("sex", "redact", &[("idNumber", "keep_ends")]), 1);
        assert_eq!(left("sex", "redact", &[("idNumber", "keep_start")]), 2);
        assert_eq!(left("phone", "phone", &[]), 10_000);
        assert_eq!(left("phone", "keep_ends", &[]), 10);
        assert_eq!(left("name", "first_char", &[]), 500);
        // A value of varying length: its end may be all of it.
        assert_eq!(left("name", "keep_ends", &[]), 1);
        // No declared structure: shown in full unless nothing shows.
        assert_eq!(left("ethnicity", "first_char", &[]), 1);
        assert_eq!(left("ethnicity", "redact", &[]), u128::MAX);
    }

    #[test]
    fn every_mask_says_what_it_shows() {
        for (name, mask) in MASKS {
            let s = shown(mask);
            assert!(s.first + s.last <= 10, "{name}");
        }
        assert_eq!(shown(Mask::Redact), Shown { first: 0, last: 0 });
    }
}
