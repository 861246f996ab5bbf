//! GraphiQL for agencies, over HTTP against the real Neo4j: each agency's schema
//! says which fields arrive masked and how; GraphiQL's schema fetch (the full
//! introspection query) is answered; the development-mode picker's endpoints
//! exist only with HS256 demo tokens on, mint short-lived tokens only for an
//! (agency, role) the lists name, and those tokens read through the same plan.
//! The page itself is driven in a real browser by `tests/browser/check`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

mod common;

use std::path::PathBuf;
use std::sync::OnceLock;

use common::TestHub;
use serde_json::{json, Value};

const JWT_SECRET: &str = "test-only-hs256-secret-at-least-32-bytes!";

/// (agency, role, purpose) of the keys the tests use.
const CA: (&str, &str, &str) = ("D-CIVIL_AFFAIRS", "caseworker", "subsidy_review");
const PS: (&str, &str, &str) = ("D-PUBLIC_SECURITY", "officer", "household_registration");

fn key_of(agency: &str, role: &str) -> String {
    format!("mk_graphiql_{agency}_{role}")
}

fn keys_file() -> &'static PathBuf {
    static FILE: OnceLock<PathBuf> = OnceLock::new();
    FILE.get_or_init(|| {
        let root = std::env::temp_dir().join(format!("mandate-graphiql-{}", std::process::id()));
        std::fs::create_dir_all(&root).unwrap();
        let entries: Vec<_> = [CA, PS]
            .iter()
            .map(|(agency, role, _)| (*agency, vec![*role], key_of(agency, role)))
            .collect();
        common::keys_file(&root, "graphiql", &entries)
    })
}

/// A hub with API keys; in development mode (HS256 demo tokens on) if `dev`.
async fn start(dev: bool) -> TestHub {
    let mut config = common::test_config();
    config.auth.api_keys_file = keys_file().display().to_string();
    if dev {
        config.auth.jwt.hs256_secret = JWT_SECRET.into();
    }
    TestHub::start_with(config).await
}

