//! Hostile input to the loaders an operator feeds (proptest, no database): the
//! responsibility lists and the configuration, each mutated from the checked-in
//! files — characters and lines inserted, deleted, duplicated and swapped,
//! columns replaced, odd unicode, deep nesting, huge values.
//!
//! - The lists (`Policies::from_texts`, `Policies::load`,
//!   `Policies::load_failing_closed`): a list either loads or is refused with an
//!   error naming its file and a line that exists; a file left out by the
//!   failing-closed load grants nothing; plans compile from whatever loaded.
//! - The configuration (`Config::load_from`, file and environment): it loads,
//!   passing its own checks, or is refused with a message in words (a TOML
//!   error names the file, line and column; an environment variable, its name).
//!
//! Never a panic, never a stack overflow. Bounded: a fixed number of cases
//! (`PROPTEST_CASES` overrides it); inputs that once broke a loader are kept
//! below as named regression cases.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use mandate_policies::{Jurisdiction, PlanKey, Policies, PolicyError, ScopeContext};
use proptest::prelude::{any, prop, prop_oneof, Just, ProptestConfig};
use proptest::strategy::{BoxedStrategy, Strategy};
use proptest::test_runner::{TestCaseError, TestRunner};

fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(ProptestConfig {
        cases,
        // Failures are kept by hand, as named cases below.
        failure_persistence: None,
        ..ProptestConfig::default()
    })
}

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// A scratch folder of this process.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "mandate-fuzz-loaders-{name}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

// --- mutations of a text ---------------------------------------------------------------------

/// One edit of a text, at a position chosen by an index.
#[derive(Debug, Clone)]
enum Edit {
    Insert(prop::sample::Index, String),
    Delete(prop::sample::Index, usize),
    /// Replaces a whole line.
    ReplaceLine(prop::sample::Index, String),
    DuplicateLine(prop::sample::Index),
    SwapLines(prop::sample::Index, prop::sample::Index),
    /// Cuts the text short.
    Truncate(prop::sample::Index),
    /// Swaps two comma-separated columns of a line.
    SwapColumns(
        prop::sample::Index,
        prop::sample::Index,
        prop::sample::Index,
    ),
}

fn apply(text: &str, edits: &[Edit]) -> String {
    let mut t = text.to_string();
    let boundary = |t: &str, i: &prop::sample::Index| {
        let at = i.index(t.len() + 1);
        (0..=at).rev().find(|p| t.is_char_boundary(*p)).unwrap_or(0)
    };
    for e in edits {
        match e {
            Edit::Insert(i, s) => {
                let at = boundary(&t, i);
                t.insert_str(at, s);
            }
            Edit::Delete(i, n) => {
                let at = boundary(&t, i);
                let end = (at..=t.len().min(at + n))
                    .rev()
                    .find(|p| t.is_char_boundary(*p))
                    .unwrap_or(at);
                t.replace_range(at..end, "");
            }
            Edit::ReplaceLine(i, s) => {
                let mut lines: Vec<String> = t.lines().map(str::to_string).collect();
                if lines.is_empty() {
                    lines.push(s.clone());
                } else {
                    let at = i.index(lines.len());
                    lines[at] = s.clone();
                }
                t = lines.join("\n");
            }
            Edit::DuplicateLine(i) => {
                let mut lines: Vec<String> = t.lines().map(str::to_string).collect();
                if !lines.is_empty() {
                    let at = i.index(lines.len());
                    lines.insert(at, lines[at].clone());
                }
                t = lines.join("\n");
            }
            Edit::SwapLines(a, b) => {
                let mut lines: Vec<String> = t.lines().map(str::to_string).collect();
                if !lines.is_empty() {
                    let (a, b) = (a.index(lines.len()), b.index(lines.len()));
                    lines.swap(a, b);
                }
                t = lines.join("\n");
            }
            Edit::Truncate(i) => {
                let at = boundary(&t, i);
                t.truncate(at);
            }
            Edit::SwapColumns(l, a, b) => {
                let mut lines: Vec<String> = t.lines().map(str::to_string).collect();
                if !lines.is_empty() {
                    let at = l.index(lines.len());
                    let mut cols: Vec<String> = lines[at].split(',').map(str::to_string).collect();
                    let (a, b) = (a.index(cols.len()), b.index(cols.len()));
                    cols.swap(a, b);
                    lines[at] = cols.join(",");
                }
                t = lines.join("\n");
            }
        }
    }
    t
}

