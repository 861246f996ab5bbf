//! No answer of a checked-in list lets a masked ID number be rebuilt, over HTTP
//! against the real Neo4j: for every plan that returns `idNumber` masked, the
//! characters the answer shows, with the birth date and sex it returns beside
//! them, still fit at least `MIN_CANDIDATES` GB 11643 numbers, counted here by
//! brute force, independently of the loader's own count.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

mod common;

use std::collections::BTreeSet;

use common::TestHub;
use mandate_policies::{Policies, MIN_CANDIDATES};
use serde_json::{json, Value};

const TODAY: &str = "2026-11-29";

const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];

fn check_char(first17: &[u8]) -> char {
    let sum: u32 = first17
        .iter()
        .zip(WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    CHECK[(sum % 11) as usize]
}

fn days_in(y: u32, m: u32) -> u32 {
    match m {
        2 if (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// What one answer shows about a resident's ID number.
struct Shown<'a> {
    /// The masked number: `*` where hidden.
    id: &'a str,
    /// `birthDate` as returned (`*` where masked), if returned.
    birth: Option<&'a str>,
    /// `sex` as returned, if returned.
    sex: Option<&'a str>,
}

/// How many ID numbers fit `shown` (stopping at `cap`). The region is taken as
/// known (`region`, the true one) whatever the answer shows; birth dates span
/// the hundred years to today.
fn candidates(shown: &Shown, region: &str, cap: u64) -> u64 {
    let id: Vec<char> = shown.id.chars().collect();
    assert_eq!(id.len(), 18, "{}", shown.id);
    let fits = |at: usize, c: char| id[at] == '*' || id[at] == c;
    let birth: Vec<char> = shown.birth.map(|b| b.chars().collect()).unwrap_or_default();
    let birth_fits = |at: usize, c: char| birth.get(at).is_none_or(|b| *b == '*' || *b == c);
    let mut n = 0;
    for y in 1926..=2026u32 {
        for m in 1..=12u32 {
            for d in 1..=days_in(y, m) {
                let date = format!("{y:04}{m:02}{d:02}");
                let text = format!("{y:04}-{m:02}-{d:02}");
                let ok = date.chars().enumerate().all(|(i, c)| fits(6 + i, c))
                    && text.chars().enumerate().all(|(i, c)| birth_fits(i, c));
                if !ok {
                    continue;
                }
                for seq in 0..1000u32 {
                    let seq = format!("{seq:03}");
                    let odd = (seq.as_bytes()[2] - b'0') % 2 == 1;
                    match shown.sex {
                        Some("MALE") if !odd => continue,
                        Some("FEMALE") if odd => continue,
                        _ => {}
                    }
                    if !seq.chars().enumerate().all(|(i, c)| fits(14 + i, c)) {
                        continue;
                    }
                    let first17 = format!("{region}{date}{seq}");
                    if fits(17, check_char(first17.as_bytes())) {
                        n += 1;
                        if n >= cap {
                            return n;
                        }
                    }
                }
            }
        }
    }
    n
}

/// Whether `real` is among the numbers `shown` fits: the count counts the truth.
fn fits_real(shown: &Shown, real: &str) -> bool {
    let birth_ok = shown.birth.is_none_or(|b| {
        b.chars()
            .zip(format!("{}-{}-{}", &real[6..10], &real[10..12], &real[12..14]).chars())
            .all(|(s, r)| s == '*' || s == r)
    });
    let sex_ok = match shown.sex {
        Some("MALE") => (real.as_bytes()[16] - b'0') % 2 == 1,
        Some("FEMALE") => (real.as_bytes()[16] - b'0').is_multiple_of(2),
        _ => true,
    };
    shown
        .id
        .chars()
        .zip(real.chars())
        .all(|(s, r)| s == '*' || s == r)
        && birth_ok
        && sex_ok
}

fn key_of(agency: &str, role: &str) -> String {
    format!("mk_masks_{agency}_{role}")
}

#[tokio::test]
async fn no_answer_of_the_lists_lets_a_masked_id_number_be_rebuilt() {
    // The brute force is the yardstick: it finds what keep_ends beside a birth
    // date gives away (the lists as they were), and the truth among what it counts.
    let real = "34010419880715041X";
    let old = Shown {
        id: "340104********041X",
        birth: Some("1988-07-15"),
        sex: Some("MALE"),
    };
    assert!(fits_real(&old, real));
    assert_eq!(candidates(&old, "340104", MIN_CANDIDATES), 1);

    let root = std::env::temp_dir().join(format!("mandate-masks-{}", std::process::id()));
    let policies_dir = root.join("policies");
    common::copy_policies(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies"),
        &policies_dir,
    );
    let catalog = mandate_schema::hub_catalog().unwrap();
    let policies = Policies::load(&policies_dir, &catalog).await.unwrap();
    // Every (agency, role, purpose) granting the ID number masked, with what else
    // it grants of residents.
    let plans: BTreeSet<(String, String, String)> = policies
        .items()
        .iter()
        .filter(|i| i.object == "Resident.idNumber" && i.action == "read_masked")
        .map(|i| (i.agency.clone(), i.role.clone(), i.purpose.clone()))
        .collect();
    assert!(plans.len() >= 5, "{plans:?}");
    let grants = |(agency, role, purpose): &(String, String, String), field: &str| {
        policies.items().iter().any(|i| {
            i.agency == *agency
                && i.role == *role
                && i.purpose == *purpose
                && i.object == format!("Resident.{field}")
        })
    };
    let entries: Vec<_> = plans
        .iter()
        .map(|(a, r, _)| (a.as_str(), vec![r.as_str()], key_of(a, r)))
        .collect();
    let keys = common::keys_file(&root, "masks", &entries);
    let mut config = common::test_config();
    config.auth.api_keys_file = keys.display().to_string();
    config.policies.dir = policies_dir.display().to_string();
    config.policies.today = TODAY.into();
    let hub = TestHub::start_with(config).await;

    let mut checked = 0;
    let mut answered = 0;
    for plan in &plans {
        let (agency, role, purpose) = plan;
        let mut fields = vec!["id", "idNumber"];
        fields.extend(["birthDate", "sex"].into_iter().filter(|f| grants(plan, f)));
        let q = format!(
            "{{ residents(first: 20, orderBy: [{{field: NAME}}]) {{ edges {{ node {{ {} }} }} }} }}",
            fields.join(" ")
        );
        let body: Value = hub
            .client
            .post(hub.url("/graphql"))
            .header("x-api-key", key_of(agency, role))
            .header("x-mandate-purpose", purpose.as_str())
            .header("x-mandate-case", "CASE-2026-0001")
            .json(&json!({ "query": q }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(body.get("errors").is_none(), "{plan:?}: {body:#}");
        let rows = body["data"]["residents"]["edges"].as_array().unwrap();
        // (The small test city may have no resident in a grid centre's grids.)
        answered += usize::from(!rows.is_empty());
        for row in rows {
            let r = &row["node"];
            let id = r["id"].as_str().unwrap();
            let real = hub
                .reference(
                    "MATCH (r:Resident {id: $id}) RETURN r.idNumber AS n",
                    json!({ "id": id }),
                )
                .await[0]["n"]
                .as_str()
                .unwrap()
                .to_string();
            let shown = Shown {
                id: r["idNumber"].as_str().unwrap(),
                birth: r["birthDate"].as_str(),
                sex: r["sex"].as_str(),
            };
            assert_ne!(shown.id, real, "{plan:?}: masked");
            assert!(fits_real(&shown, &real), "{plan:?}: {r}");
            let n = candidates(&shown, &real[..6], MIN_CANDIDATES);
            assert!(
                n >= MIN_CANDIDATES,
                "{plan:?}: {r} leaves {n} ID numbers (fewer than {MIN_CANDIDATES})"
            );
            checked += 1;
        }
    }
    assert!(
        answered >= 5,
        "{answered} of {} plans answered",
        plans.len()
    );
    assert!(checked >= 5 * 10, "{checked} residents checked");
    std::fs::remove_dir_all(&root).ok();
}
