//! `mandate import` against the real Neo4j: the real binary for the command
//! line (summary, reject file, refusal of fields not owned), the library for
//! the rest (JSON lines by a department that does not own the key, Excel,
//! failing closed when the audit record cannot be written).
//!
//! Each test writes its own residents and buildings (ids with a prefix of its
//! own, ID numbers with a region code of its own), removes them before and
//! after, and leaves the test city alone.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use mandate_connectors::import::{self, ImportError, ImportSettings, Mode};
use mandate_connectors::{AuditWriter, Neo4jSettings, Neo4jStore};
use serde_json::{json, Map, Value};

const HEALTH_KEY: &str = "key-import-read-health-00000000";

fn uri() -> String {
    std::env::var("MANDATE_TEST_NEO4J_URI").unwrap_or_else(|_| "bolt://127.0.0.1:7697".into())
}

fn password() -> String {
    std::env::var("MANDATE_TEST_NEO4J_PASSWORD").unwrap_or_else(|_| "mandate-test-password".into())
}

fn settings_for(uri: &str) -> Neo4jSettings {
    Neo4jSettings {
        uri: uri.to_string(),
        user: "neo4j".into(),
        password: password(),
        database: None,
        max_connections: 4,
        query_timeout: Duration::from_secs(30),
        connect_timeout: Duration::from_secs(2),
    }
}

static SCHEMA: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();

/// The test Neo4j, with the catalog's constraints applied once (concurrent
/// `CREATE ... IF NOT EXISTS` of one index can race).
async fn store() -> Neo4jStore {
    let store = Neo4jStore::new(&settings_for(&uri())).expect("store");
    SCHEMA
        .get_or_init(|| async {
            let catalog = mandate_schema::hub_catalog().expect("catalog");
            mandate_connectors::apply_schema(&store, &catalog)
                .await
                .expect("test Neo4j reachable: run the tests with scripts/test");
        })
        .await;
    store
}

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/imports")
}

/// A GB 11643 ID number: region, birth date (YYYYMMDD), order, sex digit, check.
fn id_number(region: &str, birth: &str, order: u32, male: bool) -> String {
    let first = format!(
        "{region}{birth}{:02}{}",
        order % 100,
        if male { 1 } else { 2 }
    );
    let chars: Vec<char> = first.chars().collect();
    let check = import::validate::mod11_2(&chars).expect("digits");
    format!("{first}{check}")
}

fn params(pairs: &[(&str, Value)]) -> Map<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

async fn clean(store: &Neo4jStore, prefix: &str) {
    store
        .execute(
            "MATCH (n) WHERE (n:Resident OR n:Building) AND n.id STARTS WITH $prefix DETACH DELETE n",
            params(&[("prefix", json!(prefix))]),
        )
        .await
        .expect("clean");
}

async fn residents(store: &Neo4jStore, prefix: &str) -> Vec<Value> {
    store
        .rows(
            "MATCH (r:Resident) WHERE r.id STARTS WITH $prefix
             RETURN r.id AS id, r.name AS name, r.idNumber AS idNumber,
                    toString(r.birthDate) AS birthDate, r.birthDate IS :: DATE AS isDate,
                    r.sex AS sex, r.hukouType AS hukouType, r.ethnicity AS ethnicity,
                    r.disabilityStatus AS disabilityStatus, r.lowIncome AS lowIncome,
                    r.elderlyLivingAlone AS elderlyLivingAlone
             ORDER BY r.id",
            params(&[("prefix", json!(prefix))]),
        )
        .await
        .expect("residents")
}

/// The import records of `chain` whose target names `file`.
async fn import_records(store: &Neo4jStore, chain: &str, file: &str) -> Vec<Value> {
    store
        .rows(
            "MATCH (a:AuditRecord {chain: $chain}) WHERE a.target CONTAINS $file
             RETURN a.action AS action, a.target AS target, a.agency AS agency,
                    a.fields AS fields, a.decision AS decision ORDER BY a.seq",
            params(&[
                ("chain", json!(chain)),
                ("file", json!(format!("file:{file} "))),
            ]),
        )
        .await
        .expect("audit records")
}

