//! The city generator: [`generate`] builds a believable urban district in
//! China (Hefei-like, area codes `3401xx`): subdistricts (街道), communities
//! (社区), grids (网格), buildings, households, residents and the city
//! departments that serve them, as flat rows linked by string ids. It does no
//! I/O and knows nothing about Neo4j.
//!
//! Everything is driven by one `ChaCha8Rng` seeded from [`CityParams::seed`]
//! and a fixed reference date of 2026-01-01, so the same [`CityParams`] always
//! produce the same, byte-identical [`City`].
//!
//! [`Gen`] carries the generation state; its methods are split by stage:
//! `structure` (subdistricts down to buildings), `compose` (who lives in a
//! household) and `people` (household and resident rows); the departments are
//! derived here once everything else exists.

use std::hash::BuildHasherDefault;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::ids::KeySet;
use crate::names::{full_name, NamePool};
use crate::pick::{chance, pick_str, uniform, Weighted};
use crate::tables::{tables, Tables};
use crate::SeedError;

mod compose;
mod people;
mod structure;

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CityParams {
    /// Exact number of residents in the city.
    pub residents: usize,
    /// Seed for the deterministic random number generator.
    pub seed: u64,
}

/// A generated city: flat row tables linked by string foreign keys.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct City {
    /// Subdistricts (街道).
    pub subdistricts: Vec<SubdistrictRow>,
    /// Communities (社区).
    pub communities: Vec<CommunityRow>,
    /// Grids (网格).
    pub grids: Vec<GridRow>,
    /// Residential buildings.
    pub buildings: Vec<BuildingRow>,
    /// Registered households (户).
    pub households: Vec<HouseholdRow>,
    /// Residents (居民).
    pub residents: Vec<ResidentRow>,
    /// Government departments.
    pub departments: Vec<DepartmentRow>,
}

/// A subdistrict (街道), e.g. `S01` "三里庵街道".
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SubdistrictRow {
    /// Stable id, the node key in Neo4j.
    pub id: String,
    /// Name.
    pub name: String,
    /// Administrative code.
    pub code: String,
}

/// A community (社区) inside a subdistrict.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CommunityRow {
    /// Stable id, the node key in Neo4j.
    pub id: String,
    /// Name.
    pub name: String,
    /// Administrative code.
    pub code: String,
    /// The subdistrict it belongs to.
    pub subdistrict_id: String,
}

/// A grid (网格) inside a community, holding 300–500 households.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GridRow {
    /// Stable id, the node key in Neo4j.
    pub id: String,
    /// Name.
    pub name: String,
    /// Administrative code.
    pub code: String,
    /// The grid worker (网格员) in charge, if any.
    pub grid_worker: Option<String>,
    /// The community it belongs to.
    pub community_id: String,
}

/// A residential building inside a grid.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildingRow {
    /// Stable id, the node key in Neo4j.
    pub id: String,
    /// Street address.
    pub address: String,
    /// Year of construction.
    pub year_built: i64,
    /// Storeys above ground.
    pub floors: i64,
    /// Whether it is in an old residential compound (老旧小区).
    pub old_compound: bool,
    /// "A" | "B" | "C" | "D"
    pub safety_grade: &'static str,
    /// The grid it stands in.
    pub grid_id: String,
}

/// A registered household (户) living in one flat of a building.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HouseholdRow {
    /// Stable id, the node key in Neo4j.
    pub id: String,
    /// Household registration number (户号).
    pub household_number: String,
    /// "unit-floor+room", e.g. "3-502".
    pub unit: String,
    /// Registered members.
    pub member_count: i64,
    /// The building it lives in.
    pub building_id: String,
}

/// A resident (居民).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResidentRow {
    /// Stable id, the node key in Neo4j.
    pub id: String,
    /// Name.
    pub name: String,
    /// 18-character resident identity card number (GB 11643).
    pub id_number: String,
    /// YYYY-MM-DD
    pub birth_date: String,
    /// "MALE" | "FEMALE"
    pub sex: &'static str,
    /// Mobile number, if known.
    pub phone: Option<String>,
    /// "LOCAL" | "MIGRANT"
    pub hukou_type: &'static str,
    /// e.g. "汉族"
    pub ethnicity: String,
    /// Occupation, if any.
    pub occupation: Option<String>,
    /// "NONE" | "GRADE_1" | "GRADE_2" | "GRADE_3" | "GRADE_4"
    pub disability_status: &'static str,
    /// Receives minimum living allowance (低保).
    pub low_income: bool,
    /// Aged 65 or over and living alone.
    pub elderly_living_alone: bool,
    /// The household it is registered in.
    pub household_id: String,
    /// HEAD SPOUSE CHILD PARENT GRANDCHILD GRANDPARENT SIBLING CHILD_IN_LAW OTHER
    pub relation_to_head: &'static str,
}

