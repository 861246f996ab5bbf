//! Snapshots of the Cypher generated for representative queries (no database
//! needed): the text shows index-friendly shapes and that every value is a
//! parameter; the parameters show what is sent.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use std::sync::Arc;

use async_graphql::parser::types::{DocumentOperations, Selection};
use async_graphql::Variables;
use futures::future::BoxFuture;
use mandate_resolvers::{
    AccessPlan, CompareOp, CursorKey, CypherQuery, Document, Engine, FieldAccess, Filter,
    GraphStore, Limits, Mask, ShapeLimits, StoreError, Walker,
};

/// Nothing is run here: the queries are only compiled.
struct NoStore;

impl GraphStore for NoStore {
    fn run<'a>(
        &'a self,
        _: &'a CypherQuery,
    ) -> BoxFuture<'a, Result<serde_json::Value, StoreError>> {
        Box::pin(async { Err(StoreError::Timeout) })
    }
}

fn compile_with(plan: &AccessPlan, query: &str, variables: serde_json::Value) -> Vec<CypherQuery> {
    let engine = Engine::new(
        Arc::new(mandate_schema::hub_catalog().unwrap()),
        Limits::default(),
        ShapeLimits::default(),
        CursorKey::from_secret(b"snapshots"),
        Arc::new(NoStore),
        Arc::new(mandate_resolvers::NoSubgraphs),
    );
    let doc = mandate_resolvers::parse_document(query).expect("query parses");
    let op = match &doc.operations {
        DocumentOperations::Single(op) => op,
        DocumentOperations::Multiple(ops) => ops.values().next().unwrap(),
    };
    let variables = Variables::from_json(variables);
    let walker = Walker::new(
        &engine,
        plan,
        Document::new(&doc.fragments, &op.node, &variables),
    );
    op.node
        .selection_set
        .node
        .items
        .iter()
        .map(|item| match &item.node {
            Selection::Field(f) => walker.compile(&f.node).expect("compiles"),
            _ => panic!("root fragments are not used in these snapshots"),
        })
        .collect()
}

fn compile(query: &str, variables: serde_json::Value) -> Vec<CypherQuery> {
    let catalog = mandate_schema::hub_catalog().unwrap();
    compile_with(&AccessPlan::allow_all(&catalog), query, variables)
}

#[test]
fn lookup_with_nested_path() {
    insta::assert_yaml_snapshot!(compile(
        "{ resident(id: \"R00000001\") { id name birthDate household { memberCount building { address grid { name } } } } }",
        serde_json::json!({})
    ));
}

#[test]
fn list_with_filters_order_and_counts() {
    insta::assert_yaml_snapshot!(compile(
        r#"query($w: ResidentWhere) { residents(first: 10, where: $w, orderBy: [{field: BIRTH_DATE, direction: DESC}]) {
            totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id name } } } }"#,
        serde_json::json!({"w": {
            "sex": {"eq": "FEMALE"},
            "birthDate": {"gte": "1950-01-01", "lt": "1960-01-01"},
            "name": {"startsWith": "王"},
            "OR": [{"lowIncome": {"eq": true}}, {"phone": {"isNull": true}}],
            "NOT": {"hukouType": {"in": ["MIGRANT"]}},
            "household": {"where": {"building": {"where": {"oldCompound": {"eq": true}}}}}
        }})
    ));
}

#[test]
fn nested_connections_with_edge_properties() {
    insta::assert_yaml_snapshot!(compile(
        "{ grid(id: \"G00001\") { buildings(first: 5, orderBy: [{field: YEAR_BUILT}]) { edges { node { households(first: 3) { totalCount edges { node { members(first: 10, where: {birthDate: {lt: \"1961-01-01\"}}) { edges { relationToHead node { name } } } } } } } } } } }",
        serde_json::json!({})
    ));
}

#[test]
fn same_shape_same_text() {
    let a = compile(
        "{ residents(first: 3, where: {sex: {eq: MALE}}) { edges { node { id } } } }",
        serde_json::json!({}),
    );
    let b = compile(
        "{ residents(first: 7, where: {sex: {eq: FEMALE}}) { edges { node { id } } } }",
        serde_json::json!({}),
    );
    assert_eq!(
        a[0].text, b[0].text,
        "values never change the text: the plan cache hits"
    );
    assert_ne!(a[0].params, b[0].params);
}

#[test]
fn access_plan_masks_and_row_predicates_are_pushed_down() {
    let catalog = mandate_schema::hub_catalog().unwrap();
    let mut plan = AccessPlan::allow_all(&catalog);
    plan.fingerprint = "test-plan".into();
    let resident = plan.types.get_mut("Resident").unwrap();
    resident
        .fields
        .insert("idNumber".into(), FieldAccess::Masked(Mask::KeepEnds));
    resident
        .fields
        .insert("phone".into(), FieldAccess::Masked(Mask::Phone));
    resident.rows = Some(Filter::Compare {
        field: "lowIncome".into(),
        op: CompareOp::Eq,
        value: serde_json::json!(true),
    });
    insta::assert_yaml_snapshot!(compile_with(
        &plan,
        "{ residents(first: 5) { totalCount edges { node { idNumber phone household { members(first: 5) { totalCount } } } } } }",
        serde_json::json!({})
    ));
}