async fn assert_chain_verifies(store: &Neo4jStore, chain: &str) {
    let v = mandate_audit::verify_log(store, Some(chain))
        .await
        .expect("read log");
    assert!(v.problems.is_empty(), "chain {chain}: {:?}", v.problems);
    assert!(
        v.chains.get(chain).copied().unwrap_or(0) > 0,
        "chain {chain} is empty"
    );
}

fn mandate(args: &[&str], chain: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_mandate"))
        .args(args)
        .env("NEO4J_URI", uri())
        .env("NEO4J_PASSWORD", password())
        .env("MANDATE__AUDIT__CHAIN", chain)
        .env_remove("MANDATE_CONFIG")
        .output()
        .expect("run mandate")
}

fn rejects_of(path: &Path) -> Vec<(u64, String)> {
    let mut reader = csv::Reader::from_path(path).expect("reject file");
    reader
        .records()
        .map(|r| {
            let r = r.expect("reject record");
            (r[0].parse().expect("line"), r[1].to_string())
        })
        .collect()
}

/// The examples: residents from a CSV (owner, upsert), then civil affairs'
/// fields from JSON lines (update by a key it does not own), through the
/// binary; good rows land, bad ones are rejected with line and reason, a
/// re-run changes nothing, and each run left one audit record on a chain that
/// verifies.
#[tokio::test]
async fn csv_and_jsonl_examples_import_reject_and_rerun_idempotently() {
    let store = store().await;
    clean(&store, "R-IMPORT-").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let chain = "test-import-cli";
    let audit_chain = format!("{chain}-import");
    let csv_file = dir.path().join("residents.csv");
    std::fs::copy(examples().join("residents.csv"), &csv_file).expect("copy");
    let mapping = examples().join("residents.mapping.toml");
    let run = || {
        mandate(
            &[
                "import",
                "--department",
                "D-PUBLIC_SECURITY",
                "--mapping",
                mapping.to_str().expect("path"),
                csv_file.to_str().expect("path"),
            ],
            chain,
        )
    };
    let out = run();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("rows read: 9, imported: 5, rejected: 4"),
        "{stdout}"
    );
    assert!(stdout.contains("rows/s"), "{stdout}");

    let rejects = rejects_of(&dir.path().join("residents.csv.rejects.csv"));
    let lines: Vec<u64> = rejects.iter().map(|(l, _)| *l).collect();
    assert_eq!(lines, vec![5, 8, 9, 10], "{rejects:?}");
    assert!(
        rejects[0]
            .1
            .contains("公民身份号码 (idNumber): the check character does not match"),
        "{rejects:?}"
    );
    assert!(
        rejects[1].1.contains("not a valid date") || rejects[1].1.contains("not a date"),
        "{rejects:?}"
    );
    assert!(
        rejects[2].1.contains("性别 (sex): not a Sex value"),
        "{rejects:?}"
    );
    assert!(
        rejects[3].1.contains("姓名 (name): required, but empty"),
        "{rejects:?}"
    );

    let got = residents(&store, "R-IMPORT-").await;
    assert_eq!(got.len(), 5, "{got:?}");
    assert_eq!(got[0]["name"], "张伟");
    assert_eq!(got[0]["idNumber"], "990101198003120110");
    assert_eq!(got[0]["sex"], "MALE");
    assert_eq!(got[0]["hukouType"], "LOCAL");
    assert_eq!(
        got[1]["birthDate"], "1992-07-05",
        "a date in the 年月日 format"
    );
    assert_eq!(got[1]["isDate"], true, "stored as a Neo4j date");
    assert_eq!(got[2]["hukouType"], "MIGRANT");
    assert_eq!(
        got[0]["lowIncome"],
        Value::Null,
        "civil affairs' field not written by PUBLIC_SECURITY"
    );

    // Another department reads a resident the import created before civil
    // affairs recorded its fields: they answer null ("not recorded yet"), the
    // resident and the rest of the answer are intact.
    let hub = {
        let keys = common::keys_file(
            dir.path(),
            "import-read",
            &[("D-HEALTH", vec!["health_officer"], HEALTH_KEY.into())],
        );
        let mut config = common::test_config();
        config.auth.api_keys_file = keys.display().to_string();
        common::TestHub::start_with(config).await
    };
    let body: Value = hub
        .post_as(
            HEALTH_KEY,
            "elderly_health_service",
            "CASE-IMPORT-READ",
            r#"{ a: resident(id: "R-IMPORT-0003") { id name disabilityStatus elderlyLivingAlone }
                 b: residents(first: 2) { edges { node { id disabilityStatus } } } }"#,
            json!({}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(
        body["data"]["a"],
        json!({"id": "R-IMPORT-0003", "name": "李娜", "disabilityStatus": null, "elderlyLivingAlone": null})
    );
    assert_eq!(body["data"]["b"]["edges"].as_array().unwrap().len(), 2);

    // Re-running changes nothing.
    let out = run();
    assert!(out.status.success());
    let again = residents(&store, "R-IMPORT-").await;
    assert_eq!(again, got);

    // Civil affairs' fields, keyed on the ID number it does not own.
    let jsonl = dir.path().join("civil-affairs.jsonl");
    std::fs::copy(examples().join("civil-affairs.jsonl"), &jsonl).expect("copy");
    let rejects_path = dir.path().join("ca-rejects.csv");
    let out = mandate(
        &[
            "import",
            "--department",
            "D-CIVIL_AFFAIRS",
            "--mapping",
            examples()
                .join("civil-affairs.mapping.toml")
                .to_str()
                .expect("path"),
            "--rejects",
            rejects_path.to_str().expect("path"),
            jsonl.to_str().expect("path"),
        ],
        chain,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("rows read: 7, imported: 4, rejected: 3"),
        "{stdout}"
    );
    let rejects = rejects_of(&rejects_path);
    assert_eq!(rejects.len(), 3, "{rejects:?}");
    assert!(rejects.contains(&(6, "残疾等级 (disabilityStatus): not a DisabilityStatus value (NONE, GRADE_1, GRADE_2, GRADE_3, GRADE_4); add a [codes] table to map the file's values".to_string())), "{rejects:?}");
    assert!(
        rejects.contains(&(7, "not a JSON object".to_string())),
        "{rejects:?}"
    );
    assert!(
        rejects.contains(&(5, "no Resident has this idNumber".to_string())),
        "{rejects:?}"
    );
    let got = residents(&store, "R-IMPORT-").await;
    assert_eq!(got[1]["disabilityStatus"], "GRADE_2");
    assert_eq!(got[1]["lowIncome"], true);
    assert_eq!(got[2]["elderlyLivingAlone"], true);
    assert_eq!(
        got[3]["lowIncome"],
        Value::Null,
        "the rejected row wrote nothing"
    );
    assert_eq!(
        got[1]["name"], "王芳",
        "fields it does not own are untouched"
    );
    assert_eq!(got[1]["idNumber"], "990101199207050227");
    let count = store
        .rows(
            "MATCH (r:Resident {idNumber: '990101195001011013'}) RETURN count(r) AS n",
            Map::new(),
        )
        .await
        .expect("count");
    assert_eq!(count[0]["n"], 0, "an update never creates a node");

    // One record per run, written as an import, naming the file and the counts.
    let records = import_records(&store, &audit_chain, "residents.csv").await;
    assert!(records.len() >= 2, "{records:?}");
    let last = &records[records.len() - 1];
    assert_eq!(last["action"], "import.write");
    assert_eq!(last["agency"], "D-PUBLIC_SECURITY");
    let target = last["target"].as_str().unwrap_or_default();
    assert!(
        target.contains("type:Resident mode:upsert rows:9 valid:5 rejected:4"),
        "{target}"
    );
    assert!(target.contains("sha256:"), "{target}");
    assert!(last["fields"]
        .as_array()
        .is_some_and(|f| f.contains(&json!("Resident.name"))));
    let records = import_records(&store, &audit_chain, "civil-affairs.jsonl").await;
    let last = &records[records.len() - 1];
    assert!(
        last["target"]
            .as_str()
            .unwrap_or_default()
            .contains("mode:update rows:7 valid:5 rejected:2"),
        "{last}"
    );
    assert_chain_verifies(&store, &audit_chain).await;

    clean(&store, "R-IMPORT-").await;
}