/// A government department and the areas it serves.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DepartmentRow {
    /// Stable id, the node key in Neo4j.
    pub id: String,
    /// Name.
    pub name: String,
    /// CIVIL_AFFAIRS PUBLIC_SECURITY HEALTH EDUCATION HOUSING HUMAN_RESOURCES
    /// GRID_MANAGEMENT STREET_OFFICE
    pub code: &'static str,
    /// "DISTRICT" | "SUBDISTRICT"
    pub level: &'static str,
    /// Subdistricts it serves (`SERVES`).
    pub serves_subdistricts: Vec<String>,
    /// Communities it serves.
    pub serves_communities: Vec<String>,
    /// Grids it serves.
    pub serves_grids: Vec<String>,
}

/// Generates a whole city. Deterministic in `params`.
///
/// # Errors
/// [`SeedError::Table`] if an embedded data table does not parse (never in a
/// build whose unit tests pass).
pub fn generate(params: &CityParams) -> Result<City, SeedError> {
    let mut g = Gen::new(params, tables()?);
    g.open_subdistrict();
    g.open_community();
    g.open_grid();
    let mut remaining = params.residents;
    while remaining > 0 {
        if g.flat_cursor >= g.flats.len() {
            g.open_building();
        }
        let placed = g.household(remaining);
        remaining = remaining.saturating_sub(placed.max(1));
    }
    Ok(g.finish())
}

/// Code of the generated district (合肥市蜀山区).
const DISTRICT_CODE: &str = "340104";
const GRID_MIN_HOUSEHOLDS: usize = 300;
const GRID_MAX_HOUSEHOLDS: usize = 500;
const BUILDING_MIN_HOUSEHOLDS: usize = 12;
const BUILDING_MAX_HOUSEHOLDS: usize = 120;
const ELDERLY_AGE: i32 = 65;
/// Target share of buildings that are old walk-up compounds.
const OLD_COMPOUND_SHARE: f64 = 0.3;
const MAX_AGE: i32 = 100;

const HEAD: &str = "HEAD";
const SPOUSE: &str = "SPOUSE";
const CHILD: &str = "CHILD";
const PARENT: &str = "PARENT";
const GRANDCHILD: &str = "GRANDCHILD";
const GRANDPARENT: &str = "GRANDPARENT";
const SIBLING: &str = "SIBLING";
const CHILD_IN_LAW: &str = "CHILD_IN_LAW";
const OTHER: &str = "OTHER";

/// `x` limited to `[lo, hi]`; never panics (returns `hi` if the range is empty).
fn bound(x: i32, lo: i32, hi: i32) -> i32 {
    x.max(lo).min(hi)
}

/// One planned household member before it becomes a [`ResidentRow`].
#[derive(Debug, Clone, Copy)]
struct Draft {
    rel: &'static str,
    age: i32,
    male: bool,
    surname: &'static str,
}

/// The head couple (or single parent) of a household, for deriving children.
#[derive(Debug, Clone, Copy)]
struct Parents {
    older: i32,
    younger: i32,
    father: &'static str,
    mother: &'static str,
}

/// Household-wide attributes shared by all members.
struct HouseholdCtx {
    id: String,
    size: usize,
    migrant: bool,
    home_area: usize,
    ethnicity: &'static str,
    low_income: bool,
}

struct Gen {
    rng: ChaCha8Rng,
    tables: &'static Tables,
    city: City,
    used_ids: KeySet,

