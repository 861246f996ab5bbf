//! Hostile requests to `/graphql`, generated (proptest) and sent over HTTP to an
//! in-process hub on the real test Neo4j, as the demo agencies and as nobody:
//! documents with random nesting, fragments (cyclic, undefined, exploding),
//! aliases, directives, huge and odd literals, unicode and broken escapes,
//! several operations, bad variables; and around them wrong methods, media types,
//! broken or huge JSON, odd headers.
//!
//! Whatever the request: the hub answers (no dropped connection, no hang), never
//! with a 500, every error carries an `extensions.code` from the registry (never
//! `INTERNAL_ERROR`) and the request id the hub issued, and no body holds
//! internal text (Cypher, driver or Rust error text, paths, backtraces) the
//! request did not itself contain. Bounded: a fixed number of cases per target
//! (`PROPTEST_CASES` overrides it for a longer run). Inputs that once broke the
//! hub are kept below as named regression cases.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

mod common;

use std::collections::BTreeMap;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use common::TestHub;
use proptest::prelude::{any, prop, prop_oneof, Just, ProptestConfig};
use proptest::strategy::{BoxedStrategy, Strategy};
use proptest::test_runner::{TestCaseError, TestRunner};
use serde_json::{json, Value};

const TODAY: &str = "2026-11-29";

/// Demo agencies (agency, role) with a key each, and the purposes their lists name.
const AGENCIES: [(&str, &str, &str); 7] = [
    ("D-CIVIL_AFFAIRS", "caseworker", "subsidy_review"),
    ("D-PUBLIC_SECURITY", "officer", "household_registration"),
    ("D-HEALTH", "health_officer", "elderly_health_service"),
    ("D-EDUCATION", "enrollment_officer", "school_enrollment"),
    ("D-HOUSING", "inspector", "building_safety"),
    ("D-GRID_MANAGEMENT-S01", "grid_worker", "grid_inspection"),
    ("D-STREET_OFFICE-S01", "service_clerk", "resident_inquiry"),
];

/// Text that betrays internals when a response holds it and the request did not.
const INTERNAL: [&str; 16] = [
    "MATCH ",
    "MATCH(",
    "RETURN ",
    "WHERE ",
    "neo4rs",
    "Neo4j error",
    "Neo.ClientError",
    "Neo.DatabaseError",
    "bolt://",
    ".rs:",
    "src/",
    "panicked",
    "backtrace",
    "thread '",
    "Connection refused",
    "os error",
];

fn key_of(agency: &str, role: &str) -> String {
    format!("mk_fuzz_{agency}_{role}")
}

struct Fixture {
    runtime: tokio::runtime::Runtime,
    hub: TestHub,
    client: reqwest::Client,
    /// (HTTP status, first code) → count, printed at the end of each target.
    seen: Mutex<BTreeMap<(u16, String), usize>>,
}

/// The hub under test, started once per test binary on its own runtime.
fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let root = std::env::temp_dir().join(format!("mandate-fuzz-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        let policies = root.join("policies");
        common::copy_policies(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies"),
            &policies,
        );
        let entries: Vec<_> = AGENCIES
            .iter()
            .map(|(agency, role, _)| (*agency, vec![*role], key_of(agency, role)))
            .collect();
        let keys = common::keys_file(&root, "fuzz", &entries);
        let mut config = common::test_config();
        config.auth.api_keys_file = keys.display().to_string();
        config.policies.dir = policies.display().to_string();
        config.policies.today = TODAY.into();
        config.audit.chain = format!("fuzz-{}", std::process::id());
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let hub = runtime.block_on(TestHub::start_with(config));
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        Fixture {
            runtime,
            hub,
            client,
            seen: Mutex::default(),
        }
    })
}

// --- what is sent ----------------------------------------------------------------------------

/// Who the request claims to be.
#[derive(Debug, Clone)]
enum Who {
    /// A demo agency's key, with a purpose (its own, another's, or junk).
    Agency(usize, String),
    /// No credential at all.
    Nobody,
    /// A key nobody was given.
    BadKey(String),
    /// A demo agency's key claiming another agency in `x-mandate-agency`.
    Claims(usize, String),
}