/// A mapping naming a field the department does not own is refused before any
/// row is read, with a message naming the field, its owner and what the
/// department may import; nothing is written, not even a reject file.
#[tokio::test]
async fn a_field_not_owned_is_refused_before_any_row_is_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mapping = dir.path().join("m.toml");
    std::fs::write(
        &mapping,
        "type = \"Resident\"\nkey = \"idNumber\"\n[columns]\n\"身份证号\" = \"idNumber\"\n\"电话\" = \"phone\"\n\"低保\" = \"lowIncome\"\n",
    )
    .expect("write");
    let data = dir.path().join("d.csv");
    std::fs::write(
        &data,
        "身份证号,电话,低保\n990101198003120110,13800138000,true\n",
    )
    .expect("write");
    let out = mandate(
        &[
            "import",
            "--department",
            "D-CIVIL_AFFAIRS",
            "--mapping",
            mapping.to_str().expect("path"),
            data.to_str().expect("path"),
        ],
        "test-import-refused",
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("CIVIL_AFFAIRS may import only the fields it owns; the mapping also writes Resident.phone (GRID_MANAGEMENT)"),
        "{stderr}"
    );
    assert!(stderr.contains("Resident.lowIncome"), "{stderr}");
    assert!(
        !dir.path().join("d.csv.rejects.csv").exists(),
        "no row was read"
    );

    // The library refuses the same way.
    let catalog = mandate_schema::hub_catalog().expect("catalog");
    let e = import::plan_for(&mapping, &catalog, "CIVIL_AFFAIRS").err();
    assert!(
        matches!(e, Some(ImportError::NotOwned { ref fields, .. }) if fields == &vec!["Resident.phone (GRID_MANAGEMENT)".to_string()]),
        "{e:?}"
    );
}

