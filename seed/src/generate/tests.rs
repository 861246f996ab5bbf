//! The generator's invariants, checked on a 30,000-resident city: identity
//! numbers, ids, households, ages, hierarchy sizes, buildings, foreign keys,
//! departments and believable distributions; and the exact bytes of a small
//! city, so neither the code nor the data files can drift unnoticed.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::sync::OnceLock;

use sha2::{Digest, Sha256};

use super::*;
use crate::id_check_char;
use crate::ids::tests::reference_check_char;
use crate::ids::{civil_from_days, days_from_civil};
const N: usize = 30_000;

fn city() -> &'static City {
    static CITY: OnceLock<City> = OnceLock::new();
    CITY.get_or_init(|| {
        generate(&CityParams {
            residents: N,
            seed: 20_260_101,
        })
        .unwrap()
    })
}

fn parse_date(s: &str) -> (i32, u32, u32) {
    assert_eq!(s.len(), 10, "{s}");
    assert_eq!(&s[4..5], "-");
    assert_eq!(&s[7..8], "-");
    (
        s[0..4].parse().unwrap(),
        s[5..7].parse().unwrap(),
        s[8..10].parse().unwrap(),
    )
}

/// Age on 2026-01-01, computed without the module's helpers.
fn age(birth_date: &str) -> i32 {
    let (y, m, d) = parse_date(birth_date);
    2026 - y - i32::from((m, d) > (1, 1))
}

fn members(c: &City) -> HashMap<&str, Vec<&ResidentRow>> {
    let mut m: HashMap<&str, Vec<&ResidentRow>> = HashMap::new();
    for r in &c.residents {
        m.entry(r.household_id.as_str()).or_default().push(r);
    }
    m
}

#[test]
fn deterministic() {
    let p = CityParams {
        residents: 5_000,
        seed: 7,
    };
    let a = generate(&p).unwrap();
    let b = generate(&p).unwrap();
    assert_eq!(a, b);
    assert_eq!(
        serde_json::to_string(&a).unwrap(),
        serde_json::to_string(&b).unwrap()
    );
    let c = generate(&CityParams { seed: 8, ..p }).unwrap();
    assert_ne!(a, c);
    assert_ne!(a.residents, c.residents);
}

#[test]
fn serializes_camel_case() {
    let c = generate(&CityParams {
        residents: 10,
        seed: 1,
    })
    .unwrap();
    let v = serde_json::to_value(&c).unwrap();
    let r = &v["residents"][0];
    for key in [
        "id",
        "name",
        "idNumber",
        "birthDate",
        "sex",
        "phone",
        "hukouType",
        "ethnicity",
        "occupation",
        "disabilityStatus",
        "lowIncome",
        "elderlyLivingAlone",
        "householdId",
        "relationToHead",
    ] {
        assert!(r.get(key).is_some(), "missing {key}");
    }
    assert!(v["grids"][0].get("gridWorker").is_some());
    assert!(v["departments"][0].get("servesSubdistricts").is_some());
}

#[test]
fn exact_resident_count() {
    for n in [0usize, 1, 2, 3, 5, 17, 999, 4_321] {
        let c = generate(&CityParams {
            residents: n,
            seed: n as u64,
        })
        .unwrap();
        assert_eq!(c.residents.len(), n);
        let total: i64 = c.households.iter().map(|h| h.member_count).sum();
        assert_eq!(total, n as i64);
        assert!(!c.subdistricts.is_empty());
        assert!(!c.communities.is_empty());
        assert!(!c.grids.is_empty());
        assert_eq!(c.departments.len(), 6 + 2 * c.subdistricts.len());
    }
    assert_eq!(city().residents.len(), N);
}