/// How the request travels.
#[derive(Debug, Clone)]
enum Transport {
    /// POST application/json {query, variables, operationName}.
    Json,
    /// POST application/graphql with the document as the body.
    GraphqlBody,
    /// GET with the query string.
    Get,
    /// Another method with the JSON body.
    Method(&'static str),
    /// POST with this content type and the JSON body.
    ContentType(String),
    /// POST application/json with these raw bytes instead.
    RawJson(Vec<u8>),
}

#[derive(Debug, Clone)]
struct Sent {
    who: Who,
    transport: Transport,
    query: String,
    variables: Value,
    operation_name: Option<String>,
    graphql_media: bool,
    request_id: Option<String>,
}

const NAMES: [&str; 48] = [
    "resident",
    "residents",
    "household",
    "households",
    "building",
    "buildings",
    "grid",
    "grids",
    "community",
    "communities",
    "subdistrict",
    "subdistricts",
    "department",
    "departments",
    "accessReceipts",
    "_service",
    "_entities",
    "__typename",
    "__type",
    "__schema",
    "id",
    "name",
    "idNumber",
    "phone",
    "birthDate",
    "sex",
    "hukouType",
    "ethnicity",
    "occupation",
    "lowIncome",
    "elderlyLivingAlone",
    "disabilityStatus",
    "members",
    "memberCount",
    "householdNumber",
    "address",
    "oldCompound",
    "safetyGrade",
    "gridWorker",
    "totalCount",
    "edges",
    "node",
    "cursor",
    "pageInfo",
    "hasNextPage",
    "endCursor",
    "relationToHead",
    "sdl",
];

/// Strings a hostile caller tries as values: injections, odd unicode, cursors.
const INJECTIONS: [&str; 14] = [
    "R00000042' OR 1=1 //",
    "R00000042\"}) MATCH (n) DETACH DELETE n //",
    "') RETURN n //",
    "$id",
    "{id: 1}",
    "\u{0}\u{1f}\u{7f}",
    "\u{202e}R00000042",
    "Ｒ００００００４２",
    "R00000042\u{301}",
    "🦀🦀🦀",
    "eyJhbGciOiJub25lIn0.e30.",
    "../../../../etc/passwd",
    "2026-02-30",
    "",
];

const ARGS: [&str; 12] = [
    "id",
    "first",
    "after",
    "where",
    "orderBy",
    "residentId",
    "representations",
    "name",
    "eq",
    "in",
    "field",
    "direction",
];

const TYPES: [&str; 10] = [
    "Query",
    "Resident",
    "Household",
    "Building",
    "Grid",
    "ResidentConnection",
    "_Entity",
    "String",
    "Nope",
    "Mutation",
];

fn name() -> BoxedStrategy<String> {
    prop_oneof![
        16 => prop::sample::select(&NAMES[..]).prop_map(str::to_string),
        3 => "[_A-Za-z][_0-9A-Za-z]{0,10}",
        1 => "\\PC{1,6}",
    ]
    .boxed()
}

/// A GraphQL string literal: well escaped, or raw and odd.
fn string_literal() -> BoxedStrategy<String> {
    prop_oneof![
        40 => "\\PC{0,24}".prop_map(|s| serde_json::to_string(&s).unwrap()),
        1 => Just("\"\\uD800\"".to_string()),
        1 => Just("\"\\u0000\\u001f\\uFFFF\"".to_string()),
        1 => Just("\"\"\"block \\\"\"\" string\"\"\"".to_string()),
        1 => Just("\"unterminated".to_string()),
        1 => Just("\"\\q bad escape\"".to_string()),
        1 => (1usize..=20_000).prop_map(|n| format!("\"{}\"", "界".repeat(n))),
        5 => prop::sample::select(&INJECTIONS[..]).prop_map(|s| serde_json::to_string(s).unwrap()),
    ]
    .boxed()
}

fn value() -> BoxedStrategy<String> {
    let leaf = prop_oneof![
        4 => any::<i32>().prop_map(|n| n.to_string()),
        1 => Just("99999999999999999999999999".to_string()),
        1 => Just("-2147483649".to_string()),
        1 => Just("1e999".to_string()),
        1 => Just("-0.0".to_string()),
        1 => any::<f64>().prop_map(|f| format!("{f:?}")),
        6 => string_literal(),
        2 => Just("true".to_string()),
        2 => Just("null".to_string()),
        2 => prop::sample::select(&["NAME", "ASC", "DESC", "BIRTH_DATE", "MALE", "NOPE"][..])
            .prop_map(str::to_string),
        2 => "\\$[a-z]{1,4}",
        3 => Just("\"R00000042\"".to_string()),
    ];
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(|v| format!("[{}]", v.join(", "))),
            prop::collection::vec((name(), inner), 0..4).prop_map(|v| {
                let fields: Vec<String> = v.into_iter().map(|(k, v)| format!("{k}: {v}")).collect();
                format!("{{{}}}", fields.join(", "))
            }),
        ]
    })
    .boxed()
}