/// A file whose header lacks a mapped column is refused whole, before the
/// audit record and any write; no reject file is left.
#[tokio::test]
async fn a_file_missing_a_mapped_column_is_refused_whole() {
    let store = store().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("partial.csv");
    std::fs::write(&file, "人员编号,姓名\nIMPT-M-1,王芳\n").expect("write");
    let audit = AuditWriter::start(
        store.clone(),
        "test-import-missing".into(),
        Duration::from_secs(10),
    );
    let catalog = mandate_schema::hub_catalog().expect("catalog");
    let s = import_settings(
        "D-PUBLIC_SECURITY",
        examples().join("residents.mapping.toml"),
        file,
        "missing-run",
    );
    let e = import::import(&store, &audit, &catalog, &s)
        .await
        .err()
        .map(|e| e.to_string());
    let e = e.unwrap_or_default();
    assert!(
        e.contains("the header has no column 公民身份号码, 出生日期"),
        "{e}"
    );
    assert!(!dir.path().join("partial.csv.rejects.csv").exists());
    assert!(import_records(&store, "test-import-missing", "partial.csv")
        .await
        .is_empty());
    assert!(residents(&store, "IMPT-M-").await.is_empty());
}

/// Writes a residents workbook: a header row, then one resident a row with the
/// birth date as an Excel date cell and the ID number as text; `bad` rows get
/// a broken check character.
fn residents_xlsx(path: &Path, prefix: &str, region: &str, n: u32, bad: &[u32]) {
    use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    let date = Format::new().set_num_format("yyyy-mm-dd");
    for (c, h) in [
        "人员编号",
        "姓名",
        "公民身份号码",
        "出生日期",
        "性别",
        "户籍类型",
        "民族",
    ]
    .iter()
    .enumerate()
    {
        sheet.write_string(0, c as u16, *h).expect("header");
    }
    for i in 1..=n {
        let (y, m, d) = (1950 + i % 50, 1 + i % 12, 1 + i % 28);
        let male = i % 2 == 0;
        let mut id = id_number(region, &format!("{y}{m:02}{d:02}"), i, male);
        if bad.contains(&i) {
            let last = if id.ends_with('0') { "1" } else { "0" };
            id.replace_range(17.., last);
        }
        let row = i;
        sheet
            .write_string(row, 0, format!("{prefix}{i:04}"))
            .expect("cell");
        sheet
            .write_string(row, 1, format!("测试{i}"))
            .expect("cell");
        sheet.write_string(row, 2, &id).expect("cell");
        let when = ExcelDateTime::from_ymd(y as u16, m as u8, d as u8).expect("date");
        sheet
            .write_datetime_with_format(row, 3, &when, &date)
            .expect("cell");
        sheet
            .write_string(row, 4, if male { "男" } else { "女" })
            .expect("cell");
        sheet.write_string(row, 5, "本地").expect("cell");
        sheet.write_string(row, 6, "汉族").expect("cell");
    }
    workbook.save(path).expect("save workbook");
}