    sizes: Weighted<(usize, u32)>,
    surnames: Weighted<(&'static str, u32)>,
    local_areas: Weighted<(u32, u32)>,
    migrant_areas: Weighted<(u32, u32)>,
    minorities: Weighted<(&'static str, u32)>,
    /// Occupation tables indexed by `male as usize * 2 + migrant as usize`.
    occupations: [Weighted<(&'static str, u32, u32, u32)>; 4],

    subdistrict_names: NamePool,
    community_names: NamePool,
    road_names: NamePool,
    /// Bare subdistrict names (without 街道), parallel to `city.subdistricts`.
    subdistrict_bare: Vec<String>,
    /// Subdistrict index of every community.
    community_subdistrict: Vec<usize>,
    /// Community index of every grid.
    grid_community: Vec<usize>,
    /// Road of every community (index = community index).
    roads: Vec<String>,
    /// Next house number of every road.
    road_next: Vec<u32>,

    sub_target_communities: usize,
    sub_communities: usize,
    comm_target_grids: usize,
    comm_grids: usize,
    comm_old_share: f64,
    /// Number of old-compound buildings so far.
    old_buildings: usize,
    comm_road: usize,
    grid_target: usize,
    grid_households: usize,

    /// Occupied flats (unit, floor, room) of the current building.
    flats: Vec<(u32, u32, u32)>,
    flat_cursor: usize,
    building_old: bool,
    household_number: u64,
}

impl Gen {
    fn new(params: &CityParams, tables: &'static Tables) -> Self {
        let t = tables;
        let mut rng = ChaCha8Rng::seed_from_u64(params.seed);
        let subdistrict_names =
            NamePool::new(&mut rng, &t.subdistrict_bases, &t.community_suffixes);
        let community_names = NamePool::new(&mut rng, &t.community_bases, &t.community_suffixes);
        let road_names = NamePool::new(&mut rng, &t.road_bases, &t.road_suffixes);
        let household_number = 100_000_000 + u64::from(rng.random_range(0..5_000_000u32));
        let expected_households = params.residents / 2 + 1;
        let occ = |male: bool, migrant: bool| {
            Weighted::new(&t.occupations, move |&(_, wm, wf, mf)| {
                let w = if male { wm } else { wf };
                if migrant {
                    w * mf / 100
                } else {
                    w
                }
            })
        };
        Self {
            rng,
            tables,
            city: City {
                subdistricts: Vec::new(),
                communities: Vec::new(),
                grids: Vec::new(),
                buildings: Vec::with_capacity(expected_households / 40 + 1),
                households: Vec::with_capacity(expected_households),
                residents: Vec::with_capacity(params.residents),
                departments: Vec::new(),
            },
            used_ids: KeySet::with_capacity_and_hasher(
                params.residents,
                BuildHasherDefault::default(),
            ),
            sizes: Weighted::new(&t.household_sizes, |&(_, w)| w),
            surnames: Weighted::new(&t.surnames, |&(_, w)| w),
            local_areas: Weighted::new(&t.local_areas, |&(_, w)| w),
            migrant_areas: Weighted::new(&t.migrant_areas, |&(_, w)| w),
            minorities: Weighted::new(&t.minorities, |&(_, w)| w),
            occupations: [
                occ(false, false),
                occ(false, true),
                occ(true, false),
                occ(true, true),
            ],
            subdistrict_names,
            community_names,
            road_names,
            subdistrict_bare: Vec::new(),
            community_subdistrict: Vec::new(),
            grid_community: Vec::new(),
            roads: Vec::new(),
            road_next: Vec::new(),
            sub_target_communities: 0,
            sub_communities: 0,
            comm_target_grids: 0,
            comm_grids: 0,
            comm_old_share: OLD_COMPOUND_SHARE,
            old_buildings: 0,
            comm_road: 0,
            grid_target: 0,
            grid_households: 0,
            flats: Vec::new(),
            flat_cursor: 0,
            building_old: false,
            household_number,
        }
    }

    // -- randomness ---------------------------------------------------------

    /// Uniform integer in `[lo, hi]`; `lo` if the range is empty.
    fn r(&mut self, lo: i32, hi: i32) -> i32 {
        uniform(&mut self.rng, lo, hi)
    }

    fn chance(&mut self, p: f64) -> bool {
        chance(&mut self.rng, p)
    }

    fn surname(&mut self) -> &'static str {
        self.surnames.pick(&mut self.rng).0
    }

    fn pick_str(&mut self, list: &'static [&'static str]) -> &'static str {
        pick_str(&mut self.rng, list)
    }

    fn full_name(&mut self, surname: &str, male: bool, birth_year: i32) -> String {
        full_name(&mut self.rng, &self.tables.given, surname, male, birth_year)
    }

    // -- departments ---------------------------------------------------------

    fn finish(mut self) -> City {
        let all_subdistricts: Vec<String> = self
            .city
            .subdistricts
            .iter()
            .map(|s| s.id.clone())
            .collect();
        let mut departments =
            Vec::with_capacity(self.tables.district_departments.len() + 2 * all_subdistricts.len());
        for &(code, name) in &self.tables.district_departments {
            departments.push(DepartmentRow {
                id: format!("D-{code}"),
                name: name.to_string(),
                code,
                level: "DISTRICT",
                serves_subdistricts: all_subdistricts.clone(),
                serves_communities: Vec::new(),
                serves_grids: Vec::new(),
            });
        }
        for (si, sub) in self.city.subdistricts.iter().enumerate() {
            let bare = self.subdistrict_bare.get(si).cloned().unwrap_or_default();
            let communities: Vec<String> = self
                .city
                .communities
                .iter()
                .zip(&self.community_subdistrict)
                .filter(|(_, &s)| s == si)
                .map(|(c, _)| c.id.clone())
                .collect();
            let grids: Vec<String> = self
                .city
                .grids
                .iter()
                .zip(&self.grid_community)
                .filter(|(_, &c)| self.community_subdistrict.get(c) == Some(&si))
                .map(|(g, _)| g.id.clone())
                .collect();
            departments.push(DepartmentRow {
                id: format!("D-GRID_MANAGEMENT-{}", sub.id),
                name: format!("{bare}网格化管理中心"),
                code: "GRID_MANAGEMENT",
                level: "SUBDISTRICT",
                serves_subdistricts: Vec::new(),
                serves_communities: Vec::new(),
                serves_grids: grids,
            });
            departments.push(DepartmentRow {
                id: format!("D-STREET_OFFICE-{}", sub.id),
                name: format!("{bare}街道办事处"),
                code: "STREET_OFFICE",
                level: "SUBDISTRICT",
                serves_subdistricts: vec![sub.id.clone()],
                serves_communities: communities,
                serves_grids: Vec::new(),
            });
        }
        self.city.departments = departments;
        self.city
    }
}

#[cfg(test)]
mod tests;
