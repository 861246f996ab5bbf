//! Masks are checked when the lists load against the structure the catalog
//! declares (`@segment`) and against every field the same agency is granted
//! beside them for the same purpose: a mask that an answer's other fields give
//! away is refused with the file and line of the mask's item.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use std::path::{Path, PathBuf};

use mandate_policies::{Policies, PolicyError, MIN_CANDIDATES};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

fn model() -> String {
    std::fs::read_to_string(dir().join("model.conf")).unwrap()
}

async fn load(files: &[(&str, &str)]) -> Result<Policies, PolicyError> {
    let catalog = mandate_schema::hub_catalog().unwrap();
    let lists: Vec<(PathBuf, String)> = files
        .iter()
        .map(|(p, t)| (PathBuf::from(p), (*t).to_string()))
        .collect();
    Policies::from_texts(&model(), &lists, &catalog).await
}

/// A list for agency D-HEALTH, purpose `p`, role `r`: residents, then `lines`
/// (`Resident.field, action, condition`), one per line from line 3.
fn list(lines: &[&str]) -> String {
    let mut out = String::from("# test\np, r, D-HEALTH, p, Resident, rows, all, basis\n");
    for l in lines {
        out.push_str(&format!("p, r, D-HEALTH, p, {l}, basis\n"));
    }
    out
}

/// The refusal of `lines`, which must name `lists/x.csv` and `line`.
async fn refused(lines: &[&str], line: usize) -> String {
    let err = load(&[("lists/x.csv", &list(lines))])
        .await
        .expect_err("must be refused");
    match &err {
        PolicyError::Line {
            path,
            line: l,
            message,
        } if path == Path::new("lists/x.csv") && *l == line => message.clone(),
        other => panic!("want lists/x.csv:{line}, got {other}"),
    }
}

#[tokio::test]
async fn keep_ends_beside_a_birth_date_is_refused_with_file_and_line() {
    let msg = refused(
        &[
            "Resident.name, read, -",
            "Resident.idNumber, read_masked, keep_ends",
            "Resident.birthDate, read, -",
        ],
        4,
    )
    .await;
    assert!(
        msg.contains("`Resident.idNumber` masked `keep_ends`"),
        "{msg}"
    );
    assert!(msg.contains("with Resident.birthDate (read)"), "{msg}");
    assert!(
        !msg.contains("Resident.name"),
        "only what gives it away: {msg}"
    );
    assert!(msg.contains("leaves 1 possible value"), "{msg}");
    // The same line, in the error as the hub logs it.
    let err = load(&[(
        "lists/x.csv",
        &list(&[
            "Resident.idNumber, read_masked, keep_ends",
            "Resident.birthDate, read, -",
        ]),
    )])
    .await
    .unwrap_err()
    .to_string();
    assert!(err.starts_with("lists/x.csv:3: "), "{err}");
}

#[tokio::test]
async fn keep_ends_beside_the_birth_year_and_sex_is_refused() {
    let msg = refused(
        &[
            "Resident.sex, read, -",
            "Resident.birthDate, read_masked, year_only",
            "Resident.idNumber, read_masked, keep_ends",
        ],
        5,
    )
    .await;
    assert!(msg.contains("with Resident.birthDate (year_only)"), "{msg}");
    // The mask shows the sex digit itself: the sex granted beside it adds nothing.
    assert!(!msg.contains("Resident.sex"), "{msg}");
    // 12 months × 28 days, one in 11 left by the check character shown.
    assert!(msg.contains("leaves 30 possible value"), "{msg}");
}

#[tokio::test]
async fn masks_that_hide_enough_load() {
    for lines in [
        // The region only, beside birth date and sex: 100 order numbers × 5.
        &[
            "Resident.idNumber, read_masked, keep_start",
            "Resident.birthDate, read, -",
            "Resident.sex, read, -",
        ][..],
        // keep_ends with no birth date beside it.
        &[
            "Resident.idNumber, read_masked, keep_ends",
            "Resident.sex, read, -",
            "Resident.name, read, -",
            "Resident.birthDate, read_masked, redact",
        ],
        // The housing inspector's masks.
        &[
            "Resident.name, read_masked, first_char",
            "Resident.phone, read_masked, phone",
            "Resident.birthDate, read_masked, year_only",
        ],
        // An enum with fewer values than the threshold, wholly hidden.
        &["Resident.disabilityStatus, read_masked, redact"],
    ] {
        load(&[("lists/x.csv", &list(lines))])
            .await
            .unwrap_or_else(|e| panic!("{lines:?}: {e}"));
    }
    assert_eq!(MIN_CANDIDATES, 100);
}

#[tokio::test]
async fn what_a_mask_hides_of_any_field_is_checked_the_same_way() {
    // The ID number's 17th digit gives the sex away, whichever is masked.
    let msg = refused(
        &[
            "Resident.idNumber, read_masked, keep_ends",
            "Resident.sex, read_masked, redact",
        ],
        4,
    )
    .await;
    assert!(msg.contains("`Resident.sex` masked `redact`"), "{msg}");
    assert!(msg.contains("with Resident.idNumber (keep_ends)"), "{msg}");
    // The ID number in full gives the birth date away.
    let msg = refused(
        &[
            "Resident.birthDate, read_masked, year_only",
            "Resident.idNumber, read, -",
        ],
        3,
    )
    .await;
    assert!(msg.contains("with Resident.idNumber (read)"), "{msg}");
    // A mask that hides one digit of eleven.
    let msg = refused(&["Resident.phone, read_masked, keep_ends"], 3).await;
    assert!(
        msg.contains("the mask alone") && msg.contains("leaves 10 possible"),
        "{msg}"
    );
    // A field whose structure the catalog does not declare: what shows may be all of it.
    let msg = refused(&["Resident.ethnicity, read_masked, first_char"], 3).await;
    assert!(msg.contains("the mask alone"), "{msg}");
    // A relationship property masked at one end and read at the other.
    let text = "p, r, D-HEALTH, p, Household, rows, all, basis
p, r, D-HEALTH, p, Household.members.relationToHead, read_masked, redact, basis
p, r, D-HEALTH, p, Resident, rows, all, basis
p, r, D-HEALTH, p, Resident.household.relationToHead, read, -, basis
";
    let err = load(&[("lists/x.csv", text)]).await.unwrap_err();
    assert!(
        err.to_string().starts_with("lists/x.csv:2: ")
            && err
                .to_string()
                .contains("with Resident.household.relationToHead (read)"),
        "{err}"
    );
}