fn arguments() -> BoxedStrategy<String> {
    prop_oneof![
        3 => Just(String::new()),
        2 => prop::collection::vec(
            (prop_oneof![prop::sample::select(&ARGS[..]).prop_map(str::to_string), name()], value()),
            1..4
        )
        .prop_map(|v| {
            let args: Vec<String> = v.into_iter().map(|(k, v)| format!("{k}: {v}")).collect();
            format!("({})", args.join(", "))
        }),
    ]
    .boxed()
}

fn directives() -> BoxedStrategy<String> {
    prop_oneof![
        6 => Just(String::new()),
        1 => value().prop_map(|v| format!(" @include(if: {v})")),
        1 => value().prop_map(|v| format!(" @skip(if: {v})")),
        1 => (name(), arguments()).prop_map(|(n, a)| format!(" @{n}{a}")),
        1 => (1usize..40).prop_map(|n| " @skip(if: false)".repeat(n)),
    ]
    .boxed()
}

fn selection_set() -> BoxedStrategy<String> {
    let field = (prop::option::of(name()), name(), arguments(), directives()).prop_map(
        |(alias, name, args, dirs)| match alias {
            Some(a) => format!("{a}: {name}{args}{dirs}"),
            None => format!("{name}{args}{dirs}"),
        },
    );
    let leaf = prop::collection::vec(field.clone(), 1..4).prop_map(|v| v.join(" "));
    leaf.prop_recursive(6, 48, 4, move |inner| {
        let with_sub = (field.clone(), inner.clone()).prop_map(|(f, s)| format!("{f} {{ {s} }}"));
        let inline = (
            prop::sample::select(&TYPES[..]),
            directives(),
            inner.clone(),
        )
            .prop_map(|(t, d, s)| format!("... on {t}{d} {{ {s} }}"));
        let bare_inline = inner.clone().prop_map(|s| format!("... {{ {s} }}"));
        let spread = "[A-D]".prop_map(|f| format!("...F{f}"));
        prop::collection::vec(
            prop_oneof![3 => with_sub, 1 => inline, 1 => bare_inline, 1 => spread],
            1..4,
        )
        .prop_map(|v| v.join(" "))
    })
    .boxed()
}

fn variable_definitions() -> impl Strategy<Value = String> {
    let ty = prop_oneof![
        Just("Int"),
        Just("Int!"),
        Just("String"),
        Just("ID!"),
        Just("[ID!]!"),
        Just("Boolean"),
        Just("ResidentWhere"),
        Just("Nope"),
        Just("[[[Int]]]"),
    ];
    prop_oneof![
        2 => Just(String::new()),
        1 => prop::collection::vec(("[a-z]{1,4}", ty, prop::option::of(value())), 1..4).prop_map(|v| {
            let defs: Vec<String> = v
                .into_iter()
                .map(|(n, t, d)| match d {
                    Some(d) => format!("${n}: {t} = {d}"),
                    None => format!("${n}: {t}"),
                })
                .collect();
            format!("({})", defs.join(", "))
        }),
    ]
}

fn operation() -> BoxedStrategy<String> {
    let kind = prop_oneof![
        4 => Just(""),
        3 => Just("query"),
        1 => Just("mutation"),
        1 => Just("subscription"),
    ];
    (
        kind,
        prop::option::of("Op[A-C]"),
        variable_definitions(),
        directives(),
        selection_set(),
    )
        .prop_map(|(kind, name, vars, dirs, sel)| {
            if kind.is_empty() {
                format!("{{ {sel} }}")
            } else {
                format!(
                    "{kind} {}{vars}{dirs} {{ {sel} }}",
                    name.unwrap_or_default()
                )
            }
        })
        .boxed()
}

fn fragments() -> BoxedStrategy<String> {
    prop::collection::vec(
        ("[A-D]", prop::sample::select(&TYPES[..]), selection_set()),
        0..4,
    )
    .prop_map(|v| {
        v.into_iter()
            .map(|(n, t, s)| format!("fragment F{n} on {t} {{ {s} }}"))
            .collect::<Vec<_>>()
            .join("\n")
    })
    .boxed()
}

