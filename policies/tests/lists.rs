//! The checked-in responsibility lists load, compile into the plans we expect,
//! and bad lists are refused with the file and line.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use std::path::{Path, PathBuf};

use mandate_policies::{Jurisdiction, PlanKey, Policies, PolicyError, ScopeContext};
use mandate_resolvers::{FieldAccess, Mask};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

async fn load() -> Policies {
    let catalog = mandate_schema::hub_catalog().unwrap();
    Policies::load(&dir(), &catalog)
        .await
        .expect("checked-in lists load")
}

fn key(agency: &str, department: &str, role: &str, purpose: &str) -> PlanKey {
    PlanKey {
        agency: agency.into(),
        department: department.into(),
        roles: vec![role.into()],
        purpose: purpose.into(),
        context: ScopeContext {
            jurisdiction: Jurisdiction {
                grids: vec!["G00001".into(), "G00002".into()],
                communities: vec!["C0001".into()],
                subdistricts: vec!["S01".into()],
            },
            today: "2026-11-29".into(),
        },
    }
}

#[tokio::test]
async fn seven_departments_with_purposes() {
    let p = load().await;
    let agencies = p.agencies();
    for a in [
        "D-CIVIL_AFFAIRS",
        "D-PUBLIC_SECURITY",
        "D-HEALTH",
        "D-EDUCATION",
        "D-HOUSING",
        "D-HUMAN_RESOURCES",
        "D-GRID_MANAGEMENT-S01",
    ] {
        assert!(agencies.contains(a), "{a} has a list");
        assert!(!p.purposes(a).is_empty());
    }
    assert!(
        p.items().iter().all(|i| !i.basis.is_empty()),
        "every item has a legal basis"
    );
    assert_eq!(p.version().len(), 16);
}

#[tokio::test]
async fn plans_follow_the_lists() {
    let p = load().await;
    let ca = p
        .compile(&key(
            "D-CIVIL_AFFAIRS",
            "CIVIL_AFFAIRS",
            "caseworker",
            "subsidy_review",
        ))
        .unwrap();
    let r = &ca.types["Resident"];
    assert_eq!(r.fields["idNumber"], FieldAccess::Masked(Mask::KeepStart));
    assert_eq!(r.fields["lowIncome"], FieldAccess::Read);
    assert!(!r.fields.contains_key("ethnicity"));
    assert!(r.rows.is_some());
    assert!(ca.types["Household"].relations["members"].contains_key("relationToHead"));
    assert!(!ca.types.contains_key("Grid"), "no rows item: invisible");

    let ps = p
        .compile(&key(
            "D-PUBLIC_SECURITY",
            "PUBLIC_SECURITY",
            "officer",
            "household_registration",
        ))
        .unwrap();
    assert_eq!(ps.types["Resident"].fields["idNumber"], FieldAccess::Read);
    assert!(ps.types["Resident"].rows.is_none(), "all residents");
    assert!(!ps.types["Grid"].fields.contains_key("gridWorker"));

    // Role inheritance: a detective acts as an investigator.
    let det = p
        .compile(&key(
            "D-PUBLIC_SECURITY",
            "PUBLIC_SECURITY",
            "detective",
            "case_investigation",
        ))
        .unwrap();
    assert_eq!(det.types["Resident"].fields["idNumber"], FieldAccess::Read);

    // Another purpose, another plan; a purpose not in the list shows nothing.
    let care = p
        .compile(&key(
            "D-CIVIL_AFFAIRS",
            "CIVIL_AFFAIRS",
            "caseworker",
            "elderly_care",
        ))
        .unwrap();
    assert_eq!(care.types["Resident"].fields["phone"], FieldAccess::Read);
    assert_ne!(care.fingerprint, ca.fingerprint);
    let none = p
        .compile(&key(
            "D-CIVIL_AFFAIRS",
            "CIVIL_AFFAIRS",
            "caseworker",
            "curiosity",
        ))
        .unwrap();
    assert!(none.types.is_empty());
    // Another agency's role name gives nothing either.
    let wrong = p
        .compile(&key(
            "D-CIVIL_AFFAIRS",
            "CIVIL_AFFAIRS",
            "officer",
            "subsidy_review",
        ))
        .unwrap();
    assert!(wrong.types.is_empty());

    // The grid centre owns gridWorker (not shared) and reads it.
    let grid = p
        .compile(&key(
            "D-GRID_MANAGEMENT-S01",
            "GRID_MANAGEMENT",
            "grid_worker",
            "grid_inspection",
        ))
        .unwrap();
    assert_eq!(grid.types["Grid"].fields["gridWorker"], FieldAccess::Read);
    // A non-owner granted it by a list would still not get it.
    let as_other = p
        .compile(&key(
            "D-GRID_MANAGEMENT-S01",
            "HOUSING",
            "grid_worker",
            "grid_inspection",
        ))
        .unwrap();
    assert!(!as_other.types["Grid"].fields.contains_key("gridWorker"));
}