/// Pieces spliced into a text: the syntax's own characters, words of the
/// vocabulary, odd unicode, long and deep runs.
fn piece(vocabulary: &'static [&'static str]) -> BoxedStrategy<String> {
    prop_oneof![
        4 => prop::sample::select(vocabulary).prop_map(str::to_string),
        3 => prop::sample::select(&[
            ",", "\"", "'", "\n", "\r\n", "#", "=", "[", "]", "{", "}", "(", ")", "|", "&", ".",
            "-", " ", "\t", "\u{feff}", "\u{0}", "\u{202e}", "é", "界", "🦀", "\\", "\\u",
        ][..])
        .prop_map(str::to_string),
        2 => "\\PC{1,12}",
        1 => (1usize..5000).prop_map(|n| "x".repeat(n)),
        1 => (1usize..100_000, prop::sample::select(&["(", "[", "{", "[[", "a.", "((a|"][..]))
            .prop_map(|(n, s)| s.repeat(n)),
    ]
    .boxed()
}

fn edits(
    vocabulary: &'static [&'static str],
    line: BoxedStrategy<String>,
) -> impl Strategy<Value = Vec<Edit>> {
    let index = any::<prop::sample::Index>;
    let edit = prop_oneof![
        4 => (index(), piece(vocabulary)).prop_map(|(i, s)| Edit::Insert(i, s)),
        2 => (index(), 1usize..40).prop_map(|(i, n)| Edit::Delete(i, n)),
        4 => (index(), line).prop_map(|(i, s)| Edit::ReplaceLine(i, s)),
        1 => index().prop_map(Edit::DuplicateLine),
        1 => (index(), index()).prop_map(|(a, b)| Edit::SwapLines(a, b)),
        1 => index().prop_map(Edit::Truncate),
        2 => (index(), index(), index()).prop_map(|(l, a, b)| Edit::SwapColumns(l, a, b)),
    ];
    prop::collection::vec(edit, 1..5)
}

// --- the responsibility lists ----------------------------------------------------------------

const LIST_WORDS: [&str; 40] = [
    "p",
    "g",
    "caseworker",
    "officer",
    "investigator",
    "D-CIVIL_AFFAIRS",
    "D-PUBLIC_SECURITY",
    "D-GRID_MANAGEMENT-S01",
    "D-HEALTH",
    "subsidy_review",
    "case_investigation",
    "Resident",
    "Resident.idNumber",
    "Resident.household",
    "Household.members.relationToHead",
    "Building",
    "AccessReceipt",
    "Purpose",
    "rows",
    "read",
    "read_masked",
    "confidential",
    "keep_ends",
    "phone",
    "redact",
    "-",
    "jurisdiction",
    "low_income_household",
    "elderly_living_alone",
    "school_age",
    "jurisdiction&(school_age|guardian_of_school_age)",
    "((((low_income_household))))",
    "a|",
    "&&",
    "()",
    "Resident.nope",
    "Nope.id",
    "Resident.household.members.id",
    "《个人信息保护法》第44条",
    "D-",
];

/// A list line: `p`/`g` with columns from the vocabulary or junk, any count.
fn list_line() -> BoxedStrategy<String> {
    let column = prop_oneof![
        6 => prop::sample::select(&LIST_WORDS[..]).prop_map(str::to_string),
        1 => "\\PC{0,10}",
        1 => Just(String::new()),
    ];
    prop_oneof![
        4 => prop::collection::vec(column.clone(), 6..=6).prop_map(|c| format!("p, {}", c.join(", ") + ", 《法》第1条")),
        1 => prop::collection::vec(column.clone(), 3..=3).prop_map(|c| format!("g, {}", c.join(", "))),
        1 => prop::collection::vec(column, 0..10).prop_map(|c| c.join(",")),
        1 => (1usize..50_000).prop_map(|n| {
            format!("p, caseworker, D-CIVIL_AFFAIRS, subsidy_review, Resident, rows, {}low_income_household{}, 《法》", "(".repeat(n), ")".repeat(n))
        }),
    ]
    .boxed()
}

struct Lists {
    model: String,
    files: Vec<(PathBuf, String)>,
    catalog: mandate_schema::Catalog,
    runtime: tokio::runtime::Runtime,
}

