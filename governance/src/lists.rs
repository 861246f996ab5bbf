//! The lists of a version and the lines of grants, as casbin texts: what the
//! hub puts in force is a published version's files plus one generated file of
//! the grants active now.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use mandate_policies::Policies;
use mandate_schema::Catalog;

use crate::records::Grant;
use crate::store::ListFile;

/// The name the generated grants file carries in errors and `source`s.
pub const GRANTS_FILE: &str = "grants.csv";

/// The agency a list's text grants to: that of its `p` and `g` lines, if one.
pub fn agency_of(text: &str) -> Option<String> {
    let mut found: Option<String> = None;
    for line in text.lines().map(str::trim) {
        let cols: Vec<&str> = line.split(',').map(str::trim).collect();
        let agency = match cols.first() {
            Some(&"p") => cols.get(2),
            Some(&"g") => cols.get(3),
            _ => None,
        };
        if let Some(a) = agency {
            match &found {
                None => found = Some((*a).to_string()),
                Some(f) if f == a => {}
                Some(_) => return None,
            }
        }
    }
    found
}

/// Lines of `text` naming an agency other than `agency`, as `(line, agency)`.
pub fn foreign_lines(text: &str, agency: &str) -> Vec<(usize, String)> {
    text.lines()
        .enumerate()
        .filter_map(|(i, line)| {
            let cols: Vec<&str> = line.trim().split(',').map(str::trim).collect();
            let named = match cols.first() {
                Some(&"p") => cols.get(2),
                Some(&"g") => cols.get(3),
                _ => None,
            }?;
            (*named != agency).then(|| (i + 1, (*named).to_string()))
        })
        .collect()
}

/// Whether a grant is in force at `now`.
pub fn active(grant: &Grant, now: DateTime<Utc>) -> bool {
    let at = |s: &str| DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc));
    match (at(&grant.starts_at), at(&grant.expires_at)) {
        (Ok(from), Ok(until)) => from <= now && now < until,
        _ => false,
    }
}

/// The `p` lines of a grant. Commas in the basis would split columns, so they
/// are written as full-width commas.
pub fn grant_lines(grant: &Grant) -> String {
    let basis = format!(
        "{} (grant {} until {})",
        grant.basis, grant.id, grant.expires_at
    )
    .replace(',', "，");
    let mut out = format!("# grant {}\n", grant.id);
    let mut types: Vec<&str> = Vec::new();
    for f in &grant.fields {
        let (object, mask) = f
            .split_once(':')
            .map_or((f.as_str(), None), |(o, m)| (o, Some(m)));
        let (action, cond) = mask.map_or(("read", "-"), |m| ("read_masked", m));
        out.push_str(&format!(
            "p, {}, {}, {}, {object}, {action}, {cond}, {basis}\n",
            grant.role, grant.agency, grant.purpose
        ));
        if let Some(t) = object.split('.').next() {
            if !types.contains(&t) {
                types.push(t);
            }
        }
    }
    if grant.scope.trim() != "-" {
        for t in types {
            out.push_str(&format!(
                "p, {}, {}, {}, {t}, rows, {}, {basis}\n",
                grant.role, grant.agency, grant.purpose, grant.scope
            ));
        }
    }
    out
}

/// The texts to load: the version's files, then the grants file (if any grant).
pub fn texts(files: &[ListFile], grants: &[&Grant]) -> Vec<(PathBuf, String)> {
    let mut out: Vec<(PathBuf, String)> = files
        .iter()
        .map(|f| (PathBuf::from(&f.name), f.text.clone()))
        .collect();
    if !grants.is_empty() {
        let text: String = grants.iter().map(|g| grant_lines(g)).collect();
        out.push((PathBuf::from(GRANTS_FILE), text));
    }
    out
}

/// Loads texts strictly: every line must load, together.
///
/// # Errors
/// The loader's message (file, line, reason).
pub async fn load(
    model: &str,
    texts: &[(PathBuf, String)],
    catalog: &Catalog,
) -> Result<Policies, String> {
    Policies::from_texts(model, texts, catalog)
        .await
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::GrantKind;

    #[test]
    fn a_list_names_its_agency() {
        let text = "# x\np, a, D-X, p1, Resident, rows, all, basis\ng, r, a, D-X\n";
        assert_eq!(agency_of(text).as_deref(), Some("D-X"));
        assert_eq!(
            agency_of("p, a, D-X, p, O, read, -, b\np, a, D-Y, p, O, read, -, b"),
            None
        );
        assert_eq!(
            foreign_lines(
                "p, a, D-X, p, O, read, -, b\np, a, D-Y, p, O, read, -, b",
                "D-X"
            ),
            vec![(2, "D-Y".to_string())]
        );
    }

    #[test]
    fn grant_lines_name_fields_masks_and_rows() {
        let g = Grant {
            id: "g1".into(),
            kind: GrantKind::Application,
            agency: "D-HEALTH".into(),
            role: "doctor".into(),
            purpose: "care".into(),
            fields: vec!["Resident.phone:phone".into(), "Resident.name".into()],
            scope: "elderly_living_alone".into(),
            basis: "law, art. 3".into(),
            issued_by: "s".into(),
            starts_at: "2026-01-01T00:00:00Z".into(),
            expires_at: "2026-01-02T00:00:00Z".into(),
            application_id: None,
            incident: None,
            review_due_at: None,
            reviewed_by: None,
            reviewed_at: None,
            review_note: None,
            expiry_recorded: false,
        };
        let text = grant_lines(&g);
        assert!(text.contains("p, doctor, D-HEALTH, care, Resident.phone, read_masked, phone, law， art. 3 (grant g1 until 2026-01-02T00:00:00Z)"), "{text}");
        assert!(text.contains("p, doctor, D-HEALTH, care, Resident.name, read, -,"));
        assert!(text.contains("p, doctor, D-HEALTH, care, Resident, rows, elderly_living_alone,"));
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        assert!(active(&g, at("2026-01-01T12:00:00Z")));
        assert!(!active(&g, at("2026-01-02T00:00:00Z")));
    }
}
