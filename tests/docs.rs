//! The docs hold: the README documents every error code of the registry, with its
//! meaning, and the example configuration loads.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

#[test]
fn readme_lists_every_error_code() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    for code in mandate_resolvers::Code::ALL {
        let row = format!("| `{}` | {} |", code.as_str(), code.meaning());
        assert!(readme.contains(&row), "README.md lacks the row: {row}");
    }
}

/// The example configuration loads (every key known, every value well-formed).
#[test]
fn the_example_configuration_loads() {
    let path = std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/mandate.toml"
    ));
    let config = mandate::Config::load_from(Some(path), Vec::<(String, String)>::new())
        .unwrap_or_else(|e| panic!("examples/mandate.toml: {e}"));
    assert_eq!(config.audit.journal, "/var/lib/mandate/audit-hub-1.jsonl");
    assert_eq!(
        config.auth.jwt.key_agencies["civil-affairs-2026"],
        vec!["D-CIVIL_AFFAIRS".to_string()]
    );
    assert_eq!(config.log.otlp_endpoint, "http://127.0.0.1:4318");
}

fn mandate(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_mandate"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["--config", "config/demo.toml"])
        .args(args)
        // No Neo4j is needed: point it at a port nothing listens on.
        .env("NEO4J_URI", "bolt://127.0.0.1:9")
        .output()
        .unwrap()
}

/// `mandate token` mints only for what the lists name, and says what they do name.
#[test]
fn token_refuses_names_no_list_grants() {
    let ok = mandate(&[
        "token",
        "--agency",
        "D-CIVIL_AFFAIRS",
        "--role",
        "caseworker",
        "--purpose",
        "subsidy_review",
    ]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&ok.stdout)
            .trim()
            .split('.')
            .count(),
        3
    );
    assert!(String::from_utf8_lossy(&ok.stderr).contains("valid 3600 s"));
    let cases: [(&[&str], &str); 4] = [
        (
            &["--agency", "D-NOWHERE", "--role", "caseworker"],
            "no responsibility list names agency `D-NOWHERE`; agencies: D-CIVIL_AFFAIRS",
        ),
        (
            &["--agency", "D-CIVIL_AFFAIRS", "--role", "inspector"],
            "D-CIVIL_AFFAIRS's list names no role `inspector`; its roles: caseworker",
        ),
        (
            &[
                "--agency",
                "D-CIVIL_AFFAIRS",
                "--role",
                "caseworker",
                "--purpose",
                "case_investigation",
            ],
            "grants roles caseworker nothing for purpose `case_investigation`; their purposes: elderly_care, subsidy_review",
        ),
        (
            &[
                "--agency",
                "D-CIVIL_AFFAIRS",
                "--role",
                "caseworker",
                "--ttl",
                "864000",
            ],
            "--ttl",
        ),
    ];
    for (args, says) in cases {
        let out = mandate(&[&["token"][..], args].concat());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} minted a token");
        assert!(out.stdout.is_empty(), "{args:?}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
}

/// `mandate sdl --agency A --role R --purpose P` prints that agency's schema, for
/// code generation, with no Neo4j; a mandate that grants nothing is refused.
#[test]
fn sdl_prints_an_agency_schema() {
    let out = mandate(&[
        "sdl",
        "--agency",
        "D-HOUSING",
        "--role",
        "inspector",
        "--purpose",
        "building_safety",
    ]);
    let sdl = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(sdl.contains("type Building"), "{sdl}");
    assert!(sdl.contains("safetyGrade"), "{sdl}");
    // Housing reads no ID numbers and no households' numbers.
    assert!(!sdl.contains("idNumber"), "{sdl}");
    assert!(!sdl.contains("householdNumber"), "{sdl}");
    let refused = mandate(&[
        "sdl",
        "--agency",
        "D-HOUSING",
        "--role",
        "inspector",
        "--purpose",
        "subsidy_review",
    ]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("nothing for purpose"));
}

/// `mandate sdl --federation` prints the federation SDL a router composes (the
/// checked-in `tests/golden/federation.graphql`), with no Neo4j.
#[test]
fn sdl_prints_the_federation_schema() {
    let out = mandate(&["sdl", "--federation"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sdl = String::from_utf8_lossy(&out.stdout);
    let golden = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/golden/federation.graphql"
    ))
    .unwrap();
    assert_eq!(sdl.trim_end(), golden.trim_end());
    assert!(sdl.contains("@key(fields: \"id\")"), "{sdl}");
}