fn lists() -> &'static Lists {
    static LISTS: OnceLock<Lists> = OnceLock::new();
    LISTS.get_or_init(|| {
        let dir = repo("policies");
        let model = std::fs::read_to_string(dir.join("model.conf")).unwrap();
        let mut files: Vec<(PathBuf, String)> = std::fs::read_dir(dir.join("lists"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "csv"))
            .map(|p| {
                let text = std::fs::read_to_string(&p).unwrap();
                (p, text)
            })
            .collect();
        files.sort();
        Lists {
            model,
            files,
            catalog: mandate_schema::hub_catalog().unwrap(),
            runtime: tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap(),
        }
    })
}

/// Checks a refusal names one of `files` and a line the file has.
fn names_file_and_line(e: &PolicyError, files: &[(PathBuf, String)]) -> Result<(), String> {
    match e {
        PolicyError::Line { path, line, .. } => {
            let Some((_, text)) = files.iter().find(|(p, _)| p == path) else {
                return Err(format!("names a file it was not given: {e}"));
            };
            let lines = text.lines().count().max(1);
            if *line == 0 || *line > lines {
                return Err(format!("line {line} of {lines}: {e}"));
            }
            Ok(())
        }
        other => Err(format!("not a line error: {other}")),
    }
}

/// Plans for some (agency, role, purpose) the lists name — `pick` chooses which
/// (casbin is slow in a debug build): compiling never fails or panics on what
/// loaded.
fn compile_some(p: &Policies, pick: prop::sample::Index) -> Result<(), String> {
    let mut keys: Vec<(String, String, String)> = p
        .items()
        .iter()
        .map(|i| (i.agency.clone(), i.role.clone(), i.purpose.clone()))
        .collect();
    keys.sort();
    keys.dedup();
    if keys.is_empty() {
        return Ok(());
    }
    let first = pick.index(keys.len());
    for (agency, role, purpose) in keys.into_iter().skip(first).take(2) {
        let department = agency
            .strip_prefix("D-")
            .and_then(|a| a.split('-').next())
            .unwrap_or("")
            .to_string();
        let key = PlanKey {
            agency,
            department,
            roles: vec![role],
            purpose,
            context: ScopeContext {
                jurisdiction: Jurisdiction {
                    grids: vec!["G00001".into()],
                    communities: vec!["C0001".into()],
                    subdistricts: vec!["S01".into()],
                },
                today: "2026-11-29".into(),
            },
        };
        p.compile(&key).map_err(|e| format!("{key:?}: {e}"))?;
    }
    Ok(())
}