/// A document: generated, then perhaps cut, spliced or inflated.
fn document() -> BoxedStrategy<String> {
    let generated = (prop::collection::vec(operation(), 1..3), fragments())
        .prop_map(|(ops, frags)| format!("{}\n{frags}", ops.join("\n")));
    prop_oneof![
        10 => valid_document(),
        6 => generated.clone(),
        2 => (generated.clone(), any::<prop::sample::Index>()).prop_map(|(d, i)| {
            let cut = i.index(d.len() + 1);
            d.char_indices().map(|(p, _)| p).take_while(|p| *p <= cut).last().map(|p| d[..p].to_string()).unwrap_or_default()
        }),
        2 => (generated, any::<prop::sample::Index>(), "\\PC{1,3}|[{}()\\[\\]:$@!.\"#,]").prop_map(|(d, i, s)| {
            let at = i.index(d.len() + 1);
            let at = (0..=at).rev().find(|p| d.is_char_boundary(*p)).unwrap_or(0);
            format!("{}{s}{}", &d[..at], &d[at..])
        }),
        1 => "\\PC{0,64}",
        1 => (1usize..3000).prop_map(|n| format!("{}{}", "{ residents { edges { node { household { members { ".repeat(n), "} } } } } }".repeat(n))),
        1 => (1usize..2000).prop_map(|n| format!("{{ a{} }}", nest(" { a", " }", n))),
        1 => (1usize..5000).prop_map(|n| format!("{{ residents(where: {}) {{ totalCount }} }}", nest("{AND: [", "]}", n))),
        1 => (1usize..3000).prop_map(|n| format!("{{ {} }}", (0..n).map(|i| format!("a{i}: __typename")).collect::<Vec<_>>().join(" "))),
        1 => (2usize..12, 2usize..12).prop_map(|(levels, fan)| {
            // Each fragment spreads the next `fan` times: fan^levels selections.
            let mut doc = "query { ...L0 }\n".to_string();
            for l in 0..levels {
                let spreads = format!("...L{} ", l + 1).repeat(fan);
                doc.push_str(&format!("fragment L{l} on Query {{ {spreads} }}\n"));
            }
            doc.push_str(&format!("fragment L{levels} on Query {{ __typename }}\n"));
            doc
        }),
    ]
    .boxed()
}

/// Root fields with arguments that validate (values generated), and the
/// selections each may hold.
fn root_field() -> BoxedStrategy<(String, String)> {
    let id = prop_oneof![
        4 => (1u32..=3200).prop_map(|n| format!("\"R{n:08}\"")),
        2 => prop::sample::select(&INJECTIONS[..]).prop_map(|s| serde_json::to_string(s).unwrap()),
        1 => "\\PC{0,12}".prop_map(|s| serde_json::to_string(&s).unwrap()),
    ];
    let first = prop_oneof![
        4 => 0i32..=30,
        1 => any::<i32>(),
        1 => Just(i32::MAX),
        1 => Just(-1),
    ];
    let text = prop_oneof![
        2 => "\\PC{0,12}".prop_map(|s| serde_json::to_string(&s).unwrap()),
        2 => prop::sample::select(&INJECTIONS[..]).prop_map(|s| serde_json::to_string(s).unwrap()),
    ];
    let resident_fields = prop::sample::subsequence(
        &[
            "id", "name", "idNumber", "phone", "birthDate", "sex", "hukouType", "ethnicity",
            "occupation", "lowIncome", "elderlyLivingAlone", "disabilityStatus", "__typename",
            "household { id householdNumber memberCount building { address oldCompound safetyGrade grid { id name gridWorker } } }",
            "household { members(first: 3) { totalCount edges { relationToHead node { id name } } } }",
        ][..],
        1..6,
    )
    .prop_map(|v| v.join(" "));
    let filter = prop_oneof![
        Just(String::new()),
        text.clone()
            .prop_map(|t| format!(", where: {{name: {{startsWith: {t}}}}}")),
        text.clone()
            .prop_map(|t| format!(", where: {{birthDate: {{gt: {t}}}}}")),
        text.clone().prop_map(|t| format!(
            ", where: {{OR: [{{idNumber: {{eq: {t}}}}}, {{NOT: {{phone: {{isNull: true}}}}}}]}}"
        )),
        (0usize..3000).prop_map(|n| format!(
            ", where: {{id: {{in: [{}]}}}}",
            (0..n)
                .map(|i| format!("\"R{i:08}\""))
                .collect::<Vec<_>>()
                .join(",")
        )),
        Just(", where: {household: {building: {oldCompound: {eq: true}}}}".to_string()),
    ];
    let after = prop_oneof![
        3 => Just(String::new()),
        1 => text.clone().prop_map(|t| format!(", after: {t}")),
    ];
    prop_oneof![
        3 => (id.clone(), resident_fields.clone()).prop_map(|(id, f)| (format!("resident(id: {id})"), f)),
        3 => (first.clone(), filter, after.clone(), resident_fields.clone(), prop::sample::select(&["NAME", "BIRTH_DATE", "ID", "NOPE"][..]))
            .prop_map(|(n, w, a, f, o)| (format!("residents(first: {n}{w}{a}, orderBy: [{{field: {o}, direction: DESC}}])"), format!("totalCount edges {{ cursor node {{ {f} }} }} pageInfo {{ hasNextPage endCursor }}"))),
        1 => (first.clone(), after).prop_map(|(n, a)| (format!("households(first: {n}{a})"), "totalCount edges { node { id householdNumber members(first: 2) { edges { node { name } } } } }".to_string())),
        1 => first.clone().prop_map(|n| (format!("buildings(first: {n}, where: {{oldCompound: {{eq: true}}}})"), "edges { node { id address safetyGrade } }".to_string())),
        1 => first.clone().prop_map(|n| (format!("grids(first: {n})"), "totalCount edges { node { id name community { name subdistrict { name } } } }".to_string())),
        1 => (id.clone(), first).prop_map(|(id, n)| (format!("accessReceipts(residentId: {id}, first: {n})"), "time agency purpose caseNumber fields".to_string())),
        1 => id.clone().prop_map(|id| (format!("_entities(representations: [{{__typename: \"Resident\", id: {id}}}, {{__typename: \"Nope\"}}])"), "... on Resident { id name }".to_string())),
        1 => Just(("_service".to_string(), "sdl".to_string())),
        1 => Just(("__schema".to_string(), "types { name }".to_string())),
    ]
    .boxed()
}

