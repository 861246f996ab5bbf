//! The reference tables the generator draws from: names, area codes,
//! occupations, phone prefixes, place-name parts, departments and their weights.
//!
//! Each table is a data file under `seed/data/`: UTF-8 text, one record per
//! line, fields separated by tabs, `#` lines are comments (each file opens
//! with a header naming its columns) and blank lines are ignored. The files
//! are embedded with `include_str!` and parsed once, on first use, into
//! [`Tables`]; the strings borrow from the embedded text. A table that does
//! not parse, or is empty, is reported as [`SeedError::Table`].

use std::str::FromStr;
use std::sync::LazyLock;

use crate::SeedError;

/// One embedded data file.
#[derive(Clone, Copy)]
struct Source {
    file: &'static str,
    text: &'static str,
}

macro_rules! source {
    ($file:literal) => {
        Source {
            file: $file,
            text: include_str!(concat!("../data/", $file)),
        }
    };
}

const HOUSEHOLD_SIZES: Source = source!("household_sizes.tsv");
const SURNAMES: Source = source!("surnames.tsv");
const GIVEN_NAMES: Source = source!("given_names.tsv");
const LOCAL_AREAS: Source = source!("local_areas.tsv");
const MIGRANT_AREAS: Source = source!("migrant_areas.tsv");
const MINORITIES: Source = source!("minorities.tsv");
const OCCUPATIONS: Source = source!("occupations.tsv");
const PHONE_PREFIXES: Source = source!("phone_prefixes.tsv");
const SUBDISTRICT_BASES: Source = source!("subdistrict_bases.tsv");
const COMMUNITY_BASES: Source = source!("community_bases.tsv");
const COMMUNITY_SUFFIXES: Source = source!("community_suffixes.tsv");
const ROAD_BASES: Source = source!("road_bases.tsv");
const ROAD_SUFFIXES: Source = source!("road_suffixes.tsv");
const DISTRICT_DEPARTMENTS: Source = source!("district_departments.tsv");

/// In the suffix files, the field that stands for "no suffix" (the bare name).
const NO_SUFFIX: &str = "-";

/// Every reference table, in the shapes the generator uses.
#[derive(Debug)]
pub(crate) struct Tables {
    /// (members, weight per mille); mean ≈ 2.6.
    pub(crate) household_sizes: Vec<(usize, u32)>,
    /// (surname, weight in 0.01 %).
    pub(crate) surnames: Vec<(&'static str, u32)>,
    /// Given names by sex and style.
    pub(crate) given: GivenNames,
    /// (area code, weight): Hefei, weighted towards the generated district.
    pub(crate) local_areas: Vec<(u32, u32)>,
    /// (area code, weight): migrants' home counties in other provinces.
    pub(crate) migrant_areas: Vec<(u32, u32)>,
    /// (ethnic group, weight) of the minorities.
    pub(crate) minorities: Vec<(&'static str, u32)>,
    /// (occupation, male weight, female weight, migrant multiplier in percent).
    pub(crate) occupations: Vec<(&'static str, u32, u32, u32)>,
    /// Mobile number prefixes (three digits).
    pub(crate) phone_prefixes: Vec<&'static str>,
    /// Bare subdistrict names (without 街道).
    pub(crate) subdistrict_bases: Vec<&'static str>,
    /// Bare community names (without 社区).
    pub(crate) community_bases: Vec<&'static str>,
    /// Suffixes making community and subdistrict names unique, round by round
    /// (the first is empty).
    pub(crate) community_suffixes: Vec<&'static str>,
    /// Road names without the kind of road.
    pub(crate) road_bases: Vec<&'static str>,
    /// Kinds of road (路, 东路, ...), round by round.
    pub(crate) road_suffixes: Vec<&'static str>,
    /// (code, name) of the district-level departments.
    pub(crate) district_departments: Vec<(&'static str, &'static str)>,
}

/// Given names of one sex, by style.
#[derive(Debug, Default)]
pub(crate) struct NameStyles {
    /// One-character given names.
    pub(crate) single: Vec<&'static str>,
    /// First characters of two-character names (followed by a `single`).
    pub(crate) first: Vec<&'static str>,
    /// Two-character names typical of those born before 1965.
    pub(crate) old: Vec<&'static str>,
    /// Two-character names typical of younger cohorts.
    pub(crate) young: Vec<&'static str>,
}

/// Given names of both sexes.
#[derive(Debug, Default)]
pub(crate) struct GivenNames {
    pub(crate) male: NameStyles,
    pub(crate) female: NameStyles,
}

/// The tables, parsed on first use.
///
/// # Errors
/// [`SeedError::Table`] if an embedded file does not parse.
pub(crate) fn tables() -> Result<&'static Tables, SeedError> {
    static TABLES: LazyLock<Result<Tables, TableError>> = LazyLock::new(Tables::load);
    match &*TABLES {
        Ok(t) => Ok(t),
        Err(e) => Err(e.clone().into()),
    }
}

/// A parse failure, kept (cloneable) in the static.
#[derive(Debug, Clone)]
struct TableError {
    file: &'static str,
    line: usize,
    reason: String,
}

impl From<TableError> for SeedError {
    fn from(e: TableError) -> Self {
        SeedError::Table {
            file: e.file,
            line: e.line,
            reason: e.reason,
        }
    }
}

/// One data line, split into its fields.
struct Record {
    file: &'static str,
    line: usize,
    fields: Vec<&'static str>,
}

impl Record {
    fn error(&self, reason: String) -> TableError {
        TableError {
            file: self.file,
            line: self.line,
            reason,
        }
    }

    /// Field `i` as text (the field count was checked by [`records`]).
    fn text(&self, i: usize) -> Result<&'static str, TableError> {
        self.fields
            .get(i)
            .copied()
            .ok_or_else(|| self.error(format!("no field {}", i + 1)))
    }

    /// Field `i` as a number.
    fn number<N: FromStr>(&self, i: usize) -> Result<N, TableError> {
        let text = self.text(i)?;
        text.parse()
            .map_err(|_| self.error(format!("field {} is not a number: {text:?}", i + 1)))
    }
}

/// The records of `src`, each with exactly `columns` non-empty fields; an
/// error if there are none.
fn records(src: Source, columns: usize) -> Result<Vec<Record>, TableError> {
    let mut out = Vec::new();
    for (i, line) in src.text.lines().enumerate() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let record = Record {
            file: src.file,
            line: i + 1,
            fields: line.split('\t').collect(),
        };
        if record.fields.len() != columns {
            let found = record.fields.len();
            return Err(record.error(format!("{found} fields, expected {columns}")));
        }
        if record.fields.iter().any(|f| f.trim().is_empty()) {
            return Err(record.error("empty field".to_string()));
        }
        out.push(record);
    }
    if out.is_empty() {
        return Err(TableError {
            file: src.file,
            line: 0,
            reason: "no records".to_string(),
        });
    }
    Ok(out)
}