#[test]
fn mutated_lists_load_or_are_refused_naming_file_and_line() {
    let l = lists();
    let n = cases(200);
    let strategy = (
        0..l.files.len(),
        edits(&LIST_WORDS, list_line()),
        prop::bool::weighted(0.3),
        any::<prop::sample::Index>(),
    );
    let dir = scratch("lists");
    let started = std::time::Instant::now();
    let (loaded, refused) = (Cell::new(0), Cell::new(0));
    let result = runner(n).run(&strategy, |(which, edits, through_files, pick)| {
        let mut files = l.files.clone();
        files[which].1 = apply(&files[which].1, &edits);
        let outcome = if through_files {
            // Through the folder, as the hub reads it: also the failing-closed
            // reload, where only the mutated file may be left out.
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(dir.join("lists")).unwrap();
            std::fs::write(dir.join("model.conf"), &l.model).unwrap();
            let mut written = Vec::new();
            for (path, text) in &files {
                let to = dir.join("lists").join(path.file_name().unwrap());
                std::fs::write(&to, text).unwrap();
                written.push((to, text.clone()));
            }
            let strict = l.runtime.block_on(Policies::load(&dir, &l.catalog));
            let (kept, left_out) = l
                .runtime
                .block_on(Policies::load_failing_closed(&dir, &l.catalog))
                .map_err(|e| TestCaseError::fail(format!("the folder does not load: {e}")))?;
            for e in &left_out {
                names_file_and_line(e, &written).map_err(TestCaseError::fail)?;
                let PolicyError::Line { path, .. } = e else {
                    unreachable!()
                };
                let source = format!("{}:", path.display());
                if kept.items().iter().any(|i| i.source.starts_with(&source)) {
                    return Err(TestCaseError::fail(format!(
                        "{} was left out but grants: {e}",
                        path.display()
                    )));
                }
            }
            if left_out.len() > 1 {
                return Err(TestCaseError::fail(format!(
                    "one file changed, {} left out",
                    left_out.len()
                )));
            }
            if strict.is_ok() != left_out.is_empty() {
                return Err(TestCaseError::fail(format!(
                    "strict load {:?} but {} files left out",
                    strict.as_ref().err().map(ToString::to_string),
                    left_out.len()
                )));
            }
            compile_some(&kept, pick).map_err(TestCaseError::fail)?;
            strict.map(|_| ()).map_err(|e| (e, written))
        } else {
            l.runtime
                .block_on(Policies::from_texts(&l.model, &files, &l.catalog))
                .map_err(|e| (e, files.clone()))
                .and_then(|p| {
                    compile_some(&p, pick).map_err(|m| (PolicyError::Casbin(m), files.clone()))
                })
        };
        match outcome {
            Ok(()) => loaded.set(loaded.get() + 1),
            Err((e, files)) => {
                names_file_and_line(&e, &files).map_err(TestCaseError::fail)?;
                refused.set(refused.get() + 1);
            }
        }
        Ok(())
    });
    println!(
        "fuzz/lists: {n} cases in {:.1} s: {} loaded, {} refused with file and line",
        started.elapsed().as_secs_f64(),
        loaded.get(),
        refused.get()
    );
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// Found by the generator: a scope nested some thousand parentheses deep (a few
/// KB on one line) overflowed the stack of the thread loading the lists — the
/// hub's reload, on a worker — and aborted the process. A chain `a&a&…` of
/// as many terms nested as deep. Now refused with the file and line.
#[test]
fn deep_and_long_scopes_are_refused_naming_file_and_line() {
    let l = lists();
    let civil = l
        .files
        .iter()
        .position(|(p, _)| p.ends_with("civil-affairs.csv"))
        .unwrap();
    for scope in [
        format!(
            "{}low_income_household{}",
            "(".repeat(5_000),
            ")".repeat(5_000)
        ),
        vec!["low_income_household"; 50_000].join("&"),
        vec!["low_income_household"; 50_000].join("|"),
    ] {
        let mut files = l.files.clone();
        let text = &mut files[civil].1;
        text.push_str(&format!(
            "p, caseworker, D-CIVIL_AFFAIRS, subsidy_review, Resident, rows, {scope}, 《法》\n"
        ));
        let lines = text.lines().count();
        let Err(err) = l
            .runtime
            .block_on(Policies::from_texts(&l.model, &files, &l.catalog))
        else {
            panic!("a scope of {} bytes accepted", scope.len());
        };
        names_file_and_line(&err, &files).unwrap();
        let PolicyError::Line { line, message, .. } = &err else {
            unreachable!()
        };
        assert_eq!(*line, lines, "{err}");
        assert!(message.contains("at most"), "{message}");
    }
}

// --- the configuration -----------------------------------------------------------------------

const CONFIG_WORDS: [&str; 36] = [
    "[server]",
    "[neo4j]",
    "[limits]",
    "[log]",
    "[auth]",
    "[auth.jwt]",
    "[auth.jwt.key_agencies]",
    "[policies]",
    "[audit]",
    "[[key]]",
    "listen",
    "max_page_size",
    "default_page_size",
    "max_connections",
    "query_timeout_ms",
    "jwks_url",
    "jwks_refresh_secs",
    "today",
    "journal",
    "format",
    "true",
    "false",
    "0",
    "-1",
    "18446744073709551616",
    "1e309",
    "nan",
    "\"\"",
    "\"127.0.0.1:0\"",
    "\"https://idp.example.gov/jwks.json\"",
    "\"2026-02-30\"",
    "[]",
    "{}",
    "= ",
    "'''",
    "\"\"\"",
];

fn config_line() -> BoxedStrategy<String> {
    let key = prop_oneof![
        4 => prop::sample::select(&CONFIG_WORDS[10..20]).prop_map(str::to_string),
        1 => "[a-z_.]{1,20}",
        1 => "\\PC{1,8}",
    ];
    let value = prop_oneof![
        4 => prop::sample::select(&CONFIG_WORDS[20..]).prop_map(str::to_string),
        1 => "\\PC{0,12}".prop_map(|s| format!("{s:?}")),
        1 => any::<i64>().prop_map(|n| n.to_string()),
        1 => (1usize..20_000).prop_map(|n| format!("{}1{}", "[".repeat(n), "]".repeat(n))),
        1 => (1usize..20_000).prop_map(|n| format!("{}{}", "{a=".repeat(n), "}".repeat(n))),
    ];
    prop_oneof![
        6 => (key, value).prop_map(|(k, v)| format!("{k} = {v}")),
        2 => prop::sample::select(&CONFIG_WORDS[..10]).prop_map(str::to_string),
        1 => "\\[[a-z_.]{0,20}\\]",
        1 => (1usize..2000).prop_map(|n| format!("[{}]", vec!["a"; n].join("."))),
    ]
    .boxed()
}

/// Environment variables: the hub's own names, malformed paths, odd values.
fn environment() -> impl Strategy<Value = Vec<(String, String)>> {
    let name = prop_oneof![
        3 => prop::sample::select(&[
            "MANDATE__SERVER__LISTEN",
            "MANDATE__LIMITS__MAX_PAGE_SIZE",
            "MANDATE__NEO4J__MAX_CONNECTIONS",
            "MANDATE__AUTH__JWT__JWKS_URL",
            "MANDATE__POLICIES__TODAY",
            "MANDATE__AUDIT__JOURNAL_MAX_BACKLOG",
            "MANDATE__LOG__FORMAT",
            "NEO4J_URI",
            "NEO4J_PASSWORD",
            "MANDATE__",
            "MANDATE____",
            "MANDATE__SERVER",
            "MANDATE__SERVER__",
            "MANDATE__SERVER____LISTEN",
            "MANDATE__A__B__C__D__E",
            "MANDATE__AUTH__JWT__KEY_AGENCIES__K",
        ][..])
        .prop_map(str::to_string),
        1 => "MANDATE__[A-Z_]{0,30}",
        1 => "MANDATE__\\PC{1,10}",
    ];
    let value = prop_oneof![
        3 => prop::sample::select(&CONFIG_WORDS[20..]).prop_map(str::to_string),
        1 => "\\PC{0,20}",
        1 => any::<i64>().prop_map(|n| n.to_string()),
    ];
    prop::collection::vec((name, value), 0..4)
}

/// Found by the generator: an environment variable `MANDATE__…` whose rest is no
/// key path (`MANDATE__`, `MANDATE__SERVER____LISTEN`, `MANDATE__界`) was refused
/// with the bare path — `configuration error: ` followed by nothing, a dot, or
/// the garbage — naming neither the variable nor what is wrong with it.
#[test]
fn malformed_environment_keys_are_refused_naming_the_variable() {
    for key in [
        "MANDATE__",
        "MANDATE____",
        "MANDATE__SERVER__",
        "MANDATE__SERVER____LISTEN",
        "MANDATE__界",
        "MANDATE__SERVER__LISTEN]",
    ] {
        let err = mandate::Config::load_from(None, vec![(key.to_string(), "x".to_string())])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(&format!("environment variable {key}"))
                && err.contains("MANDATE__SERVER__LISTEN"),
            "{key}: {err:?}"
        );
    }
}