/// A document that parses and mostly validates: a few aliased root fields,
/// perhaps through a fragment or under a directive.
fn valid_document() -> BoxedStrategy<String> {
    let aliased = (prop::option::of("[a-z]{1,6}"), root_field(), directives()).prop_map(
        |(a, (call, selection), d)| match a {
            Some(a) => format!("{a}: {call}{d} {{ {selection} }}"),
            None => format!("{call}{d} {{ {selection} }}"),
        },
    );
    (prop::collection::vec(aliased, 1..4), 0u8..3)
        .prop_map(|(fields, shape)| {
            let body = fields.join("\n  ");
            match shape {
                0 => format!("{{\n  {body}\n}}"),
                1 => format!("query Q {{ ...Root }}\nfragment Root on Query {{\n  {body}\n}}"),
                _ => format!("query Q {{ ... on Query {{ {body} }} }}"),
            }
        })
        .boxed()
}

fn json_value() -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        "\\PC{0,16}".prop_map(Value::from),
        Just(json!("R00000042")),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map("[a-z]{1,4}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
    .boxed()
}

fn variables() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => Just(json!({})),
        3 => prop::collection::btree_map("[a-z]{1,4}", json_value(), 0..4)
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        1 => json_value(),
    ]
}

fn who() -> impl Strategy<Value = Who> {
    let purpose = prop_oneof![
        1 => prop::sample::select(&AGENCIES[..]).prop_map(|a| a.2.to_string()),
        1 => "[ -~]{0,20}",
        1 => Just(String::new()),
    ];
    prop_oneof![
        12 => (0..AGENCIES.len()).prop_map(|i| Who::Agency(i, AGENCIES[i].2.to_string())),
        2 => (0..AGENCIES.len(), purpose).prop_map(|(i, p)| Who::Agency(i, p)),
        1 => Just(Who::Nobody),
        1 => "[ -~]{0,40}".prop_map(Who::BadKey),
        2 => (0..AGENCIES.len(), prop_oneof![
            prop::sample::select(&AGENCIES[..]).prop_map(|a| a.0.to_string()),
            "[ -~]{0,20}",
        ]).prop_map(|(i, a)| Who::Claims(i, a)),
    ]
}