/// POSTs `query` with `headers`; the status and the JSON body.
async fn post(hub: &TestHub, headers: &[(&str, String)], query: &str) -> (u16, Value) {
    let mut req = hub.client.post(hub.url("/graphql"));
    for (name, value) in headers {
        req = req.header(*name, value);
    }
    let resp = req.json(&json!({ "query": query })).send().await.unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

fn as_key((agency, role, purpose): (&str, &str, &str)) -> Vec<(&'static str, String)> {
    vec![
        ("x-api-key", key_of(agency, role)),
        ("x-mandate-purpose", purpose.to_string()),
        ("x-mandate-case", "CASE-GRAPHIQL-1".to_string()),
    ]
}

/// The descriptions of `ty`'s fields in the schema the caller sees.
async fn descriptions(
    hub: &TestHub,
    headers: &[(&str, String)],
    ty: &str,
) -> Vec<(String, String)> {
    let q = format!(r#"{{ __type(name: "{ty}") {{ fields {{ name description }} }} }}"#);
    let (status, body) = post(hub, headers, &q).await;
    assert_eq!(status, 200, "{body:#}");
    body["data"]["__type"]["fields"]
        .as_array()
        .unwrap_or_else(|| panic!("{ty} is visible: {body:#}"))
        .iter()
        .map(|f| {
            (
                f["name"].as_str().unwrap().to_string(),
                f["description"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn description_of<'a>(fields: &'a [(String, String)], name: &str) -> &'a str {
    &fields
        .iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("{name} in {fields:?}"))
        .1
}

#[tokio::test]
async fn masked_fields_say_what_their_mask_shows() {
    let hub = start(false).await;
    let ca = descriptions(&hub, &as_key(CA), "Resident").await;
    let id = description_of(&ca, "idNumber");
    assert!(
        id.contains("18 digits"),
        "the catalog's description stays: {id}"
    );
    assert!(
        id.contains("Masked for your mandate: keep_start — only the first 6 characters are shown."),
        "{id}"
    );
    assert!(id.contains("Not usable in `where` or `orderBy`."), "{id}");
    let phone = description_of(&ca, "phone");
    assert!(
        phone.contains(
            "Masked for your mandate: phone — only the first 3 and the last 4 characters are shown."
        ),
        "{phone}"
    );
    assert!(
        !description_of(&ca, "name").contains("Masked"),
        "a field read in full says nothing of masks"
    );
    // The answer matches what the docs say.
    let (_, body) = post(
        &hub,
        &as_key(CA),
        "{ residents(first: 1) { edges { node { idNumber } } } }",
    )
    .await;
    let shown = body["data"]["residents"]["edges"][0]["node"]["idNumber"]
        .as_str()
        .unwrap_or_else(|| panic!("{body:#}"));
    assert_eq!(&shown[6..], "************", "{shown}");
    // Public security reads ID numbers in full: no mask to speak of.
    let ps = descriptions(&hub, &as_key(PS), "Resident").await;
    let id = description_of(&ps, "idNumber");
    assert!(id.contains("18 digits") && !id.contains("Masked"), "{id}");
}

/// graphql-js's `getIntrospectionQuery()`: what GraphiQL sends for the schema.
const INTROSPECTION: &str = r#"
query IntrospectionQuery {
  __schema {
    queryType { name }
    mutationType { name }
    subscriptionType { name }
    types { ...FullType }
    directives { name description locations args { ...InputValue } }
  }
}
fragment FullType on __Type {
  kind name description
  fields(includeDeprecated: true) {
    name description args { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason
  }
  inputFields { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
fragment TypeRef on __Type {
  kind name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name
    ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } }
}
"#;

#[tokio::test]
async fn graphiql_fetches_an_agencys_schema_and_introspection_cannot_cycle() {
    let hub = start(false).await;
    // Refused as costing 5,000,000 before introspection was counted a unit a field.
    let (status, body) = post(&hub, &as_key(CA), INTROSPECTION).await;
    assert_eq!(status, 200, "{body:#}");
    assert!(body.get("errors").is_none(), "{body:#}");
    let types = body["data"]["__schema"]["types"].as_array().unwrap();
    assert!(types.iter().any(|t| t["name"] == "Resident"), "{body:#}");
    // Nesting the type lists, the answer would grow with the schema's size to
    // the fourth power: refused as graphql-js refuses it.
    let cycle = "{ __schema { types { fields { type { fields { type { fields { type { fields { name } } } } } } } } } }";
    let (_, body) = post(&hub, &as_key(CA), cycle).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "QUERY_TOO_COMPLEX");
    assert_eq!(
        body["errors"][0]["extensions"]["limit"],
        "introspection_lists"
    );
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("introspection nests"),
        "{body:#}"
    );
    // Three nested lists pass.
    let three = "{ __type(name: \"Resident\") { fields { type { fields { type { fields { name } } } } } } }";
    let (status, body) = post(&hub, &as_key(CA), three).await;
    assert_eq!(status, 200, "{body:#}");
    assert!(body.get("errors").is_none(), "{body:#}");
}

async fn page_mode(hub: &TestHub) -> String {
    let html = hub
        .client
        .get(hub.url("/graphiql"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let at = html
        .find(r#"<meta name="mandate-graphiql" content=""#)
        .expect("the page names its mode");
    html[at..].split('"').nth(3).unwrap().to_string()
}

async fn mint(hub: &TestHub, body: &Value) -> reqwest::Response {
    hub.client
        .post(hub.url("/graphiql/token"))
        .json(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_picker_exists_only_in_development_mode() {
    let hub = start(false).await;
    assert_eq!(page_mode(&hub).await, "credentials");
    let resp = hub
        .client
        .get(hub.url("/graphiql/mandates"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 404);
    let resp = mint(&hub, &json!({"agency": CA.0, "role": CA.1})).await;
    assert_eq!(resp.status().as_u16(), 404);

    let mut open = common::open_config();
    open.auth.jwt.hs256_secret = JWT_SECRET.into();
    let open = TestHub::start_with(open).await;
    assert_eq!(page_mode(&open).await, "open");
}

#[tokio::test]
async fn development_mode_mints_short_lived_tokens_for_mandates_the_lists_name() {
    let hub = start(true).await;
    assert_eq!(page_mode(&hub).await, "development");
    let resp = hub
        .client
        .get(hub.url("/graphiql/mandates"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let catalog: Value = resp.json().await.unwrap();
    let mandates = catalog["mandates"].as_array().unwrap();
    assert!(
        mandates.contains(&json!({"agency": CA.0, "role": CA.1, "purpose": CA.2})),
        "{catalog:#}"
    );
    assert_eq!(catalog["case"], "GRAPHIQL-DEMO");
    // The example operations are embedded, each under a mandate the lists name.
    let examples = catalog["examples"].as_array().unwrap();
    assert!(!examples.is_empty(), "{catalog:#}");
    for e in examples {
        let named = json!({"agency": e["agency"], "role": e["role"], "purpose": e["purpose"]});
        assert!(mandates.contains(&named), "{e:#}");
        assert!(!e["query"].as_str().unwrap().contains("# agency:"), "{e:#}");
    }
    assert!(
        examples
            .iter()
            .any(|e| e["name"] == "elderly-living-alone-in-old-compounds"
                && e["agency"] == CA.0
                && e["purpose"] == CA.2),
        "{catalog:#}"
    );

    // Only an (agency, role) the lists name; only JSON; only from the hub's own page.
    let resp = mint(&hub, &json!({"agency": CA.0, "role": "officer"})).await;
    assert_eq!(resp.status().as_u16(), 403);
    let resp = mint(&hub, &json!({"agency": "D-NOWHERE", "role": CA.1})).await;
    assert_eq!(resp.status().as_u16(), 403);
    let resp = hub
        .client
        .post(hub.url("/graphiql/token"))
        .header("content-type", "text/plain")
        .body(json!({"agency": CA.0, "role": CA.1}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 415);
    let resp = hub
        .client
        .post(hub.url("/graphiql/token"))
        .header("origin", "https://elsewhere.example")
        .json(&json!({"agency": CA.0, "role": CA.1}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 403);

    let resp = mint(&hub, &json!({"agency": CA.0, "role": CA.1})).await;
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let minted: Value = resp.json().await.unwrap();
    assert_eq!(minted["expiresIn"], 3600);
    let token = minted["token"].as_str().unwrap();
    // Its claims: the demo officer, the role asked for, an hour to live.
    use base64::Engine as _;
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["sub"], "graphiql-demo");
    assert_eq!(claims["agency"], CA.0);
    assert_eq!(claims["roles"], json!([CA.1]));
    assert_eq!(
        claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
        3600
    );

    // The token reads through the agency's plan: masked where the lists say.
    let headers = vec![
        ("authorization", format!("Bearer {token}")),
        ("x-mandate-purpose", CA.2.to_string()),
        ("x-mandate-case", "GRAPHIQL-DEMO".to_string()),
    ];
    let fields = descriptions(&hub, &headers, "Resident").await;
    assert!(description_of(&fields, "idNumber").contains("keep_start"));
    let (status, body) = post(&hub, &headers, "{ residents(first: 1) { totalCount } }").await;
    assert_eq!(status, 200, "{body:#}");
    assert!(body["data"]["residents"]["totalCount"].as_u64().is_some());
}
