//! Checking one generated case against the hub: each variant rendered, asked
//! and compared with the reference (with its second page), the mismatch
//! report, and shrinking a failing case.

use std::rc::Rc;

use proptest::strategy::ValueTree;
use serde_json::{json, Value};

use crate::city::City;
use crate::common::TestHub;
use crate::hub::ask_steady;
use crate::oracle::Mandate;
use crate::query::{finalize, render, root_key, Case, Query, RootKind};
use crate::reference::{agrees, differences, Expect, Reference};
use crate::values::{Ids, Mix, Pools, Revalue};
use crate::PRINCIPALS;

pub(crate) static SECOND_PAGES: std::sync::atomic::AtomicUsize =
    std::sync::atomic::AtomicUsize::new(0);
/// Cases through the federation entry point, and those answering some entity.
pub(crate) static ENTITY_CASES: std::sync::atomic::AtomicUsize =
    std::sync::atomic::AtomicUsize::new(0);
pub(crate) static ENTITY_HITS: std::sync::atomic::AtomicUsize =
    std::sync::atomic::AtomicUsize::new(0);

/// One (officer, purpose) pair and what the lists grant it.
pub(crate) struct Combo {
    pub(crate) principal: usize,
    pub(crate) purpose: String,
    pub(crate) mandate: Mandate,
    /// Lookup ids of the mandate queries are shaped for.
    pub(crate) ids: Rc<Ids>,
}

pub(crate) struct Env {
    pub(crate) hub: TestHub,
    pub(crate) city: City,
    pub(crate) pools: Rc<Pools>,
    pub(crate) combos: Vec<Combo>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    Rejected,
    Denied,
    Data,
}

pub(crate) struct Mismatch {
    pub(crate) report: String,
}

/// Checks a case: its query as generated, then with each variant's values, one
/// after the other (the first plans the Cypher, the others reuse the plan).
pub(crate) async fn check(env: &Env, case: &Case) -> Result<Vec<Kind>, Mismatch> {
    let combo = &env.combos[case.combo];
    let mut q = case.query.clone();
    finalize(&mut q);
    let mut kinds = Vec::with_capacity(case.seeds.len() + 1);
    kinds.push(check_one(env, combo, &q).await?);
    for seed in &case.seeds {
        let mut v = q.clone();
        Revalue {
            city: &env.city,
            pools: &env.pools,
            ids: &combo.ids,
            mix: Mix(*seed),
        }
        .query(&mut v);
        kinds.push(check_one(env, combo, &v).await?);
    }
    Ok(kinds)
}

async fn check_one(env: &Env, combo: &Combo, q: &Query) -> Result<Kind, Mismatch> {
    let (text, vars) = render(q, &env.city);
    let reference = Reference {
        city: &env.city,
        m: &combo.mandate,
    };
    // The request goes out first; the reference answers while it is in flight.
    let (got, expect) = futures::join!(
        ask_steady(&env.hub, combo.principal, &combo.purpose, &text, &vars),
        async { reference.answer(q, None) }
    );
    let report = |expect: &Expect, got: &Value, vars: &Value, page: &str| {
        let (agency, roles) = PRINCIPALS[combo.principal];
        let (expected, diff) = match expect {
            Expect::Reject(code) => (format!("error {code}, no data"), String::new()),
            Expect::Data(d) => {
                let mut diffs = Vec::new();
                differences(d, &got["data"], "data", &mut diffs, 8);
                (
                    serde_json::to_string_pretty(&json!({ "data": d })).unwrap(),
                    diffs.join("\n  "),
                )
            }
        };
        Mismatch {
            report: format!(
                "agency:   {agency}\nroles:    {roles:?}\npurpose:  {}\n{page}query:\n{text}\nvariables: {vars}\ndifferences:\n  {diff}\nexpected: {expected}\ngot:      {}\n",
                combo.purpose,
                serde_json::to_string_pretty(got).unwrap()
            ),
        }
    };
    if !agrees(&expect, &got) {
        return Err(report(&expect, &got, &vars, ""));
    }
    if matches!(q.roots[0].kind, RootKind::Entities { .. }) {
        ENTITY_CASES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let hit = got["data"]["_entities"]
            .as_array()
            .is_some_and(|e| e.iter().any(|x| !x.is_null()));
        if hit {
            ENTITY_HITS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }
    let kind = match &expect {
        Expect::Reject("PURPOSE_NOT_ALLOWED" | "NOTHING_GRANTED") => Kind::Rejected,
        Expect::Reject(_) => Kind::Denied,
        Expect::Data(_) => Kind::Data,
    };
    // The second page, through the first page's endCursor.
    if kind == Kind::Data {
        if let Some(last) = reference.last_on_first_page(q) {
            let key = root_key(q, 0, &env.city);
            let cursor = got["data"][&key]["pageInfo"]["endCursor"].clone();
            let mut vars2 = vars.clone();
            vars2["after"] = cursor;
            SECOND_PAGES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let expect2 = reference.answer(q, Some(&last));
            let got2 = ask_steady(&env.hub, combo.principal, &combo.purpose, &text, &vars2).await;
            if !agrees(&expect2, &got2) {
                return Err(report(&expect2, &got2, &vars2, "(second page)\n"));
            }
        }
    }
    Ok(kind)
}

/// Shrinks a failing case through its value tree; returns the smallest report.
pub(crate) async fn shrink(
    env: &Env,
    tree: &mut dyn ValueTree<Value = Case>,
    mut report: String,
) -> (String, usize) {
    let mut steps = 0;
    if !tree.simplify() {
        return (report, steps);
    }
    while steps < 600 {
        steps += 1;
        match check(env, &tree.current()).await {
            Err(m) => {
                report = m.report;
                if !tree.simplify() {
                    break;
                }
            }
            Ok(_) => {
                if !tree.complicate() {
                    break;
                }
            }
        }
    }
    (report, steps)
}