/// A one-column table of strings.
fn words(src: Source) -> Result<Vec<&'static str>, TableError> {
    records(src, 1)?.iter().map(|r| r.text(0)).collect()
}

/// A one-column table of suffixes, where [`NO_SUFFIX`] is the empty one.
fn suffixes(src: Source) -> Result<Vec<&'static str>, TableError> {
    Ok(words(src)?
        .into_iter()
        .map(|s| if s == NO_SUFFIX { "" } else { s })
        .collect())
}

/// A two-column table of (string, weight).
fn weighted_words(src: Source) -> Result<Vec<(&'static str, u32)>, TableError> {
    records(src, 2)?
        .iter()
        .map(|r| Ok((r.text(0)?, r.number(1)?)))
        .collect()
}

/// A two-column table of (number, weight).
fn weighted_numbers<N: FromStr>(src: Source) -> Result<Vec<(N, u32)>, TableError> {
    records(src, 2)?
        .iter()
        .map(|r| Ok((r.number(0)?, r.number(1)?)))
        .collect()
}

fn given_names(src: Source) -> Result<GivenNames, TableError> {
    let mut given = GivenNames::default();
    for r in records(src, 3)? {
        let styles = match r.text(0)? {
            "MALE" => &mut given.male,
            "FEMALE" => &mut given.female,
            other => return Err(r.error(format!("sex {other:?} is not MALE or FEMALE"))),
        };
        let list = match r.text(1)? {
            "single" => &mut styles.single,
            "first" => &mut styles.first,
            "old" => &mut styles.old,
            "young" => &mut styles.young,
            other => return Err(r.error(format!("unknown style {other:?}"))),
        };
        list.push(r.text(2)?);
    }
    for (sex, styles) in [("MALE", &given.male), ("FEMALE", &given.female)] {
        for (style, list) in [
            ("single", &styles.single),
            ("first", &styles.first),
            ("old", &styles.old),
            ("young", &styles.young),
        ] {
            if list.is_empty() {
                return Err(TableError {
                    file: src.file,
                    line: 0,
                    reason: format!("no {sex} {style} names"),
                });
            }
        }
    }
    Ok(given)
}

impl Tables {
    fn load() -> Result<Self, TableError> {
        Ok(Self {
            household_sizes: weighted_numbers(HOUSEHOLD_SIZES)?,
            surnames: weighted_words(SURNAMES)?,
            given: given_names(GIVEN_NAMES)?,
            local_areas: weighted_numbers(LOCAL_AREAS)?,
            migrant_areas: weighted_numbers(MIGRANT_AREAS)?,
            minorities: weighted_words(MINORITIES)?,
            occupations: records(OCCUPATIONS, 4)?
                .iter()
                .map(|r| Ok((r.text(0)?, r.number(1)?, r.number(2)?, r.number(3)?)))
                .collect::<Result<_, TableError>>()?,
            phone_prefixes: words(PHONE_PREFIXES)?,
            subdistrict_bases: words(SUBDISTRICT_BASES)?,
            community_bases: words(COMMUNITY_BASES)?,
            community_suffixes: suffixes(COMMUNITY_SUFFIXES)?,
            road_bases: words(ROAD_BASES)?,
            road_suffixes: suffixes(ROAD_SUFFIXES)?,
            district_departments: records(DISTRICT_DEPARTMENTS, 2)?
                .iter()
                .map(|r| Ok((r.text(0)?, r.text(1)?)))
                .collect::<Result<_, TableError>>()?,
        })
    }
}

#[cfg(test)]
mod tests;