#[test]
fn id_numbers_valid() {
    for r in &city().residents {
        let id = &r.id_number;
        assert_eq!(id.len(), 18, "{id}");
        assert!(id[..17].bytes().all(|b| b.is_ascii_digit()), "{id}");
        let check = id.chars().nth(17).unwrap();
        assert_eq!(check, reference_check_char(&id[..17]), "{id}");
        assert_eq!(Some(check), id_check_char(&id[..17]));
        let (y, m, d) = parse_date(&r.birth_date);
        assert_eq!(&id[6..14], format!("{y:04}{m:02}{d:02}"), "{id}");
        assert_eq!(civil_from_days(days_from_civil(y, m, d)), (y, m, d));
        let seq: u32 = id[14..17].parse().unwrap();
        assert_ne!(seq, 0);
        let expected = if seq % 2 == 1 { "MALE" } else { "FEMALE" };
        assert_eq!(r.sex, expected, "{id}");
        match r.hukou_type {
            "LOCAL" => assert!(id.starts_with("3401"), "{id}"),
            "MIGRANT" => assert!(!id.starts_with("34"), "{id}"),
            other => panic!("bad hukou {other}"),
        }
    }
}

#[test]
fn id_numbers_unique() {
    let c = city();
    let set: HashSet<&str> = c.residents.iter().map(|r| r.id_number.as_str()).collect();
    assert_eq!(set.len(), c.residents.len());
}

#[test]
fn ids_are_sequential_and_prefixed() {
    let c = city();
    for (i, s) in c.subdistricts.iter().enumerate() {
        assert_eq!(s.id, format!("S{:02}", i + 1));
        assert!(s.name.ends_with("街道"));
        assert_eq!(s.code, format!("340104{:03}", i + 1));
    }
    for (i, x) in c.communities.iter().enumerate() {
        assert_eq!(x.id, format!("C{:04}", i + 1));
        assert!(x.name.ends_with("社区"));
        assert_eq!(x.code.len(), 12);
    }
    for (i, x) in c.grids.iter().enumerate() {
        assert_eq!(x.id, format!("G{:05}", i + 1));
        assert!(x.name.contains("社区第") && x.name.ends_with("网格"));
        assert_eq!(x.code.len(), 15);
        assert!(x.code.bytes().all(|b| b.is_ascii_digit()));
    }
    for (i, x) in c.buildings.iter().enumerate() {
        assert_eq!(x.id, format!("B{:06}", i + 1));
    }
    for (i, x) in c.households.iter().enumerate() {
        assert_eq!(x.id, format!("H{:07}", i + 1));
    }
    for (i, x) in c.residents.iter().enumerate() {
        assert_eq!(x.id, format!("R{:08}", i + 1));
    }
    let names: HashSet<&str> = c.communities.iter().map(|x| x.name.as_str()).collect();
    assert_eq!(names.len(), c.communities.len());
    let names: HashSet<&str> = c.subdistricts.iter().map(|x| x.name.as_str()).collect();
    assert_eq!(names.len(), c.subdistricts.len());
}

#[test]
fn one_head_per_household_and_member_count() {
    let c = city();
    let m = members(c);
    assert_eq!(m.len(), c.households.len());
    for h in &c.households {
        let ms = &m[h.id.as_str()];
        assert_eq!(ms.len() as i64, h.member_count, "{}", h.id);
        assert!((1..=6).contains(&h.member_count));
        assert_eq!(ms.iter().filter(|r| r.relation_to_head == HEAD).count(), 1);
        assert_eq!(ms[0].relation_to_head, HEAD);
        assert!(ms.iter().filter(|r| r.relation_to_head == SPOUSE).count() <= 1);
        // Whole households share hukou type and low-income status.
        assert!(ms.iter().all(|r| r.hukou_type == ms[0].hukou_type));
        assert!(ms.iter().all(|r| r.low_income == ms[0].low_income));
    }
    let numbers: HashSet<&str> = c
        .households
        .iter()
        .map(|h| h.household_number.as_str())
        .collect();
    assert_eq!(numbers.len(), c.households.len());
    for h in &c.households {
        assert!(h.household_number.len() >= 9);
        assert!(h.household_number.bytes().all(|b| b.is_ascii_digit()));
    }
}