fn import_settings(department: &str, mapping: PathBuf, file: PathBuf, id: &str) -> ImportSettings {
    ImportSettings {
        department: department.to_string(),
        officer: "test-officer".into(),
        request_id: id.to_string(),
        mapping,
        file,
        rejects: None,
        batch_size: 7,
        parallel: 3,
        progress: false,
    }
}

/// An Excel workbook imports through the same mapping as the CSV: date cells
/// become dates, rows span several batches, a bad row is rejected with its
/// Excel row number.
#[tokio::test]
async fn an_xlsx_export_imports() {
    let store = store().await;
    clean(&store, "IMPT-X-").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("residents.xlsx");
    residents_xlsx(&file, "IMPT-X-", "990203", 30, &[12]);
    let audit = AuditWriter::start(
        store.clone(),
        "test-import-xlsx".into(),
        Duration::from_secs(10),
    );
    let catalog = mandate_schema::hub_catalog().expect("catalog");
    let settings = import_settings(
        "D-PUBLIC_SECURITY",
        examples().join("residents.mapping.toml"),
        file.clone(),
        "xlsx-run",
    );
    let summary = import::import(&store, &audit, &catalog, &settings)
        .await
        .expect("import");
    assert_eq!(
        (summary.read, summary.imported, summary.rejected),
        (30, 29, 1),
        "{summary}"
    );
    assert_eq!(summary.mode, Mode::Upsert);
    let rejects = rejects_of(&summary.rejects);
    assert_eq!(rejects.len(), 1);
    assert_eq!(rejects[0].0, 13, "row 13 in Excel holds resident 12");
    assert!(rejects[0].1.contains("check character"), "{rejects:?}");
    let got = residents(&store, "IMPT-X-").await;
    assert_eq!(got.len(), 29);
    assert_eq!(got[0]["id"], "IMPT-X-0001");
    assert_eq!(got[0]["birthDate"], "1951-02-02");
    assert_eq!(got[0]["isDate"], true);
    assert_eq!(got[0]["sex"], "FEMALE");
    // Again: the same 29.
    let again = import::import(&store, &audit, &catalog, &settings)
        .await
        .expect("re-run");
    assert_eq!(again.imported, 29);
    assert_eq!(residents(&store, "IMPT-X-").await, got);
    assert_chain_verifies(&store, "test-import-xlsx").await;
    clean(&store, "IMPT-X-").await;
}

/// The housing example workbook (a named sheet; integers, booleans and enums
/// through code tables).
#[tokio::test]
async fn the_buildings_example_workbook_imports() {
    let store = store().await;
    clean(&store, "B-IMPORT-").await;
    let audit = AuditWriter::start(
        store.clone(),
        "test-import-buildings".into(),
        Duration::from_secs(10),
    );
    let catalog = mandate_schema::hub_catalog().expect("catalog");
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("buildings.xlsx");
    std::fs::copy(examples().join("buildings.xlsx"), &file).expect("copy");
    let settings = import_settings(
        "D-HOUSING",
        examples().join("buildings.mapping.toml"),
        file,
        "buildings-run",
    );
    let summary = import::import(&store, &audit, &catalog, &settings)
        .await
        .expect("import");
    assert_eq!(
        (summary.read, summary.imported, summary.rejected),
        (4, 3, 1),
        "{summary}"
    );
    let rejects = rejects_of(&summary.rejects);
    assert_eq!(rejects[0].0, 5);
    assert!(
        rejects[0]
            .1
            .contains("建成年份 (yearBuilt): expected an integer"),
        "{rejects:?}"
    );
    let got = store
        .rows(
            "MATCH (b:Building) WHERE b.id STARTS WITH 'B-IMPORT-'
             RETURN b.id AS id, b.yearBuilt AS year, b.oldCompound AS old, b.safetyGrade AS grade
             ORDER BY b.id",
            Map::new(),
        )
        .await
        .expect("buildings");
    assert_eq!(
        got,
        vec![
            json!({"id": "B-IMPORT-001", "year": 1985, "old": true, "grade": "B"}),
            json!({"id": "B-IMPORT-002", "year": 2012, "old": false, "grade": "A"}),
            json!({"id": "B-IMPORT-003", "year": 1968, "old": true, "grade": "D"}),
        ]
    );
    clean(&store, "B-IMPORT-").await;
}

