//! Administrative structure: subdistricts, communities and grids opened as
//! the previous one fills up, and the buildings (with their occupied flats)
//! that households move into.

use super::{
    BuildingRow, CommunityRow, Gen, GridRow, SubdistrictRow, BUILDING_MAX_HOUSEHOLDS,
    BUILDING_MIN_HOUSEHOLDS, DISTRICT_CODE, GRID_MAX_HOUSEHOLDS, GRID_MIN_HOUSEHOLDS,
    OLD_COMPOUND_SHARE,
};

impl Gen {
    pub(super) fn open_subdistrict(&mut self) {
        let n = self.city.subdistricts.len() + 1;
        let bare = self.subdistrict_names.take();
        self.city.subdistricts.push(SubdistrictRow {
            id: format!("S{n:02}"),
            name: format!("{bare}街道"),
            code: format!("{DISTRICT_CODE}{n:03}"),
        });
        self.subdistrict_bare.push(bare);
        self.sub_target_communities = self.r(4, 8) as usize;
        self.sub_communities = 0;
    }

    pub(super) fn open_community(&mut self) {
        if self.sub_communities >= self.sub_target_communities {
            self.open_subdistrict();
        }
        self.sub_communities += 1;
        let n = self.city.communities.len() + 1;
        let sub_idx = self.city.subdistricts.len().saturating_sub(1);
        let (sub_id, sub_code) = self
            .city
            .subdistricts
            .last()
            .map(|s| (s.id.clone(), s.code.clone()))
            .unwrap_or_default();
        let base = self.community_names.take();
        self.city.communities.push(CommunityRow {
            id: format!("C{n:04}"),
            name: format!("{base}社区"),
            code: format!("{sub_code}{:03}", self.sub_communities),
            subdistrict_id: sub_id,
        });
        self.community_subdistrict.push(sub_idx);
        self.comm_target_grids = self.r(5, 10) as usize;
        self.comm_grids = 0;
        // Some communities are mostly old walk-up compounds, some mostly new
        // towers; the city-wide share of old compounds averages 30 %.
        self.comm_old_share = f64::from(self.r(15, 45)) / 100.0;
        let road = self.road_names.take();
        self.comm_road = self.roads.len();
        self.roads.push(road);
        let start = self.r(1, 40) as u32;
        self.road_next.push(start);
    }

    pub(super) fn open_grid(&mut self) {
        if self.comm_grids >= self.comm_target_grids {
            self.open_community();
        }
        self.comm_grids += 1;
        let n = self.city.grids.len() + 1;
        let comm_idx = self.city.communities.len().saturating_sub(1);
        let (comm_id, comm_code, comm_name) = self
            .city
            .communities
            .last()
            .map(|c| (c.id.clone(), c.code.clone(), c.name.clone()))
            .unwrap_or_default();
        let grid_worker = if self.chance(0.92) {
            let surname = self.surname();
            let male = self.chance(0.45);
            let year = self.r(1968, 1998);
            Some(self.full_name(surname, male, year))
        } else {
            None
        };
        self.city.grids.push(GridRow {
            id: format!("G{n:05}"),
            name: format!("{comm_name}第{}网格", self.comm_grids),
            code: format!("{comm_code}{:03}", self.comm_grids),
            grid_worker,
            community_id: comm_id,
        });
        self.grid_community.push(comm_idx);
        self.grid_target = self.r(GRID_MIN_HOUSEHOLDS as i32, GRID_MAX_HOUSEHOLDS as i32) as usize;
        self.grid_households = 0;
    }

    pub(super) fn open_building(&mut self) {
        loop {
            // Nudge towards a city-wide 30 % so small cities stay on target.
            let built = self.city.buildings.len();
            let p_old = if built == 0 {
                self.comm_old_share
            } else {
                let so_far = self.old_buildings as f64 / built as f64;
                (self.comm_old_share + 1.5 * (OLD_COMPOUND_SHARE - so_far)).clamp(0.05, 0.8)
            };
            let old = self.chance(p_old);
            let (floors, year, units, per_landing, occupancy) = if old {
                let floors = match self.r(0, 99) {
                    0..=24 => 5,
                    25..=79 => 6,
                    _ => 7,
                };
                let year = 1975 + self.r(0, 12) + self.r(0, 13);
                (floors, year, self.r(1, 4), 2, self.r(85, 100))
            } else {
                match self.r(0, 99) {
                    0..=3 => (
                        self.r(1, 4),
                        self.r(2000, 2024),
                        self.r(2, 6),
                        2,
                        self.r(70, 98),
                    ),
                    4..=17 => (
                        self.r(5, 7),
                        self.r(2000, 2012),
                        self.r(2, 4),
                        2,
                        self.r(75, 98),
                    ),
                    18..=54 => (
                        self.r(8, 18),
                        self.r(2000, 2024),
                        self.r(1, 3),
                        self.r(2, 4),
                        self.r(70, 98),
                    ),
                    _ => (
                        self.r(19, 33),
                        2005 + self.r(0, 10) + self.r(0, 9),
                        self.r(1, 2),
                        self.r(2, 4),
                        self.r(70, 98),
                    ),
                }
            };
            let per_floor_unit = (floors * per_landing).max(1);
            let min_units = (BUILDING_MIN_HOUSEHOLDS as i32 + per_floor_unit - 1) / per_floor_unit;
            let units = units.max(min_units);
            let total = (floors * units * per_landing) as usize;
            let occupied = (total * occupancy as usize / 100)
                .clamp(BUILDING_MIN_HOUSEHOLDS, BUILDING_MAX_HOUSEHOLDS)
                .min(total);

            if self.grid_households >= self.grid_target
                || self.grid_households + occupied > GRID_MAX_HOUSEHOLDS
            {
                self.open_grid();
                continue;
            }
            self.grid_households += occupied;

            let mut flats = Vec::with_capacity(total);
            for u in 1..=units as u32 {
                for f in 1..=floors as u32 {
                    for room in 1..=per_landing as u32 {
                        flats.push((u, f, room));
                    }
                }
            }
            // Partial Fisher–Yates: the first `occupied` slots are a random subset.
            for i in 0..occupied {
                let j = self.r(i as i32, total as i32 - 1) as usize;
                flats.swap(i, j);
            }
            flats.truncate(occupied);
            flats.sort_unstable();
            self.flats = flats;
            self.flat_cursor = 0;
            self.building_old = old;
            self.old_buildings += usize::from(old);

            let grade_roll = self.r(0, 99);
            let safety_grade = if old {
                match grade_roll {
                    0..=7 => "A",
                    8..=49 => "B",
                    50..=85 => "C",
                    _ => "D",
                }
            } else {
                match grade_roll {
                    0..=61 => "A",
                    62..=93 => "B",
                    94..=98 => "C",
                    _ => "D",
                }
            };
            let step = self.r(1, 6) as u32;
            let road = self.comm_road;
            let number = match self.road_next.get_mut(road) {
                Some(next) => {
                    let n = *next;
                    *next += step;
                    n
                }
                None => step,
            };
            let n = self.city.buildings.len() + 1;
            let grid_id = self
                .city
                .grids
                .last()
                .map(|g| g.id.clone())
                .unwrap_or_default();
            self.city.buildings.push(BuildingRow {
                id: format!("B{n:06}"),
                address: format!(
                    "{}{number}号",
                    self.roads.get(road).map_or("", String::as_str)
                ),
                year_built: i64::from(year),
                floors: i64::from(floors),
                old_compound: old,
                safety_grade,
                grid_id,
            });
            return;
        }
    }
}