#[test]
fn ages_consistent_with_relations() {
    let c = city();
    for ms in members(c).values() {
        let head = age(&ms[0].birth_date);
        let spouse = ms
            .iter()
            .find(|r| r.relation_to_head == SPOUSE)
            .map(|r| age(&r.birth_date));
        if let Some(s) = spouse {
            assert!((head - s).abs() <= 8, "spouse {head} {s}");
        }
        for r in ms {
            let a = age(&r.birth_date);
            assert!((0..=MAX_AGE).contains(&a));
            match r.relation_to_head {
                CHILD => {
                    assert!((20..=40).contains(&(head - a)), "child {head} {a}");
                    if let Some(s) = spouse {
                        assert!((20..=40).contains(&(s - a)), "child {s} {a}");
                    }
                }
                PARENT => assert!((20..=40).contains(&(a - head)), "parent {head} {a}"),
                GRANDCHILD => {
                    assert!(head - a >= 40, "grandchild {head} {a}");
                    for p in ms
                        .iter()
                        .filter(|p| matches!(p.relation_to_head, CHILD | CHILD_IN_LAW))
                    {
                        let pa = age(&p.birth_date);
                        assert!((20..=40).contains(&(pa - a)), "grandchild {pa} {a}");
                    }
                }
                GRANDPARENT => assert!(a - head >= 40, "grandparent {head} {a}"),
                CHILD_IN_LAW => {
                    assert!(a >= 20);
                    assert!(ms.iter().any(
                        |p| p.relation_to_head == CHILD && (age(&p.birth_date) - a).abs() <= 8
                    ));
                }
                SPOUSE => assert!(a >= 20),
                HEAD | SIBLING | OTHER => assert!(a >= 16),
                other => panic!("bad relation {other}"),
            }
        }
    }
}

#[test]
fn grid_and_hierarchy_sizes() {
    let c = city();
    let mut per_grid: HashMap<&str, usize> = HashMap::new();
    let building_grid: HashMap<&str, &str> = c
        .buildings
        .iter()
        .map(|b| (b.id.as_str(), b.grid_id.as_str()))
        .collect();
    for h in &c.households {
        *per_grid
            .entry(building_grid[h.building_id.as_str()])
            .or_default() += 1;
    }
    let last = c.grids.len() - 1;
    for (i, g) in c.grids.iter().enumerate() {
        let n = per_grid.get(g.id.as_str()).copied().unwrap_or(0);
        if i < last {
            assert!((300..=500).contains(&n), "{} has {n}", g.id);
        } else {
            assert!(n <= 500);
        }
    }
    let mut per_comm: HashMap<&str, usize> = HashMap::new();
    for g in &c.grids {
        *per_comm.entry(g.community_id.as_str()).or_default() += 1;
    }
    for (i, x) in c.communities.iter().enumerate() {
        let n = per_comm[x.id.as_str()];
        assert!(
            n <= 10 && (n >= 5 || i + 1 == c.communities.len()),
            "{} {n}",
            x.id
        );
    }
    let mut per_sub: HashMap<&str, usize> = HashMap::new();
    for x in &c.communities {
        *per_sub.entry(x.subdistrict_id.as_str()).or_default() += 1;
    }
    for (i, s) in c.subdistricts.iter().enumerate() {
        let n = per_sub[s.id.as_str()];
        assert!(
            n <= 8 && (n >= 4 || i + 1 == c.subdistricts.len()),
            "{} {n}",
            s.id
        );
    }
    let workers = c.grids.iter().filter(|g| g.grid_worker.is_some()).count();
    assert!(workers > 0);
}