fn transport() -> impl Strategy<Value = Transport> {
    let raw = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..64),
        Just(b"{\"query\": \"{ __typename }\"".to_vec()),
        Just(b"[{\"query\": \"{ __typename }\"}]".to_vec()),
        Just(b"{\"query\": 42}".to_vec()),
        Just(b"{\"query\": \"{ __typename }\", \"variables\": \"{}\"}".to_vec()),
        Just(b"{\"query\": \"{ __typename }\", \"operationName\": 7}".to_vec()),
        Just(b"{\"query\": \"{ __typename }\", \"extensions\": {\"persistedQuery\": {\"version\": 1, \"sha256Hash\": \"00\"}}}".to_vec()),
        Just(b"null".to_vec()),
        Just(b"\xEF\xBB\xBF{\"query\": \"{ __typename }\"}".to_vec()),
        (1usize..200_000).prop_map(|n| nest("[", "]", n).into_bytes()),
        (1usize..200_000).prop_map(|n| format!("{{\"query\": \"{{ __typename }}\", \"variables\": {{\"a\": {}1{}}}}}", "[".repeat(n), "]".repeat(n)).into_bytes()),
        Just(format!("{{\"query\": \"{}\"}}", "x".repeat(2 << 20)).into_bytes()),
    ];
    prop_oneof![
        24 => Just(Transport::Json),
        3 => Just(Transport::GraphqlBody),
        4 => Just(Transport::Get),
        1 => prop::sample::select(&["PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"][..]).prop_map(Transport::Method),
        1 => prop_oneof![
            Just("text/plain".to_string()),
            Just("application/json; charset=utf-16".to_string()),
            Just("APPLICATION/JSON".to_string()),
            Just("multipart/form-data; boundary=x".to_string()),
            Just("application/x-www-form-urlencoded".to_string()),
            Just("application/graphql-response+json".to_string()),
            "[ -~]{0,30}",
        ].prop_map(Transport::ContentType),
        2 => raw.prop_map(Transport::RawJson),
    ]
}

fn sent() -> impl Strategy<Value = Sent> {
    (
        who(),
        transport(),
        document(),
        variables(),
        prop::option::of(prop_oneof![Just("OpA".to_string()), "\\PC{0,8}"]),
        any::<bool>(),
        prop::option::of("[ -~]{0,80}"),
    )
        .prop_map(
            |(who, transport, query, variables, operation_name, graphql_media, request_id)| Sent {
                who,
                transport,
                query,
                variables,
                operation_name,
                graphql_media,
                request_id,
            },
        )
}

// --- sending and judging ---------------------------------------------------------------------

/// What came back.
#[derive(Debug)]
struct Got {
    status: u16,
    request_id: String,
    body: String,
}

/// Sends `s`: what came back and all the request carried (`None` if the client
/// could not send it); an error only if the hub dropped the connection or did
/// not answer.
async fn send(s: &Sent) -> Result<Option<(Got, String)>, String> {
    let f = fixture();
    let url = f.hub.url("/graphql");
    let mut payload = json!({ "query": s.query, "variables": s.variables });
    if let Some(name) = &s.operation_name {
        payload["operationName"] = json!(name);
    }
    let json_body = payload.to_string().into_bytes();
    let mut req = match &s.transport {
        Transport::Json => f
            .client
            .post(&url)
            .header("content-type", "application/json")
            .body(json_body.clone()),
        Transport::GraphqlBody => f
            .client
            .post(&url)
            .header("content-type", "application/graphql")
            .body(s.query.clone()),
        Transport::Get => {
            let mut params = vec![
                ("query", s.query.clone()),
                ("variables", s.variables.to_string()),
            ];
            if let Some(name) = &s.operation_name {
                params.push(("operationName", name.clone()));
            }
            f.client.get(&url).query(&params)
        }
        Transport::Method(m) => f
            .client
            .request(reqwest::Method::from_bytes(m.as_bytes()).unwrap(), &url)
            .header("content-type", "application/json")
            .body(json_body.clone()),
        Transport::ContentType(ct) => {
            let req = f.client.post(&url).body(json_body.clone());
            match reqwest::header::HeaderValue::from_str(ct) {
                Ok(v) => req.header("content-type", v),
                Err(_) => req,
            }
        }
        Transport::RawJson(bytes) => f
            .client
            .post(&url)
            .header("content-type", "application/json")
            .body(bytes.clone()),
    };
    let header = |req: reqwest::RequestBuilder, name: &str, value: &str| {
        match reqwest::header::HeaderValue::from_str(value) {
            Ok(v) => req.header(name, v),
            Err(_) => req,
        }
    };
    match &s.who {
        Who::Agency(i, purpose) => {
            let (agency, role, _) = AGENCIES[*i];
            req = header(req, "x-api-key", &key_of(agency, role));
            req = header(req, "x-mandate-purpose", purpose);
            req = header(req, "x-mandate-case", "CASE-FUZZ-1");
        }
        Who::Nobody => {}
        Who::BadKey(k) => req = header(req, "x-api-key", k),
        Who::Claims(i, claimed) => {
            let (agency, role, purpose) = AGENCIES[*i];
            req = header(req, "x-api-key", &key_of(agency, role));
            req = header(req, "x-mandate-purpose", purpose);
            req = header(req, "x-mandate-case", "CASE-FUZZ-1");
            req = header(req, "x-mandate-agency", claimed);
        }
    }
    if s.graphql_media {
        req = req.header("accept", "application/graphql-response+json");
    }
    if let Some(id) = &s.request_id {
        req = header(req, "x-request-id", id);
    }
    let request = req.build().map_err(|e| format!("request not built: {e}"))?;
    // Everything the request carried, to tell an echo from a leak.
    let mut sent_text = request.url().to_string();
    for (k, v) in request.headers() {
        sent_text.push_str(k.as_str());
        sent_text.push_str(&String::from_utf8_lossy(v.as_bytes()));
    }
    if let Some(b) = request.body().and_then(|b| b.as_bytes()) {
        sent_text.push_str(&String::from_utf8_lossy(b));
    }
    sent_text.push_str(&s.query);
    let resp = match f.client.execute(request).await {
        Ok(r) => r,
        // What the client cannot send (a URL past hyper's limit) tests nothing.
        Err(e) if e.is_builder() => return Ok(None),
        Err(e) => return Err(format!("no answer: {e:?}")),
    };
    let status = resp.status().as_u16();
    let request_id = resp
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body = resp.text().await.map_err(|e| format!("body cut: {e:?}"))?;
    Ok(Some((
        Got {
            status,
            request_id,
            body,
        },
        sent_text,
    )))
}

