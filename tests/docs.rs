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
    assert_eq!(config.log.otlp_endpoint, "http://127.0.0.1:4317");
}