#[tokio::test]
async fn grants_of_other_roles_count_but_not_those_of_other_purposes() {
    // One officer may hold both roles.
    let text = "p, r, D-HEALTH, p, Resident, rows, all, basis
p, r, D-HEALTH, p, Resident.idNumber, read_masked, keep_ends, basis
p, other, D-HEALTH, p, Resident.birthDate, read, -, basis
";
    let err = load(&[("lists/x.csv", text)]).await.unwrap_err();
    assert!(err.to_string().starts_with("lists/x.csv:2: "), "{err}");
    // Another purpose is another answer.
    let text = "p, r, D-HEALTH, p, Resident, rows, all, basis
p, r, D-HEALTH, p, Resident.idNumber, read_masked, keep_ends, basis
p, r, D-HEALTH, q, Resident, rows, all, basis
p, r, D-HEALTH, q, Resident.birthDate, read, -, basis
";
    load(&[("lists/x.csv", text)]).await.expect("loads");
}

/// The checked-in lists, with `edit` applied to the file named `name`.
fn shipped_with(name: &str, edit: impl Fn(&str) -> String) -> Vec<(PathBuf, String)> {
    let mut files: Vec<(PathBuf, String)> = std::fs::read_dir(dir().join("lists"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "csv"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            let text = if p.file_name().unwrap() == name {
                edit(&text)
            } else {
                text
            };
            (p, text)
        })
        .collect();
    files.sort();
    files
}

#[tokio::test]
async fn the_lists_as_shipped_before_this_check_are_refused() {
    let catalog = mandate_schema::hub_catalog().unwrap();
    // The civil affairs list as it was: keep_ends beside birthDate and sex.
    let files = shipped_with("civil-affairs.csv", |t| {
        t.replace(
            "idNumber, read_masked, keep_start",
            "idNumber, read_masked, keep_ends",
        )
    });
    let (civil, text) = files
        .iter()
        .find(|(p, _)| p.ends_with("civil-affairs.csv"))
        .unwrap();
    let line = text
        .lines()
        .position(|l| l.contains("Resident.idNumber, read_masked, keep_ends"))
        .unwrap()
        + 1;
    let err = Policies::from_texts(&model(), &files, &catalog)
        .await
        .expect_err("must be refused");
    assert!(
        matches!(&err, PolicyError::Line { path, line: l, message }
            if path == civil && *l == line
                && message.contains("with Resident.birthDate (read) granted beside it")),
        "{err}"
    );
    // As they are now, every list loads.
    Policies::from_texts(&model(), &shipped_with("", str::to_string), &catalog)
        .await
        .expect("checked-in lists load");
}

#[tokio::test]
async fn on_reload_the_list_whose_mask_is_given_away_is_left_out() {
    let catalog = mandate_schema::hub_catalog().unwrap();
    let root = std::env::temp_dir().join(format!("mandate-masks-{}", std::process::id()));
    let lists = root.join("lists");
    std::fs::create_dir_all(&lists).unwrap();
    std::fs::copy(dir().join("model.conf"), root.join("model.conf")).unwrap();
    for (p, text) in shipped_with("health.csv", |t| {
        t.replace(
            "idNumber, read_masked, keep_start",
            "idNumber, read_masked, keep_ends",
        )
    }) {
        std::fs::write(lists.join(p.file_name().unwrap()), text).unwrap();
    }
    // Alone, a mask whose giveaway sits in another file (same agency and purpose).
    std::fs::write(
        lists.join("zz-split-a.csv"),
        "p, r, D-SPLIT, p, Resident, rows, all, basis\np, r, D-SPLIT, p, Resident.idNumber, read_masked, keep_ends, basis\n",
    )
    .unwrap();
    std::fs::write(
        lists.join("zz-split-b.csv"),
        "p, r, D-SPLIT, p, Resident.birthDate, read, -, basis\n",
    )
    .unwrap();
    let (policies, refused) = Policies::load_failing_closed(&root, &catalog)
        .await
        .expect("the other lists load");
    let refused: Vec<String> = refused.iter().map(ToString::to_string).collect();
    assert_eq!(refused.len(), 2, "{refused:?}");
    assert!(
        refused[0].contains("health.csv:") && refused[0].contains("keep_ends"),
        "{refused:?}"
    );
    assert!(
        refused[1].contains("zz-split-a.csv:2: ") && refused[1].contains("Resident.birthDate"),
        "{refused:?}"
    );
    let agencies = policies.agencies();
    assert!(!agencies.contains("D-HEALTH"), "its grants lapse");
    assert!(agencies.contains("D-SPLIT"), "the other half stays");
    assert!(agencies.contains("D-CIVIL_AFFAIRS") && agencies.contains("D-EDUCATION"));
    assert!(
        !policies
            .items()
            .iter()
            .any(|i| i.object == "Resident.idNumber" && i.agency == "D-SPLIT"),
        "the mask's file is out"
    );
    std::fs::remove_dir_all(&root).unwrap();
}
