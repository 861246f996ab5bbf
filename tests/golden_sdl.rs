//! The generated GraphQL schema is checked in as `tests/golden/api.graphql`, so
//! every schema change shows in review. `UPDATE_GOLDEN=1 cargo test --test
//! golden_sdl` rewrites it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

#[tokio::test]
async fn generated_sdl_matches_the_golden_file() {
    let mut config = mandate::Config::default();
    config.policies.dir = concat!(env!("CARGO_MANIFEST_DIR"), "/policies").into();
    let hub = mandate::App::new(config)
        .await
        .expect("hub builds without Neo4j");
    let sdl = hub.hub.unrestricted_schema().sdl();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/api.graphql");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &sdl).unwrap();
    }
    let golden = std::fs::read_to_string(&path)
        .expect("golden file exists; run with UPDATE_GOLDEN=1 to create it");
    assert!(
        golden == sdl,
        "the generated SDL differs from tests/golden/api.graphql; review and rerun with UPDATE_GOLDEN=1"
    );
    // Internal model metadata never reaches clients.
    for internal in ["@share", "Sensitivity", "ShareClass", "@node", "NOT_SHARED"] {
        assert!(
            !sdl.contains(internal),
            "{internal} leaked into the API schema"
        );
    }
}

/// The federation SDL (`mandate sdl --federation`, `_service { sdl }` on
/// `/subgraph`) is checked in as `tests/golden/federation.graphql`: the union of
/// every mandate, so a change to any list's reach shows in review.
#[tokio::test]
async fn federation_sdl_matches_the_golden_file() {
    let mut config = mandate::Config::default();
    config.policies.dir = concat!(env!("CARGO_MANIFEST_DIR"), "/policies").into();
    let hub = mandate::App::new(config)
        .await
        .expect("hub builds without Neo4j");
    let sdl = hub.hub.federation_sdl().expect("federation SDL");
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/federation.graphql");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &sdl).unwrap();
    }
    let golden = std::fs::read_to_string(&path)
        .expect("golden file exists; run with UPDATE_GOLDEN=1 to create it");
    assert!(
        golden == sdl,
        "the federation SDL differs from tests/golden/federation.graphql; review and rerun with UPDATE_GOLDEN=1"
    );
    assert!(sdl.contains("@link(") && sdl.contains("https://specs.apollo.dev/federation/v2"));
    assert!(sdl.contains("type Resident @key(fields: \"id\")"), "{sdl}");
    // A field one list masks has the type its masked values fit, for everyone.
    assert!(sdl.contains("\tbirthDate: String\n"), "{sdl}");
    // (`@shareable` is among the federation directives the SDL imports.)
    for internal in [
        "@share(",
        "Sensitivity",
        "ShareClass",
        "@node",
        "NOT_SHARED",
    ] {
        assert!(
            !sdl.contains(internal),
            "{internal} leaked into the federation schema"
        );
    }
}
