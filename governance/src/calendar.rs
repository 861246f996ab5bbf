//! Working days (工作日): deadlines of sharing applications and reviews count
//! working days in the city's local time — weekends and configured holidays
//! excluded, configured make-up working days (调休, a Saturday or Sunday worked
//! in exchange for a holiday) included. A deadline is the end of its last
//! working day, local time.

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate, TimeZone, Utc, Weekday};

/// The calendar of working days.
#[derive(Debug, Clone)]
pub struct Calendar {
    offset: FixedOffset,
    holidays: BTreeSet<NaiveDate>,
    workdays: BTreeSet<NaiveDate>,
}

/// A date in a calendar's configuration that is not `YYYY-MM-DD`.
#[derive(Debug, thiserror::Error)]
#[error("`{0}` is not a date (YYYY-MM-DD)")]
pub struct BadDate(pub String);

impl Calendar {
    /// A calendar `utc_offset_hours` from UTC with these holidays and make-up
    /// working days (`YYYY-MM-DD`).
    ///
    /// # Errors
    /// A date that does not parse, or an offset beyond ±23 hours.
    pub fn new(
        utc_offset_hours: i32,
        holidays: &[String],
        workdays: &[String],
    ) -> Result<Calendar, BadDate> {
        let parse = |d: &String| {
            NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d").map_err(|_| BadDate(d.clone()))
        };
        Ok(Calendar {
            offset: FixedOffset::east_opt(utc_offset_hours * 3600)
                .ok_or_else(|| BadDate(format!("UTC offset {utc_offset_hours} h")))?,
            holidays: holidays.iter().map(parse).collect::<Result<_, _>>()?,
            workdays: workdays.iter().map(parse).collect::<Result<_, _>>()?,
        })
    }

    /// Whether `day` is a working day.
    pub fn is_working_day(&self, day: NaiveDate) -> bool {
        if self.workdays.contains(&day) {
            return true;
        }
        !matches!(day.weekday(), Weekday::Sat | Weekday::Sun) && !self.holidays.contains(&day)
    }

    /// The end (23:59:59 local) of the `n`-th working day after the local day of
    /// `from`; `n = 0` is the end of `from`'s own day.
    pub fn deadline(&self, from: DateTime<Utc>, n: u32) -> DateTime<Utc> {
        let mut day = from.with_timezone(&self.offset).date_naive();
        let mut left = n;
        while left > 0 {
            day = day.succ_opt().unwrap_or(day);
            if self.is_working_day(day) {
                left -= 1;
            }
        }
        let end = day.and_hms_opt(23, 59, 59).unwrap_or_default();
        self.offset
            .from_local_datetime(&end)
            .single()
            .map_or(from, |t| t.with_timezone(&Utc))
    }

    /// Working days from `from` until `to` (0 when `to` is not later).
    pub fn working_days_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> u32 {
        let mut day = from.with_timezone(&self.offset).date_naive();
        let last = to.with_timezone(&self.offset).date_naive();
        let mut n = 0;
        while day < last {
            day += Duration::days(1);
            if self.is_working_day(day) {
                n += 1;
            }
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn weekends_and_holidays_do_not_count_and_make_up_days_do() {
        // 2026-09-30 is a Wednesday; 10-01..10-07 the National Day holiday;
        // 2026-10-10 (a Saturday) a make-up working day.
        let holidays: Vec<String> = (1..=7).map(|d| format!("2026-10-0{d}")).collect();
        let cal = Calendar::new(8, &holidays, &["2026-10-10".into()]).unwrap();
        // Submitted Wednesday 2026-09-30 10:00 Beijing time.
        let from = at("2026-09-30T02:00:00Z");
        // 1st working day: Thursday 10-08; 2nd: Friday 10-09; 3rd: Saturday 10-10 (make-up).
        assert_eq!(cal.deadline(from, 1), at("2026-10-08T15:59:59Z"));
        assert_eq!(cal.deadline(from, 2), at("2026-10-09T15:59:59Z"));
        assert_eq!(cal.deadline(from, 3), at("2026-10-10T15:59:59Z"));
        // 4th: Monday 10-12 (Sunday 10-11 is not).
        assert_eq!(cal.deadline(from, 4), at("2026-10-12T15:59:59Z"));
        assert_eq!(
            cal.working_days_between(from, at("2026-10-12T01:00:00Z")),
            4
        );
    }

    #[test]
    fn the_local_day_decides() {
        let cal = Calendar::new(8, &[], &[]).unwrap();
        // Friday 2026-12-04 23:30 UTC is Saturday 07:30 in Beijing: the next
        // working day is Monday 12-07... counted from Saturday, the 1st is Monday.
        assert_eq!(
            cal.deadline(at("2026-12-04T23:30:00Z"), 1),
            at("2026-12-07T15:59:59Z")
        );
    }

    #[test]
    fn bad_dates_are_named() {
        let e = Calendar::new(8, &["2026-13-01".into()], &[]).unwrap_err();
        assert!(e.to_string().contains("2026-13-01"));
    }
}
