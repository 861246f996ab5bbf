//! Identity numbers and dates: the GB 11643 check character, proleptic
//! Gregorian day arithmetic around the reference date, zero-padded ids, and
//! the cheap hasher of the set that keeps identity numbers unique.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

/// Reference "today": 2026-01-01.
pub(crate) const TODAY: (i32, u32, u32) = (2026, 1, 1);

const ID_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const ID_CHECK_MAP: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];

/// GB 11643 check character for the first 17 digits.
///
/// Returns `None` unless `first17` is exactly 17 ASCII digits.
pub fn id_check_char(first17: &str) -> Option<char> {
    let bytes = first17.as_bytes();
    if bytes.len() != 17 || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut digits = [0u8; 17];
    for (d, b) in digits.iter_mut().zip(bytes) {
        *d = b - b'0';
    }
    Some(check_char_of(&digits))
}

/// The check character of 17 digit values (each `0..=9`).
pub(crate) fn check_char_of(digits: &[u8; 17]) -> char {
    let sum: u32 = digits
        .iter()
        .zip(ID_WEIGHTS)
        .map(|(&d, w)| u32::from(d) * w)
        .sum();
    ID_CHECK_MAP[(sum % 11) as usize]
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant).
pub(crate) fn days_from_civil(y: i32, m: u32, d: u32) -> i64 {
    let y = i64::from(y) - i64::from(m <= 2);
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = i64::from(m);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Inverse of [`days_from_civil`].
pub(crate) fn civil_from_days(z: i64) -> (i32, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y as i32, m as u32, d as u32)
}

/// Age in completed years on the reference date.
pub(crate) fn age_on_today(y: i32, m: u32, d: u32) -> i32 {
    TODAY.0 - y - i32::from((m, d) > (TODAY.1, TODAY.2))
}

/// Appends `n` in decimal, zero-padded to at least `width` digits (≤ 20).
/// A hand-rolled `format!("{n:0width$}")` for the hot per-resident paths.
pub(crate) fn push_padded(out: &mut String, n: u64, width: usize) {
    let mut buf = [b'0'; 20];
    let mut i = buf.len();
    let mut v = n;
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 || i == 0 {
            break;
        }
    }
    let start = i.min(buf.len() - width.min(buf.len()));
    for &b in &buf[start..] {
        out.push(char::from(b));
    }
}

/// `prefix` followed by `n` zero-padded to `width` digits, e.g. `R00000042`.
pub(crate) fn padded_id(prefix: &str, n: u64, width: usize) -> String {
    let mut s = String::with_capacity(prefix.len() + width);
    s.push_str(prefix);
    push_padded(&mut s, n, width);
    s
}

/// Multiplicative hasher for the `u64` identity-number keys; much cheaper
/// than SipHash and deterministic (the set is only used for membership).
#[derive(Default)]
pub(crate) struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// The set of identity-number keys handed out so far.
pub(crate) type KeySet = HashSet<u64, BuildHasherDefault<KeyHasher>>;

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Independent GB 11643 implementation: weight of position i (1-based
    /// from the right, check digit = 1) is 2^(i-1) mod 11; check value is
    /// (12 - S mod 11) mod 11 with 10 written as 'X'.
    pub(crate) fn reference_check_char(first17: &str) -> char {
        let sum: u64 = first17
            .bytes()
            .enumerate()
            .map(|(i, b)| u64::from(b - b'0') * ((1u64 << (17 - i)) % 11))
            .sum();
        match (12 - sum % 11) % 11 {
            10 => 'X',
            v => char::from(b'0' + v as u8),
        }
    }

    #[test]
    fn known_check_digit_vectors() {
        assert_eq!(id_check_char("11010519491231002"), Some('X'));
        assert_eq!(
            id_check_char("34010419900101001"),
            Some(reference_check_char("34010419900101001"))
        );
        assert_eq!(id_check_char("1101051949123100"), None);
        assert_eq!(id_check_char("110105194912310021"), None);
        assert_eq!(id_check_char("1101051949123100a"), None);
        assert_eq!(id_check_char(""), None);
        // Cross-check against the reference on pseudo-random inputs.
        let mut x: u64 = 0x1234_5678_9abc_def0;
        for _ in 0..2000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let s = format!("{:017}", x % 100_000_000_000_000_000);
            assert_eq!(id_check_char(&s), Some(reference_check_char(&s)), "{s}");
        }
    }

    #[test]
    fn padding_matches_format() {
        for (n, w) in [
            (0u64, 1usize),
            (0, 4),
            (7, 2),
            (42, 8),
            (123_456_789, 9),
            (123, 2),
            (u64::MAX, 1),
            (u64::MAX, 20),
        ] {
            let mut s = String::new();
            push_padded(&mut s, n, w);
            assert_eq!(s, format!("{n:0w$}"));
        }
        assert_eq!(padded_id("R", 42, 8), "R00000042");
    }

    #[test]
    fn date_helpers_round_trip() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        let start = days_from_civil(1900, 1, 1);
        let end = days_from_civil(2100, 12, 31);
        let mut prev = civil_from_days(start - 1);
        for z in start..=end {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
            assert!((y, m, d) > prev);
            prev = (y, m, d);
        }
        assert_eq!(age_on_today(1961, 1, 1), 65);
        assert_eq!(age_on_today(1961, 1, 2), 64);
        assert_eq!(age_on_today(2025, 12, 31), 0);
    }
}
