//! The README documents every error code of the registry, with its meaning.

#[test]
fn readme_lists_every_error_code() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    for code in mandate_resolvers::Code::ALL {
        let row = format!("| `{}` | {} |", code.as_str(), code.meaning());
        assert!(readme.contains(&row), "README.md lacks the row: {row}");
    }
}