#[tokio::test]
async fn plan_snapshots() {
    let p = load().await;
    for (agency, dept, role, purpose) in [
        (
            "D-CIVIL_AFFAIRS",
            "CIVIL_AFFAIRS",
            "caseworker",
            "subsidy_review",
        ),
        (
            "D-EDUCATION",
            "EDUCATION",
            "enrollment_officer",
            "school_enrollment",
        ),
        ("D-HOUSING", "HOUSING", "inspector", "building_safety"),
        (
            "D-GRID_MANAGEMENT-S01",
            "GRID_MANAGEMENT",
            "grid_worker",
            "grid_inspection",
        ),
    ] {
        let mut plan = p.compile(&key(agency, dept, role, purpose)).unwrap();
        plan.fingerprint = "(varies with the lists)".into();
        insta::assert_yaml_snapshot!(format!("{agency}-{purpose}"), plan);
    }
}

async fn load_texts(list: &str) -> String {
    let catalog = mandate_schema::hub_catalog().unwrap();
    let model = std::fs::read_to_string(dir().join("model.conf")).unwrap();
    Policies::from_texts(
        &model,
        &[(PathBuf::from("bad.csv"), list.to_string())],
        &catalog,
    )
    .await
    .expect_err("must be refused")
    .to_string()
}

#[tokio::test]
async fn bad_lists_are_refused_with_file_and_line() {
    let cases = [
        (
            "p, r, D-HOUSING, x, Resident.nope, read, -, basis",
            "no field `nope`",
        ),
        (
            "p, r, D-HOUSING, x, Resident.name, write, -, basis",
            "only its owner department may write it",
        ),
        (
            "p, r, D-HOUSING, x, Resident.name, read_masked, scramble, basis",
            "unknown mask",
        ),
        (
            "p, r, D-HOUSING, x, Resident, rows, everyone, basis",
            "not a scope of Resident",
        ),
        (
            "p, r, D-HOUSING, x, Resident, rows, low_income|(elderly, basis",
            "missing `)`",
        ),
        ("p, r, D-HOUSING, x, Resident.name, read, -", "8 columns"),
        (
            "p, r, D-HOUSING, x, Resident.name, read, -, ",
            "legal basis",
        ),
        (
            "p, r*, D-HOUSING, x, Resident.name, read, -, basis",
            "plain name",
        ),
        (
            "p, r, D-HOUSING, x, Grid.gridWorker, read, -, basis",
            "not shared",
        ),
        // Receipts are granted over residents, by a scope.
        (
            "p, r, D-HOUSING, x, AccessReceipt, read, -, basis",
            "takes `rows` with a scope",
        ),
        (
            "p, r, D-HOUSING, x, AccessReceipt, rows, everyone, basis",
            "not a scope of Resident",
        ),
        (
            "p, r, D-HOUSING, x, Purpose, secret, -, basis",
            "takes `confidential`",
        ),
        // Another agency whose id merely starts like the owner's.
        (
            "p, r, D-GRID_MANAGEMENT_X, x, Grid.gridWorker, read, -, basis",
            "not shared",
        ),
        ("x, r, D-HOUSING", "starts with `p` or `g`"),
        (
            "p, r, D-HOUSING, x, Building, rows, jurisdiction|low_income, basis",
            "`low_income` is not a scope of Building",
        ),
        (
            "p, r, D-HOUSING, x, Grid, rows, unsafe, basis",
            "`unsafe` is not a scope of Grid",
        ),
        // Officer roles are the admin API's, never data roles.
        (
            "p, platform_admin, D-HOUSING, x, Resident.name, read, -, basis",
            "`platform_admin` is an officer role",
        ),
        (
            "p, resident_service, D-HOUSING, x, Resident, rows, all, basis",
            "`resident_service` is an officer role",
        ),
        (
            "g, auditor, clerk, D-HOUSING",
            "`auditor` is an officer role",
        ),
        (
            "g, clerk, policy_editor, D-HOUSING",
            "`policy_editor` is an officer role",
        ),
    ];
    for (line, want) in cases {
        let err = load_texts(&format!("# comment\n\n{line}\n")).await;
        assert!(err.contains(want), "{line}: {err}");
        assert!(err.starts_with("bad.csv:3:"), "{err}");
    }
}