#[test]
fn buildings_are_plausible() {
    let c = city();
    let mut per_building: HashMap<&str, Vec<&str>> = HashMap::new();
    for h in &c.households {
        per_building
            .entry(h.building_id.as_str())
            .or_default()
            .push(h.unit.as_str());
    }
    let last = c.buildings.len() - 1;
    for (i, b) in c.buildings.iter().enumerate() {
        assert!((1..=33).contains(&b.floors));
        assert!(["A", "B", "C", "D"].contains(&b.safety_grade));
        assert!(
            b.address.contains('路') && b.address.ends_with('号'),
            "{}",
            b.address
        );
        if b.old_compound {
            assert!((5..=7).contains(&b.floors));
            assert!((1975..=2000).contains(&b.year_built));
        } else {
            assert!((2000..=2024).contains(&b.year_built));
        }
        let units = &per_building[b.id.as_str()];
        if i < last {
            assert!(
                (12..=120).contains(&units.len()),
                "{} {}",
                b.id,
                units.len()
            );
        }
        let distinct: HashSet<&&str> = units.iter().collect();
        assert_eq!(distinct.len(), units.len());
        for u in units {
            let (unit, rest) = u.split_once('-').unwrap();
            assert!(unit.parse::<u32>().unwrap() >= 1);
            let floor: i64 = rest[..rest.len() - 2].parse().unwrap();
            assert!(
                (1..=b.floors).contains(&floor),
                "{u} in {} floors",
                b.floors
            );
        }
    }
    let addresses: HashSet<&str> = c.buildings.iter().map(|b| b.address.as_str()).collect();
    assert_eq!(addresses.len(), c.buildings.len());
}

#[test]
fn foreign_keys_resolve() {
    let c = city();
    let subs: HashSet<&str> = c.subdistricts.iter().map(|x| x.id.as_str()).collect();
    let comms: HashSet<&str> = c.communities.iter().map(|x| x.id.as_str()).collect();
    let grids: HashSet<&str> = c.grids.iter().map(|x| x.id.as_str()).collect();
    let buildings: HashSet<&str> = c.buildings.iter().map(|x| x.id.as_str()).collect();
    let households: HashSet<&str> = c.households.iter().map(|x| x.id.as_str()).collect();
    assert!(c
        .communities
        .iter()
        .all(|x| subs.contains(x.subdistrict_id.as_str())));
    assert!(c
        .grids
        .iter()
        .all(|x| comms.contains(x.community_id.as_str())));
    assert!(c
        .buildings
        .iter()
        .all(|x| grids.contains(x.grid_id.as_str())));
    assert!(c
        .households
        .iter()
        .all(|x| buildings.contains(x.building_id.as_str())));
    assert!(c
        .residents
        .iter()
        .all(|x| households.contains(x.household_id.as_str())));
    for d in &c.departments {
        assert!(d
            .serves_subdistricts
            .iter()
            .all(|s| subs.contains(s.as_str())));
        assert!(d
            .serves_communities
            .iter()
            .all(|s| comms.contains(s.as_str())));
        assert!(d.serves_grids.iter().all(|s| grids.contains(s.as_str())));
    }
    // Every level is non-empty below the top.
    let used_grids: HashSet<&str> = c.buildings.iter().map(|b| b.grid_id.as_str()).collect();
    assert_eq!(used_grids.len(), c.grids.len());
    let used_buildings: HashSet<&str> = c
        .households
        .iter()
        .map(|h| h.building_id.as_str())
        .collect();
    assert_eq!(used_buildings.len(), c.buildings.len());
}

