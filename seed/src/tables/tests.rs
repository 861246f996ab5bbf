//! The embedded data files parse, and hold exactly the tables the generator
//! was written against (they were Rust constants before they became files).

use std::fmt::Write as _;

use sha2::{Digest, Sha256};

use super::*;

fn loaded() -> &'static Tables {
    tables().unwrap()
}

/// SHA-256 of a table written one record per line, fields joined by tabs.
fn fingerprint<T>(items: &[T], fields: impl Fn(&T) -> String) -> String {
    let mut text = String::new();
    for item in items {
        writeln!(text, "{}", fields(item)).unwrap();
    }
    let mut hex = String::new();
    for b in Sha256::digest(text.as_bytes()) {
        write!(hex, "{b:02x}").unwrap();
    }
    hex
}

fn words_print(items: &[&str]) -> String {
    fingerprint(items, |s| (*s).to_string())
}

fn pairs_print<A: std::fmt::Display, B: std::fmt::Display>(items: &[(A, B)]) -> String {
    fingerprint(items, |(a, b)| format!("{a}\t{b}"))
}

fn weights<A>(items: &[(A, u32)]) -> Vec<u32> {
    items.iter().map(|&(_, w)| w).collect()
}

#[test]
fn every_file_parses() {
    Tables::load().unwrap();
    for src in [
        HOUSEHOLD_SIZES,
        SURNAMES,
        GIVEN_NAMES,
        LOCAL_AREAS,
        MIGRANT_AREAS,
        MINORITIES,
        OCCUPATIONS,
        PHONE_PREFIXES,
        SUBDISTRICT_BASES,
        COMMUNITY_BASES,
        COMMUNITY_SUFFIXES,
        ROAD_BASES,
        ROAD_SUFFIXES,
        DISTRICT_DEPARTMENTS,
    ] {
        assert!(src.text.starts_with("# "), "{} has no header", src.file);
        assert!(
            src.text.contains("Columns:"),
            "{} names no columns",
            src.file
        );
    }
}

/// Lengths, weights and (through a SHA-256 of their text) every entry of the
/// tables, as the constants held them before they moved to data files.
#[test]
fn tables_match_the_old_constants() {
    let t = loaded();
    assert_eq!(
        t.household_sizes,
        [(1, 240), (2, 290), (3, 230), (4, 140), (5, 65), (6, 35)]
    );

    assert_eq!(t.surnames.len(), 99);
    assert_eq!(
        weights(&t.surnames),
        [
            710, 700, 670, 540, 450, 310, 220, 220, 200, 190, 170, 150, 150, 130, 130, 120, 120,
            110, 110, 100, 90, 90, 80, 70, 70, 70, 70, 70, 70, 60, 60, 60, 60, 50, 50, 50, 50, 50,
            50, 50, 50, 50, 40, 40, 40, 40, 40, 40, 40, 40, 40, 40, 30, 30, 30, 30, 30, 45, 30, 30,
            30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 20, 20, 20, 20, 20, 20, 20,
            20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 5, 1
        ]
    );
    assert_eq!(
        pairs_print(&t.surnames),
        "197b87325ac738af1dad25cf8b0eab3a34687c9317b64d21d2b9c8a6266f00e2"
    );

    assert_eq!(
        t.local_areas,
        [
            (340104, 45),
            (340103, 10),
            (340102, 9),
            (340111, 10),
            (340121, 5),
            (340122, 7),
            (340123, 7),
            (340124, 3),
            (340181, 4),
        ]
    );
    assert_eq!(t.migrant_areas.len(), 23);
    assert_eq!(
        weights(&t.migrant_areas),
        [8, 6, 7, 5, 4, 6, 5, 2, 2, 5, 2, 2, 2, 4, 2, 1, 1, 3, 2, 4, 1, 1, 1]
    );
    assert_eq!(
        pairs_print(&t.migrant_areas),
        "6510d3f090fa60334eee87eb81e31796a4202729cb9febae1f00b870d9fd1b02"
    );

    assert_eq!(t.minorities.len(), 15);
    assert_eq!(
        weights(&t.minorities),
        [30, 10, 12, 8, 6, 7, 4, 4, 3, 3, 3, 2, 2, 2, 2]
    );
    assert_eq!(
        pairs_print(&t.minorities),
        "fb6bef1513880d1fa50551184d5467ed211ae92a6a612a88b447309f18327dda"
    );

    assert_eq!(t.occupations.len(), 20);
    let occupation_weights: Vec<(u32, u32, u32)> = t
        .occupations
        .iter()
        .map(|&(_, m, f, x)| (m, f, x))
        .collect();
    assert_eq!(
        occupation_weights,
        [
            (120, 70, 160),
            (90, 80, 150),
            (80, 100, 80),
            (40, 30, 15),
            (25, 60, 40),
            (20, 20, 30),
            (2, 40, 50),
            (60, 5, 150),
            (45, 8, 250),
            (40, 5, 250),
            (50, 20, 60),
            (50, 15, 60),
            (60, 80, 120),
            (10, 45, 60),
            (25, 10, 150),
            (30, 3, 150),
            (1, 40, 250),
            (15, 40, 180),
            (15, 15, 100),
            (25, 45, 60),
        ]
    );
    assert_eq!(
        fingerprint(&t.occupations, |(a, b, c, d)| format!("{a}\t{b}\t{c}\t{d}")),
        "685289031ac998caf6eed65fac5073e6978ceeba6a6b4ceb68d655484a6118af"
    );

    let g = &t.given;
    for (list, len, print) in [
        (
            &g.male.single,
            40,
            "d00caed986f38bcbf43be63ad3c70cfa9361bf1ff686d3d988ceb4d6d0bf2e9f",
        ),
        (
            &g.female.single,
            32,
            "2e8548dc879ddbc2c30c28d98b431922147819a8144c4adcea1b007dd3350140",
        ),
        (
            &g.male.first,
            28,
            "6ef5e9ab105cf88a933940fce75231b82e6e1df80a96ab4f1c74e9d259d9a637",
        ),
        (
            &g.female.first,
            28,
            "f314b85f888cefe6720e98ab42b68b629d78819cba26c70626e8f87880c9bcc9",
        ),
        (
            &g.male.old,
            20,
            "ae46e8f7821b7c868d496a3e3c39267103b5fbcb5927c12bb1baa59c2e4d1b97",
        ),
        (
            &g.female.old,
            18,
            "e08584d1758ada4c953d0a837feb872f2f35c8c3cd83f56916feae1a1ec40b20",
        ),
        (
            &g.male.young,
            20,
            "0e9e99296a721c4d93e8ed5a162e76d5d68d39c990682009e47b2158c983fda4",
        ),
        (
            &g.female.young,
            20,
            "160acd38d7a6f19a1f8b6531437e57aa8daaca6d1c4430bbf2d4accdc27a9c47",
        ),
        (
            &t.phone_prefixes,
            39,
            "e6f0fac25b5f0848181e5d56b642f21771ffa597b253915e001564c2ee60af7e",
        ),
        (
            &t.subdistrict_bases,
            40,
            "fab804e3afe0f3473a82a149649a1fded39065657627bb7e9ae7e5395a5454ec",
        ),
        (
            &t.community_bases,
            75,
            "7b3cb0e860d31d79258147d252c58c2f0226733bfc201ee5eb8379345491f07f",
        ),
        (
            &t.road_bases,
            50,
            "10f0143d9ccd6ce956d3683593d5df3272fe900eb6f01f07935a570d59288e95",
        ),
    ] {
        assert_eq!(list.len(), len, "{list:?}");
        assert_eq!(words_print(list), print, "{list:?}");
    }
    assert_eq!(t.community_suffixes, ["", "东", "西", "南", "北", "中"]);
    assert_eq!(
        t.road_suffixes,
        ["路", "东路", "西路", "南路", "北路", "中路", "支路"]
    );
    assert_eq!(
        t.district_departments,
        [
            ("CIVIL_AFFAIRS", "民政局"),
            ("PUBLIC_SECURITY", "公安局"),
            ("HEALTH", "卫生健康委员会"),
            ("EDUCATION", "教育局"),
            ("HOUSING", "住房和城乡建设局"),
            ("HUMAN_RESOURCES", "人力资源和社会保障局"),
        ]
    );
}