#[test]
fn mutated_configuration_loads_or_is_refused_clearly() {
    let base = std::fs::read_to_string(repo("examples/mandate.toml")).unwrap();
    let dir = scratch("config");
    let file = dir.join("mandate.toml");
    let n = cases(1500);
    let (loaded, refused) = (Cell::new(0), Cell::new(0));
    let started = std::time::Instant::now();
    let strategy = (
        edits(&CONFIG_WORDS, config_line()),
        environment(),
        any::<bool>(),
    );
    let result = runner(n).run(&strategy, |(edits, env, with_file)| {
        std::fs::write(&file, apply(&base, &edits)).unwrap();
        let outcome = mandate::Config::load_from(with_file.then_some(file.as_path()), env.clone());
        match outcome {
            Ok(_) => loaded.set(loaded.get() + 1),
            Err(e) => {
                let text = e.to_string();
                if !text.starts_with("configuration error: ")
                    || text.len() <= "configuration error: ".len()
                {
                    return Err(TestCaseError::fail(format!("unclear: {text:?}")));
                }
                if text.contains("panicked") || text.contains(".rs:") {
                    return Err(TestCaseError::fail(format!("internal text: {text:?}")));
                }
                // Clear: says something in words, not only an echo of the input.
                let detail = &text["configuration error: ".len()..];
                let worded = detail
                    .split(|c: char| !c.is_ascii_alphabetic())
                    .any(|w| w.len() >= 4);
                if detail.len() < 12 || !worded {
                    return Err(TestCaseError::fail(format!(
                        "unclear: {text:?} for {env:?}"
                    )));
                }
                refused.set(refused.get() + 1);
            }
        }
        Ok(())
    });
    println!(
        "fuzz/config: {n} cases in {:.1} s: {} loaded, {} refused",
        started.elapsed().as_secs_f64(),
        loaded.get(),
        refused.get()
    );
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(e) = result {
        panic!("{e}");
    }
}