/// Checks one answer; returns the (status, first code) seen.
fn judge(s: &Sent, got: &Got, sent_text: &str) -> Result<(u16, String), String> {
    let ctx = || format!("status {} for {s:?}: {}", got.status, shorten(&got.body));
    if got.status >= 500 && got.status != 503 {
        return Err(format!("a {} answer; {}", got.status, ctx()));
    }
    if got.request_id.is_empty() {
        return Err(format!("no x-request-id; {}", ctx()));
    }
    for leak in INTERNAL {
        if got.body.contains(leak) && !sent_text.contains(leak) {
            return Err(format!("internal text {leak:?}; {}", ctx()));
        }
    }
    if matches!(s.transport, Transport::Method("HEAD")) {
        return Ok((got.status, "HEAD".into()));
    }
    let body: Value =
        serde_json::from_str(&got.body).map_err(|_| format!("not JSON; {}", ctx()))?;
    let errors = match body.get("errors") {
        None => {
            if got.status != 200 || body.get("data").is_none() {
                return Err(format!("neither data nor errors; {}", ctx()));
            }
            return Ok((got.status, String::new()));
        }
        Some(Value::Array(e)) if !e.is_empty() => e,
        Some(_) => return Err(format!("`errors` is not a non-empty list; {}", ctx())),
    };
    for e in errors {
        let code = e["extensions"]["code"].as_str().unwrap_or_default();
        match mandate_resolvers::Code::parse(code) {
            None => return Err(format!("an error without a registry code; {}", ctx())),
            Some(mandate_resolvers::Code::InternalError) => {
                return Err(format!("INTERNAL_ERROR; {}", ctx()))
            }
            Some(_) => {}
        }
        if e["extensions"]["requestId"] != json!(got.request_id) {
            return Err(format!("an error without the request id; {}", ctx()));
        }
        if !e["message"].is_string() {
            return Err(format!("an error without a message; {}", ctx()));
        }
    }
    let first = errors[0]["extensions"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if got.status == 503 && !["NEO4J_TIMEOUT", "NEO4J_UNAVAILABLE"].contains(&first.as_str()) {
        return Err(format!("a 503 with {first}; {}", ctx()));
    }
    Ok((got.status, first))
}

/// `open` n times, then `close` n times.
fn nest(open: &str, close: &str, n: usize) -> String {
    let mut s = open.repeat(n);
    s.push_str(&close.repeat(n));
    s
}

fn shorten(s: &str) -> String {
    if s.len() <= 600 {
        return s.to_string();
    }
    let end = (0..=600)
        .rev()
        .find(|p| s.is_char_boundary(*p))
        .unwrap_or(0);
    format!("{}… ({} bytes)", &s[..end], s.len())
}

/// Sends and judges one request (on the fixture's runtime).
fn check(s: &Sent) -> Result<(), TestCaseError> {
    let f = fixture();
    if let Ok(path) = std::env::var("FUZZ_LAST") {
        std::fs::write(path, format!("{s:#?}")).unwrap();
    }
    let Some((got, sent_text)) = f
        .runtime
        .block_on(send(s))
        .map_err(|e| TestCaseError::fail(format!("{e}; for {s:?}")))?
    else {
        return Ok(());
    };
    let seen = judge(s, &got, &sent_text).map_err(TestCaseError::fail)?;
    *f.seen.lock().unwrap().entry(seen).or_default() += 1;
    Ok(())
}

/// Runs `cases` generated requests (`PROPTEST_CASES` overrides), prints what
/// was seen, and checks the hub still serves.
#[test]
fn hostile_requests_get_clean_coded_answers() {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(400);
    let mut runner = TestRunner::new(ProptestConfig {
        cases,
        // Failures are kept by hand, as named cases below.
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let started = std::time::Instant::now();
    let result = runner.run(&sent(), |s| check(&s));
    let f = fixture();
    println!(
        "fuzz/graphql: {cases} cases in {:.1} s; (status, first code) → answers: {:?}",
        started.elapsed().as_secs_f64(),
        f.seen.lock().unwrap()
    );
    if let Err(e) = result {
        panic!("{e}");
    }
    let health = f.runtime.block_on(async {
        f.client
            .get(f.hub.url("/healthz"))
            .send()
            .await
            .map(|r| r.status().as_u16())
    });
    assert_eq!(health.ok(), Some(200), "the hub still serves");
}

// --- regression and edge cases ----------------------------------------------------------

/// A request with the default shape: a demo agency, POST JSON.
fn plain(query: &str) -> Sent {
    Sent {
        who: Who::Agency(1, "household_registration".into()),
        transport: Transport::Json,
        query: query.into(),
        variables: json!({}),
        operation_name: None,
        graphql_media: false,
        request_id: None,
    }
}

/// Sends `s`, judges the answer as the generated cases are, and returns its body.
fn answer(s: &Sent) -> Value {
    check(s).unwrap();
    let (got, _) = fixture().runtime.block_on(send(s)).unwrap().unwrap();
    serde_json::from_str(&got.body).unwrap()
}

fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("")
}

#[test]
fn deeply_nested_selections_are_refused_cleanly() {
    // Real fields past `limits.max_depth`: refused at validation.
    let q = format!(
        "{{ residents {{ edges {{ node {{ {} id {} }} }} }} }}",
        "household { members { edges { node { ".repeat(7),
        "} } } } ".repeat(7)
    );
    let mut s = plain(&q);
    s.who = Who::Agency(0, "subsidy_review".into());
    let body = answer(&s);
    assert_eq!(code(&body), "QUERY_TOO_DEEP", "{body}");
    // Deeper still: refused before parsing.
    for n in [100, 1_000, 10_000, 100_000] {
        let q = format!("{{ a{} }}", nest(" { a", " }", n));
        let body = answer(&plain(&q));
        assert_eq!(
            code(&body),
            "QUERY_TOO_DEEP",
            "{n}: {}",
            shorten(&body.to_string())
        );
    }
}

/// Found by the generator: a filter nested some 150 levels deep
/// (`where: {AND: [{AND: [...]}]}`, 2 KB of text) overflowed the stack of the
/// worker parsing it — async-graphql's parser recurses into argument values
/// without a bound — and aborted the whole hub process. Now refused, unparsed.
#[test]
fn deeply_nested_argument_values_are_refused_cleanly() {
    let nested = |n: usize| nest("{AND: [", "]}", n);
    // A deep but reasonable filter still runs (within `limits.max_filter_depth`).
    let body = answer(&plain(&format!(
        "{{ residents(where: {}) {{ totalCount }} }}",
        nested(8)
    )));
    assert!(body["data"]["residents"]["totalCount"].is_u64(), "{body}");
    for n in [150, 300, 1_000, 100_000] {
        for q in [
            format!("{{ residents(where: {}) {{ totalCount }} }}", nested(n)),
            format!("{{ resident(id: {}) {{ id }} }}", nest("[", "]", n)),
            format!(
                "query($w: ResidentWhere = {}) {{ residents(where: $w) {{ totalCount }} }}",
                nested(n)
            ),
        ] {
            let body = answer(&plain(&q));
            assert_eq!(
                code(&body),
                "QUERY_TOO_DEEP",
                "{n}: {}",
                shorten(&body.to_string())
            );
        }
    }
    // Variables are JSON, bounded by the JSON parser's own depth limit.
    let mut w = json!({"name": {"eq": "x"}});
    for _ in 0..60 {
        w = json!({ "AND": [w] });
    }
    let mut s = plain("query($w: ResidentWhere) { residents(where: $w) { totalCount } }");
    s.variables = json!({ "w": w });
    answer(&s);
}