/// The hub model with `from` replaced by `to` once.
fn changed_model(from: &str, to: &str) -> mandate_schema::Catalog {
    let sdl = mandate_schema::HUB_SDL;
    assert!(sdl.contains(from), "the model has `{from}`");
    mandate_schema::Catalog::load(&sdl.replacen(from, to, 1)).expect("changed model loads")
}

async fn load_with(catalog: &mandate_schema::Catalog, list: &str) -> Result<Policies, PolicyError> {
    let model = std::fs::read_to_string(dir().join("model.conf")).unwrap();
    Policies::from_texts(
        &model,
        &[(PathBuf::from("lists/bad.csv"), list.to_string())],
        catalog,
    )
    .await
}

#[tokio::test]
async fn scopes_reading_what_the_model_lacks_are_refused_with_file_and_line() {
    let cases = [
        // A field renamed.
        (
            "lowIncome:",
            "lowIncomeFlag:",
            "Resident, rows, elderly|low_income",
            "scope `low_income` of Resident reads `Resident.lowIncome`",
        ),
        // A field an atom reads over two relationships.
        (
            "lowIncome:",
            "lowIncomeFlag:",
            "Resident, rows, low_income_household",
            "reads `Resident.household.members.lowIncome`",
        ),
        // A relationship renamed.
        (
            "  building: Building @relationship",
            "  home: Building @relationship",
            "Household, rows, unsafe_building",
            "follows `Household.building`",
        ),
        // An enum value gone.
        (
            "enum DisabilityStatus { NONE GRADE_1 GRADE_2 GRADE_3 GRADE_4 }",
            "enum DisabilityStatus { NONE GRADE_1 GRADE_2 GRADE_3 SEVERE }",
            "Household, rows, disabled",
            "`GRADE_4` is not a value of enum `DisabilityStatus`",
        ),
        // A field of another kind.
        (
            "safetyGrade: SafetyGrade!",
            "safetyGrade: String!",
            "Building, rows, jurisdiction&unsafe",
            "an enum value needs an enum field",
        ),
    ];
    for (from, to, line, want) in cases {
        let catalog = changed_model(from, to);
        let list = format!("# comment\np, r, D-HOUSING, x, Grid, rows, all, basis\np, r, D-HOUSING, x, {line}, basis\n");
        let err = load_with(&catalog, &list)
            .await
            .expect_err("must be refused");
        assert!(
            matches!(&err, PolicyError::Line { path, line: 3, message }
                if path == Path::new("lists/bad.csv") && message.contains(want)),
            "{from} -> {to}: {err}"
        );
        assert!(err.to_string().starts_with("lists/bad.csv:3: "), "{err}");
    }
}

#[tokio::test]
async fn atoms_no_list_uses_are_checked_on_every_load() {
    // No line uses `old_compound`, yet the model change breaking it is refused.
    let catalog = changed_model("oldCompound:", "historicCompound:");
    let err = load_with(&catalog, "p, r, D-HOUSING, x, Resident, rows, all, basis\n")
        .await
        .expect_err("must be refused");
    assert!(
        matches!(&err, PolicyError::Scope { atom, .. } if atom == "old_compound"),
        "{err}"
    );
    assert!(err.to_string().contains("`oldCompound`"), "{err}");
    // The same list loads against the model as checked in.
    let hub = mandate_schema::hub_catalog().unwrap();
    load_with(&hub, "p, r, D-HOUSING, x, Resident, rows, all, basis\n")
        .await
        .expect("loads");
}