/// A row whose unique field another node already holds is rejected (its batch
/// is retried row by row, the rest of the batch lands), and a key repeated in
/// one file ends with its last row, lanes or not.
#[tokio::test]
async fn a_unique_conflict_is_rejected_and_a_repeated_key_keeps_its_last_row() {
    let store = store().await;
    clean(&store, "IMPT-C-").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let audit = AuditWriter::start(
        store.clone(),
        "test-import-conflict".into(),
        Duration::from_secs(10),
    );
    let catalog = mandate_schema::hub_catalog().expect("catalog");
    let header = "人员编号,姓名,公民身份号码,出生日期,性别,户籍类型,民族\n";
    let a = id_number("990405", "19800101", 1, true);
    let b = id_number("990405", "19810202", 2, false);
    let first = dir.path().join("first.csv");
    std::fs::write(
        &first,
        format!("{header}IMPT-C-1,王甲,{a},1980-01-01,男,本地,汉族\nIMPT-C-2,王乙,{b},1981-02-02,女,本地,汉族\n"),
    )
    .expect("write");
    let mapping = examples().join("residents.mapping.toml");
    let s = import_settings("D-PUBLIC_SECURITY", mapping.clone(), first, "conflict-1");
    let summary = import::import(&store, &audit, &catalog, &s)
        .await
        .expect("import");
    assert_eq!(summary.imported, 2, "{summary}");

    let mut rows = String::from(header);
    rows.push_str(&format!("IMPT-C-3,王丙,{a},1980-01-01,男,本地,汉族\n")); // line 2: A's ID number
    for i in 0..20 {
        rows.push_str(&format!("IMPT-C-1,王甲{i},{a},1980-01-01,男,本地,汉族\n"));
        // lines 3..=22
    }
    let second = dir.path().join("second.csv");
    std::fs::write(&second, rows).expect("write");
    let s = import_settings("D-PUBLIC_SECURITY", mapping, second, "conflict-2");
    let summary = import::import(&store, &audit, &catalog, &s)
        .await
        .expect("import");
    assert_eq!(
        (summary.read, summary.imported, summary.rejected),
        (21, 20, 1),
        "{summary}"
    );
    let rejects = rejects_of(&summary.rejects);
    assert_eq!(
        rejects,
        vec![(
            2,
            "a unique field's value belongs to another node already".to_string()
        )]
    );
    let got = residents(&store, "IMPT-C-").await;
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(
        got[0]["name"], "王甲19",
        "the last row of a repeated key wins"
    );
    clean(&store, "IMPT-C-").await;
}

/// Fail closed: when the audit record cannot be written, the import reports
/// failure and writes nothing.
#[tokio::test]
async fn an_import_that_cannot_be_audited_writes_nothing() {
    let store = store().await;
    clean(&store, "IMPT-A-").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("residents.xlsx");
    residents_xlsx(&file, "IMPT-A-", "990304", 5, &[]);
    // An audit store nothing listens on (a port of this test's range).
    let mut dead = settings_for("bolt://127.0.0.1:8731");
    dead.query_timeout = Duration::from_secs(1);
    let dead = Neo4jStore::new(&dead).expect("settings");
    let audit = AuditWriter::start(dead, "test-import-dead".into(), Duration::from_secs(3));
    let catalog = mandate_schema::hub_catalog().expect("catalog");
    let settings = import_settings(
        "PUBLIC_SECURITY",
        examples().join("residents.mapping.toml"),
        file,
        "dead-run",
    );
    let e = import::import(&store, &audit, &catalog, &settings).await;
    assert!(matches!(e, Err(ImportError::Audit(_))), "{e:?}");
    assert!(
        residents(&store, "IMPT-A-").await.is_empty(),
        "nothing imported"
    );
}

