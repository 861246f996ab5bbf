//! Households and residents: a composed household becomes a household row in
//! the next free flat and one resident row per member, with a unique identity
//! number, birth date, name, phone, ethnicity, occupation and disability status.

use rand::Rng;

use super::{
    Draft, Gen, HouseholdCtx, HouseholdRow, ResidentRow, CHILD, ELDERLY_AGE, GRANDCHILD, HEAD,
};
use crate::ids::{
    age_on_today, check_char_of, civil_from_days, days_from_civil, padded_id, push_padded, TODAY,
};

impl Gen {
    /// Places one household (at most `remaining` members) in the current
    /// building; returns the number of residents created.
    pub(super) fn household(&mut self, remaining: usize) -> usize {
        let size = self.sizes.pick(&mut self.rng).0;
        let (mut drafts, migrant_pct) = self.compose(size);
        drafts.truncate(remaining);
        let n = drafts.len();
        if n == 0 {
            return 0;
        }

        // Template percentages are relative; scaled so ≈ 25 % of residents
        // are migrants.
        let migrant = self.r(0, 999) < migrant_pct * 12;
        let home_area = if migrant {
            self.migrant_areas.pick_index(&mut self.rng)
        } else {
            self.local_areas.pick_index(&mut self.rng)
        };
        let ethnicity = if self.chance(0.925) {
            "汉族"
        } else {
            self.minorities.pick(&mut self.rng).0
        };
        let elderly_alone = n == 1 && drafts.first().is_some_and(|d| d.age >= ELDERLY_AGE);
        let mut p_low = if migrant {
            0.008
        } else if self.building_old {
            0.075
        } else {
            0.027
        };
        if elderly_alone {
            p_low *= 1.8;
        }
        let low_income = self.chance(p_low);

        let h_index = self.city.households.len() + 1;
        let ctx = HouseholdCtx {
            id: padded_id("H", h_index as u64, 7),
            size: n,
            migrant,
            home_area,
            ethnicity,
            low_income,
        };
        for d in &drafts {
            let row = self.resident(d, &ctx);
            self.city.residents.push(row);
        }

        let (u, f, room) = self
            .flats
            .get(self.flat_cursor)
            .copied()
            .unwrap_or((1, 1, 1));
        let mut unit = String::with_capacity(8);
        push_padded(&mut unit, u64::from(u), 1);
        unit.push('-');
        push_padded(&mut unit, u64::from(f), 1);
        push_padded(&mut unit, u64::from(room), 2);
        self.flat_cursor += 1;
        self.household_number += self.r(1, 9) as u64;
        let building_id = self
            .city
            .buildings
            .last()
            .map(|b| b.id.clone())
            .unwrap_or_default();
        self.city.households.push(HouseholdRow {
            id: ctx.id,
            household_number: padded_id("", self.household_number, 9),
            unit,
            member_count: n as i64,
            building_id,
        });
        n
    }

    fn resident(&mut self, d: &Draft, ctx: &HouseholdCtx) -> ResidentRow {
        // Birth date: uniform among the days giving exactly `d.age` today.
        let lo = days_from_civil(TODAY.0 - d.age - 1, TODAY.1, TODAY.2) + 1;
        let hi = days_from_civil(TODAY.0 - d.age, TODAY.1, TODAY.2);
        let day = lo + i64::from(self.r(0, (hi - lo) as i32));

        let own_area = matches!(d.rel, HEAD | CHILD | GRANDCHILD) || self.chance(0.75);
        let area_idx = if own_area {
            ctx.home_area
        } else if ctx.migrant {
            self.migrant_areas.pick_index(&mut self.rng)
        } else {
            self.local_areas.pick_index(&mut self.rng)
        };
        let (area, day, seq) = self.allocate_id(ctx.migrant, area_idx, day, d.male);
        let (y, m, dd) = civil_from_days(day);
        let age = age_on_today(y, m, dd);

        let mut digits = [0u8; 17];
        let mut put = |start: usize, width: usize, mut v: u64| {
            for i in (start..start + width).rev() {
                digits[i] = (v % 10) as u8;
                v /= 10;
            }
        };
        put(0, 6, u64::from(area));
        put(6, 4, y.max(0) as u64);
        put(10, 2, u64::from(m));
        put(12, 2, u64::from(dd));
        put(14, 3, u64::from(seq));
        let mut id_number = String::with_capacity(18);
        for dg in digits {
            id_number.push(char::from(b'0' + dg));
        }
        id_number.push(check_char_of(&digits));

        let mut birth_date = String::with_capacity(10);
        push_padded(&mut birth_date, y.max(0) as u64, 4);
        birth_date.push('-');
        push_padded(&mut birth_date, u64::from(m), 2);
        birth_date.push('-');
        push_padded(&mut birth_date, u64::from(dd), 2);

        let name = self.full_name(d.surname, d.male, y);
        let phone = self.phone(age);
        let ethnicity = if self.chance(0.94) {
            ctx.ethnicity
        } else if self.chance(0.9) {
            "汉族"
        } else {
            self.minorities.pick(&mut self.rng).0
        };
        let occupation = self.occupation(age, d.male, ctx.migrant);
        let disability_status = self.disability(age);
        let n = self.city.residents.len() + 1;
        ResidentRow {
            id: padded_id("R", n as u64, 8),
            name,
            id_number,
            birth_date,
            sex: if d.male { "MALE" } else { "FEMALE" },
            phone,
            hukou_type: if ctx.migrant { "MIGRANT" } else { "LOCAL" },
            ethnicity: ethnicity.to_string(),
            occupation: occupation.map(str::to_string),
            disability_status,
            low_income: ctx.low_income,
            elderly_living_alone: ctx.size == 1 && age >= ELDERLY_AGE,
            household_id: ctx.id.clone(),
            relation_to_head: d.rel,
        }
    }

