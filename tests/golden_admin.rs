//! The admin API's schema (`/admin/graphql`) is checked in as
//! `tests/golden/admin.graphql`, so every change of the officers' API shows in
//! review (the console is built against it). `UPDATE_GOLDEN=1 cargo test --test
//! golden_admin` rewrites it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

#[test]
fn admin_sdl_matches_the_golden_file() {
    let sdl = mandate_governance::api::schema().sdl();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/admin.graphql");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &sdl).unwrap();
    }
    let golden = std::fs::read_to_string(&path)
        .expect("golden file exists; run with UPDATE_GOLDEN=1 to create it");
    assert!(
        golden == sdl,
        "the admin SDL differs from tests/golden/admin.graphql; review and rerun with UPDATE_GOLDEN=1"
    );
    let printed = std::process::Command::new(env!("CARGO_BIN_EXE_mandate"))
        .args(["admin-sdl"])
        .output()
        .unwrap();
    assert!(printed.status.success());
    assert_eq!(String::from_utf8(printed.stdout).unwrap(), sdl);
}