#[test]
fn departments_cover_the_city() {
    let c = city();
    assert_eq!(c.departments.len(), 6 + 2 * c.subdistricts.len());
    let all_subs: Vec<String> = c.subdistricts.iter().map(|s| s.id.clone()).collect();
    for code in [
        "CIVIL_AFFAIRS",
        "PUBLIC_SECURITY",
        "HEALTH",
        "EDUCATION",
        "HOUSING",
        "HUMAN_RESOURCES",
    ] {
        let d = c
            .departments
            .iter()
            .find(|d| d.id == format!("D-{code}"))
            .unwrap();
        assert_eq!(d.code, code);
        assert_eq!(d.level, "DISTRICT");
        assert_eq!(d.serves_subdistricts, all_subs);
    }
    let comm_sub: HashMap<&str, &str> = c
        .communities
        .iter()
        .map(|x| (x.id.as_str(), x.subdistrict_id.as_str()))
        .collect();
    for s in &c.subdistricts {
        let bare = s.name.trim_end_matches("街道");
        let gm = c
            .departments
            .iter()
            .find(|d| d.id == format!("D-GRID_MANAGEMENT-{}", s.id))
            .unwrap();
        assert_eq!(gm.level, "SUBDISTRICT");
        assert_eq!(gm.code, "GRID_MANAGEMENT");
        assert_eq!(gm.name, format!("{bare}网格化管理中心"));
        let expected: Vec<&str> = c
            .grids
            .iter()
            .filter(|g| comm_sub[g.community_id.as_str()] == s.id)
            .map(|g| g.id.as_str())
            .collect();
        assert_eq!(gm.serves_grids, expected);
        assert!(!expected.is_empty());
        let so = c
            .departments
            .iter()
            .find(|d| d.id == format!("D-STREET_OFFICE-{}", s.id))
            .unwrap();
        assert_eq!(so.code, "STREET_OFFICE");
        assert_eq!(so.name, format!("{bare}街道办事处"));
        assert_eq!(so.serves_subdistricts, vec![s.id.clone()]);
        let expected: Vec<&str> = c
            .communities
            .iter()
            .filter(|x| x.subdistrict_id == s.id)
            .map(|x| x.id.as_str())
            .collect();
        assert_eq!(so.serves_communities, expected);
    }
}

#[test]
fn elderly_living_alone_rule() {
    let c = city();
    let size: HashMap<&str, i64> = c
        .households
        .iter()
        .map(|h| (h.id.as_str(), h.member_count))
        .collect();
    let mut alone = 0;
    let mut elderly = 0;
    for r in &c.residents {
        let a = age(&r.birth_date);
        let expected = a >= 65 && size[r.household_id.as_str()] == 1;
        assert_eq!(r.elderly_living_alone, expected, "{}", r.id);
        elderly += usize::from(a >= 65);
        alone += usize::from(r.elderly_living_alone);
    }
    assert!(alone > 0);
    let share = alone as f64 / elderly as f64;
    assert!((0.02..0.2).contains(&share), "{share}");
}

#[test]
fn resident_fields_are_well_formed() {
    let c = city();
    for r in &c.residents {
        let a = age(&r.birth_date);
        let chars = r.name.chars().count();
        assert!((2..=4).contains(&chars), "{}", r.name);
        assert!(["MALE", "FEMALE"].contains(&r.sex));
        assert!(r.ethnicity.ends_with('族'));
        assert!(["NONE", "GRADE_1", "GRADE_2", "GRADE_3", "GRADE_4"].contains(&r.disability_status));
        if let Some(p) = &r.phone {
            let b = p.as_bytes();
            assert_eq!(b.len(), 11, "{p}");
            assert!(b.iter().all(u8::is_ascii_digit));
            assert_eq!(b[0], b'1');
            assert!((b'3'..=b'9').contains(&b[1]), "{p}");
        }
        if a < 12 {
            assert!(r.phone.is_none());
        }
        match a {
            0..=5 => assert_eq!(r.occupation, None),
            6..=17 => assert_eq!(r.occupation.as_deref(), Some("学生")),
            _ => assert!(r.occupation.is_some()),
        }
        if r.occupation.as_deref() == Some("退休") {
            assert!(a >= 55);
        }
    }
}