    /// Reserves a unique (area, birth day, sequence) triple; returns the area
    /// code, the (possibly shifted) birth day and the sequence number whose
    /// parity encodes the sex.
    fn allocate_id(
        &mut self,
        migrant: bool,
        area_idx: usize,
        day: i64,
        male: bool,
    ) -> (u32, i64, u32) {
        let tables = self.tables;
        let pool: &'static [(u32, u32)] = if migrant {
            &tables.migrant_areas
        } else {
            &tables.local_areas
        };
        let slots: u32 = if male { 500 } else { 499 };
        let base_day = days_from_civil(1900, 1, 1);
        let mut shift = 0i64;
        loop {
            let d = day - shift;
            let day_key = ((d - base_day).max(0) as u64) & 0xF_FFFF;
            for k in 0..pool.len() {
                let area = pool[(area_idx + k) % pool.len()].0;
                let start = self.rng.random_range(0..slots);
                for j in 0..slots {
                    let i = (start + j) % slots;
                    // Male: 1, 3, ..., 999. Female: 2, 4, ..., 998.
                    let seq = if male { 2 * i + 1 } else { 2 * i + 2 };
                    let key = (u64::from(area) << 30) | (day_key << 10) | u64::from(seq);
                    if self.used_ids.insert(key) {
                        return (area, d, seq);
                    }
                }
            }
            // Every slot of that day is taken in every area: use the day before.
            shift += 1;
        }
    }

    fn phone(&mut self, age: i32) -> Option<String> {
        let p = match age {
            0..=11 => 0.0,
            12..=15 => 0.45,
            16..=75 => 0.96,
            _ => 0.7,
        };
        if !self.chance(p) {
            return None;
        }
        let prefix = self.pick_str(&self.tables.phone_prefixes);
        let rest = self.rng.random_range(0..100_000_000u32);
        let mut phone = String::with_capacity(11);
        phone.push_str(prefix);
        push_padded(&mut phone, u64::from(rest), 8);
        Some(phone)
    }

    fn occupation(&mut self, age: i32, male: bool, migrant: bool) -> Option<&'static str> {
        let retire = if male { 60 } else { 55 };
        match age {
            0..=5 => None,
            6..=17 => Some("学生"),
            18..=22 if self.chance(0.6) => Some("学生"),
            a if a >= retire => {
                if self.chance(if migrant { 0.7 } else { 0.93 }) || a >= 70 {
                    Some("退休")
                } else {
                    Some(self.working_occupation(male, migrant))
                }
            }
            _ => Some(self.working_occupation(male, migrant)),
        }
    }

    fn working_occupation(&mut self, male: bool, migrant: bool) -> &'static str {
        let t = usize::from(male) * 2 + usize::from(migrant);
        match self.occupations.get(t) {
            Some(table) => table.pick(&mut self.rng).0,
            None => "无业",
        }
    }

    fn disability(&mut self, age: i32) -> &'static str {
        let p = match age {
            0..=17 => 0.015,
            18..=44 => 0.035,
            45..=59 => 0.065,
            60..=74 => 0.12,
            _ => 0.2,
        };
        if !self.chance(p) {
            return "NONE";
        }
        match self.r(0, 99) {
            0..=9 => "GRADE_1",
            10..=29 => "GRADE_2",
            30..=59 => "GRADE_3",
            _ => "GRADE_4",
        }
    }
}