#[test]
fn list_anchored_at_a_unique_key_starts_from_it() {
    let q = compile(
        r#"{ residents(first: 50, orderBy: [{field: BIRTH_DATE}], where: {sex: {eq: FEMALE}, household: {where: {building: {where: {grid: {where: {id: {eq: "G00001"}}}}}}}}) {
            totalCount edges { node { id } } } }"#,
        serde_json::json!({}),
    );
    assert!(q[0].text.contains("MATCH (a"), "{}", q[0].text);
    insta::assert_yaml_snapshot!(q);
}

#[test]
fn federation_entities_are_one_query_of_index_seeks_under_the_plan() {
    let catalog = mandate_schema::hub_catalog().unwrap();
    let mut plan = AccessPlan::allow_all(&catalog);
    plan.fingerprint = "test-plan".into();
    let resident = plan.types.get_mut("Resident").unwrap();
    resident
        .fields
        .insert("idNumber".into(), FieldAccess::Masked(Mask::KeepEnds));
    resident.rows = Some(Filter::Compare {
        field: "lowIncome".into(),
        op: CompareOp::Eq,
        value: serde_json::json!(true),
    });
    let q = compile_with(
        &plan,
        r#"query($r: [_Any!]!) { _entities(representations: $r) {
            ... on Resident { name idNumber household { id } }
            ... on Building { address }
            ... on Household { unit } } }"#,
        serde_json::json!({"r": [
            {"__typename": "Resident", "id": "R00000001"},
            {"__typename": "Building", "id": "B00001"},
            {"__typename": "Resident", "id": "R00000002"},
            {"__typename": "Resident", "id": "R00000001"},
        ]}),
    );
    assert_eq!(q.len(), 1);
    // Household is not asked for: its fragment is not read.
    assert!(!q[0].text.contains("unit"), "{}", q[0].text);
    insta::assert_yaml_snapshot!(q);
}

/// A plan that limits the residents seen, so `Household.memberCount` is derived:
/// the count of the members the reader may see.
fn low_income_plan() -> AccessPlan {
    let catalog = mandate_schema::hub_catalog().unwrap();
    let mut plan = AccessPlan::allow_all(&catalog);
    plan.fingerprint = "test-plan".into();
    plan.types.get_mut("Resident").unwrap().rows = Some(Filter::Compare {
        field: "lowIncome".into(),
        op: CompareOp::Eq,
        value: serde_json::json!(true),
    });
    plan
}

/// The derived count's subquery: how often the text computes it.
fn counts_of_members(text: &str) -> usize {
    text.matches("COUNT { MATCH (n0)<-[:`MEMBER_OF`]-(").count()
}

#[test]
fn derived_counts_are_computed_once_per_row_in_a_with() {
    let plan = low_income_plan();
    // Many terms, a sort key and a read of one derived column: each of the
    // three copies (rows, total, counted) computes it once, in a WITH after
    // the index-served conditions, and every term reads its alias.
    let q = compile_with(
        &plan,
        r#"{ households(first: 5, orderBy: [{field: MEMBER_COUNT, direction: DESC}], where: {
            unit: {startsWith: "1-"},
            AND: [{memberCount: {gte: 1}}, {memberCount: {lte: 9}}, {memberCount: {in: [1, 2, 3]}},
                  {OR: [{memberCount: {eq: 2}}, {householdNumber: {eq: "x"}}]}, {NOT: {memberCount: {isNull: true}}}]}) {
            totalCount edges { node { id memberCount } } } }"#,
        serde_json::json!({}),
    );
    let text = &q[0].text;
    assert_eq!(counts_of_members(text), 3, "{text}");
    assert!(
        text.contains("MATCH (n0:`Household`) WHERE n0.`unit` STARTS WITH $p"),
        "the index-served condition stays on the MATCH: {text}"
    );
    assert!(
        !text.contains(
            "COUNT { MATCH (n0)<-[:`MEMBER_OF`]-(n1:`Resident`) WHERE n1.`lowIncome` = $p1 } >="
        ),
        "{text}"
    );
    insta::assert_yaml_snapshot!(q);
}

#[test]
fn derived_counts_in_lookups_nested_lists_relationship_filters_and_entities() {
    let plan = low_income_plan();
    let lookup = compile_with(
        &plan,
        r#"{ household(id: "H0000001") { memberCount m2: memberCount building {
            households(first: 3, orderBy: [{field: MEMBER_COUNT}], where: {memberCount: {gt: 1}, unit: {eq: "1-102"}}) {
                totalCount edges { node { id memberCount } } } } } }"#,
        serde_json::json!({}),
    );
    let related = compile_with(
        &plan,
        r#"{ residents(first: 5, where: {household: {where: {memberCount: {gte: 2}, unit: {startsWith: "1-"}}}}) {
            edges { node { id household { memberCount } } } } }"#,
        serde_json::json!({}),
    );
    let entities = compile_with(
        &plan,
        r#"query($r: [_Any!]!) { _entities(representations: $r) {
            ... on Household { memberCount } ... on Resident { household { memberCount } } } }"#,
        serde_json::json!({"r": [
            {"__typename": "Household", "id": "H0000001"},
            {"__typename": "Resident", "id": "R00000001"},
        ]}),
    );
    // Read twice under two keys, computed once.
    assert_eq!(counts_of_members(&lookup[0].text), 1, "{}", lookup[0].text);
    insta::assert_yaml_snapshot!((lookup, related, entities));
}