#[test]
fn tables_are_well_formed() {
    let t = loaded();
    assert!(t.surnames.len() >= 60);
    for n in [
        t.household_sizes.len(),
        t.local_areas.len(),
        t.migrant_areas.len(),
        t.minorities.len(),
    ] {
        assert!(n > 0);
    }
    assert!(t.local_areas.iter().all(|&(a, w)| a / 100 == 3401 && w > 0));
    assert!(t
        .migrant_areas
        .iter()
        .all(|&(a, w)| a / 10_000 != 34 && w > 0));
    let mean: f64 = t
        .household_sizes
        .iter()
        .map(|&(s, w)| s as f64 * f64::from(w))
        .sum::<f64>()
        / f64::from(t.household_sizes.iter().map(|&(_, w)| w).sum::<u32>());
    assert!((2.5..2.7).contains(&mean), "{mean}");
}

fn parse_error<T: std::fmt::Debug>(r: Result<T, TableError>) -> String {
    let e = SeedError::from(r.unwrap_err());
    e.to_string()
}

#[test]
fn malformed_files_are_errors_with_a_line() {
    let src = |text| Source {
        file: "test.tsv",
        text,
    };
    assert_eq!(
        parse_error(weighted_words(src("# header\nA\t1\nB\n"))),
        "seed table test.tsv, line 3: 1 fields, expected 2"
    );
    assert_eq!(
        parse_error(weighted_words(src("A\tmany\n"))),
        "seed table test.tsv, line 1: field 2 is not a number: \"many\""
    );
    assert_eq!(
        parse_error(weighted_words(src("A\t\n"))),
        "seed table test.tsv, line 1: empty field"
    );
    assert_eq!(
        parse_error(words(src("# only a header\n\n"))),
        "seed table test.tsv, line 0: no records"
    );
    assert_eq!(
        parse_error(given_names(src("MALE\tsingle\t伟\nX\tsingle\t伟\n"))),
        "seed table test.tsv, line 2: sex \"X\" is not MALE or FEMALE"
    );
    assert_eq!(
        parse_error(given_names(src("MALE\tsingle\t伟\n"))),
        "seed table test.tsv, line 0: no MALE first names"
    );
    assert_eq!(
        suffixes(src("# c\n-\n东\r\n\n西\n")).unwrap(),
        ["", "东", "西"]
    );
}