#[test]
fn distributions_are_believable() {
    let c = city();
    let n = c.residents.len() as f64;
    let share =
        |f: &dyn Fn(&ResidentRow) -> bool| c.residents.iter().filter(|r| f(r)).count() as f64 / n;
    let mean = n / c.households.len() as f64;
    assert!((2.4..2.8).contains(&mean), "mean household {mean}");
    let male = share(&|r| r.sex == "MALE");
    assert!((0.46..0.54).contains(&male), "male {male}");
    let migrant = share(&|r| r.hukou_type == "MIGRANT");
    assert!((0.2..0.3).contains(&migrant), "migrant {migrant}");
    let han = share(&|r| r.ethnicity == "汉族");
    assert!((0.88..0.96).contains(&han), "han {han}");
    let disabled = share(&|r| r.disability_status != "NONE");
    assert!((0.04..0.08).contains(&disabled), "disabled {disabled}");
    let severe = share(&|r| matches!(r.disability_status, "GRADE_1" | "GRADE_2"));
    assert!(severe < disabled / 2.0);
    let low = share(&|r| r.low_income);
    assert!((0.015..0.05).contains(&low), "low income {low}");
    let children = share(&|r| age(&r.birth_date) < 15);
    assert!((0.1..0.22).contains(&children), "children {children}");
    let elderly = share(&|r| age(&r.birth_date) >= 65);
    assert!((0.1..0.2).contains(&elderly), "elderly {elderly}");
    let old =
        c.buildings.iter().filter(|b| b.old_compound).count() as f64 / c.buildings.len() as f64;
    assert!((0.15..0.45).contains(&old), "old compounds {old}");
    let ab = c
        .buildings
        .iter()
        .filter(|b| matches!(b.safety_grade, "A" | "B"))
        .count() as f64
        / c.buildings.len() as f64;
    assert!(ab > 0.7, "A/B share {ab}");
    let mut sizes = [0usize; 7];
    for h in &c.households {
        sizes[h.member_count as usize] += 1;
    }
    assert!(sizes[1] + sizes[2] + sizes[3] > sizes[4] + sizes[5] + sizes[6]);
    assert!(sizes[6] > 0);
    let surname_of = |name: &str| -> &'static str {
        tables()
            .unwrap()
            .surnames
            .iter()
            .map(|&(s, _)| s)
            .filter(|s| name.starts_with(s))
            .max_by_key(|s| s.len())
            .unwrap()
    };
    let surnames: HashSet<&str> = c.residents.iter().map(|r| surname_of(&r.name)).collect();
    assert!(surnames.len() >= 60, "{}", surnames.len());
    let (mut kids, mut same) = (0, 0);
    for ms in members(c).values() {
        let head = surname_of(&ms[0].name);
        for r in ms.iter().filter(|r| r.relation_to_head == CHILD) {
            kids += 1;
            same += usize::from(surname_of(&r.name) == head);
        }
    }
    assert!(same as f64 / kids as f64 > 0.6, "{same}/{kids}");
    let relations: HashSet<&str> = c.residents.iter().map(|r| r.relation_to_head).collect();
    for rel in [
        HEAD,
        SPOUSE,
        CHILD,
        PARENT,
        GRANDCHILD,
        GRANDPARENT,
        SIBLING,
        CHILD_IN_LAW,
        OTHER,
    ] {
        assert!(relations.contains(rel), "no {rel}");
    }
}

fn city_sha256(params: CityParams) -> String {
    let json = serde_json::to_string(&generate(&params).unwrap()).unwrap();
    let mut hex = String::new();
    for b in Sha256::digest(json.as_bytes()) {
        write!(hex, "{b:02x}").unwrap();
    }
    hex
}

/// The exact city of one seed, as generated before the seeder moved out of
/// mandate-connectors and its tables became data files. A change here changes
/// every demo and test database: only accept a new hash on purpose.
#[test]
fn city_bytes_are_pinned() {
    assert_eq!(
        city_sha256(CityParams {
            residents: 3_000,
            seed: 11,
        }),
        "092b9cdfd4a21ce0b3d2d3831ec9045e5605fcde65b503746f77a000eaa0121d"
    );
}