/// Writes `examples/imports/buildings.xlsx` (run once with `--ignored` when
/// the example changes).
#[test]
#[ignore = "writes the example workbook"]
fn write_example_buildings_workbook() {
    use rust_xlsxwriter::Workbook;
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    sheet.set_name("楼栋").expect("name");
    let rows: [(&str, &str, &str, f64, &str, &str); 4] = [
        ("B-IMPORT-001", "幸福路12号", "1985", 6.0, "是", "B级"),
        ("B-IMPORT-002", "光明街3号", "2012", 18.0, "否", "A级"),
        ("B-IMPORT-003", "建设巷7号", "1968", 4.0, "是", "D级"),
        ("B-IMPORT-004", "新村路1号", "八十年代", 5.0, "是", "C级"),
    ];
    for (c, h) in [
        "楼栋编号",
        "地址",
        "建成年份",
        "层数",
        "老旧小区",
        "安全等级",
    ]
    .iter()
    .enumerate()
    {
        sheet.write_string(0, c as u16, *h).expect("header");
    }
    for (i, (id, address, year, floors, old, grade)) in rows.iter().enumerate() {
        let r = i as u32 + 1;
        sheet.write_string(r, 0, *id).expect("cell");
        sheet.write_string(r, 1, *address).expect("cell");
        match year.parse::<f64>() {
            Ok(y) => sheet.write_number(r, 2, y).expect("cell"),
            Err(_) => sheet.write_string(r, 2, *year).expect("cell"),
        };
        sheet.write_number(r, 3, *floors).expect("cell");
        sheet.write_string(r, 4, *old).expect("cell");
        sheet.write_string(r, 5, *grade).expect("cell");
    }
    workbook
        .save(examples().join("buildings.xlsx"))
        .expect("save");
}

/// Writes the workbook `bench/import` measures xlsx imports with: the columns
/// of examples/imports/residents.mapping.toml, `MANDATE_BENCH_XLSX_ROWS` rows
/// of BENCH- residents (unique ids and ID numbers, birth dates as date cells),
/// to `MANDATE_BENCH_XLSX`.
#[test]
#[ignore = "writes a benchmark workbook (bench/import)"]
fn write_bench_workbook() {
    use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
    let path = std::env::var("MANDATE_BENCH_XLSX").expect("MANDATE_BENCH_XLSX");
    let rows: u32 = std::env::var("MANDATE_BENCH_XLSX_ROWS")
        .expect("MANDATE_BENCH_XLSX_ROWS")
        .parse()
        .expect("rows");
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    let date = Format::new().set_num_format("yyyy-mm-dd");
    for (c, h) in [
        "人员编号",
        "姓名",
        "公民身份号码",
        "出生日期",
        "性别",
        "户籍类型",
        "民族",
    ]
    .iter()
    .enumerate()
    {
        sheet.write_string(0, c as u16, *h).expect("header");
    }
    let base = chrono::NaiveDate::from_ymd_opt(1940, 1, 1).expect("date");
    for n in 1..=rows {
        let day = base + chrono::Duration::days(i64::from(n % 20_000));
        let male = n % 2 == 1;
        let region = format!("{}", 970_000 + n / 20_000);
        let id = id_number(&region, &day.format("%Y%m%d").to_string(), 0, male);
        let when = ExcelDateTime::from_ymd(
            u16::try_from(chrono::Datelike::year(&day)).expect("year"),
            chrono::Datelike::month(&day) as u8,
            chrono::Datelike::day(&day) as u8,
        )
        .expect("date");
        sheet
            .write_string(n, 0, format!("BENCH-X{n:07}"))
            .expect("cell");
        sheet
            .write_string(
                n,
                1,
                format!("王{}", ["伟", "芳", "娜", "敏", "静"][(n % 5) as usize]),
            )
            .expect("cell");
        sheet.write_string(n, 2, &id).expect("cell");
        sheet
            .write_datetime_with_format(n, 3, &when, &date)
            .expect("cell");
        sheet
            .write_string(n, 4, if male { "男" } else { "女" })
            .expect("cell");
        sheet.write_string(n, 5, "本地").expect("cell");
        sheet.write_string(n, 6, "汉族").expect("cell");
    }
    workbook.save(path).expect("save workbook");
}
