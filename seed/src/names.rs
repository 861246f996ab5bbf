//! Names: residents' given names by sex and birth cohort, and pools that hand
//! out unique subdistrict, community and road names.

use rand_chacha::ChaCha8Rng;

use crate::pick::{pick_str, shuffle, uniform};
use crate::tables::{GivenNames, NameStyles};

/// `surname` followed by a given name suited to the sex and birth cohort.
pub(crate) fn full_name(
    rng: &mut ChaCha8Rng,
    given: &'static GivenNames,
    surname: &str,
    male: bool,
    birth_year: i32,
) -> String {
    let mut s = String::with_capacity(surname.len() + 6);
    s.push_str(surname);
    given_name(rng, given, &mut s, male, birth_year);
    s
}

/// Appends a given name suited to the sex and birth cohort to `out`.
fn given_name(
    rng: &mut ChaCha8Rng,
    given: &'static GivenNames,
    out: &mut String,
    male: bool,
    birth_year: i32,
) {
    let styles: &'static NameStyles = if male { &given.male } else { &given.female };
    let roll = uniform(rng, 0, 99);
    let (p_single, p_era, era) = if birth_year < 1965 {
        (25, 50, &styles.old)
    } else if birth_year < 2005 {
        (30, 0, &styles.young)
    } else {
        (8, 55, &styles.young)
    };
    if roll < p_single {
        out.push_str(pick_str(rng, &styles.single));
    } else if roll < p_single + p_era {
        out.push_str(pick_str(rng, era));
    } else {
        out.push_str(pick_str(rng, &styles.first));
        out.push_str(pick_str(rng, &styles.single));
    }
}

/// Hands out unique names: a shuffled base list, then the same bases with
/// successive suffixes, then numbered.
pub(crate) struct NamePool {
    order: Vec<&'static str>,
    suffixes: &'static [&'static str],
    next: usize,
}

impl NamePool {
    pub(crate) fn new(
        rng: &mut ChaCha8Rng,
        bases: &'static [&'static str],
        suffixes: &'static [&'static str],
    ) -> Self {
        let mut order = bases.to_vec();
        shuffle(rng, &mut order);
        Self {
            order,
            suffixes,
            next: 0,
        }
    }

    /// The next name.
    pub(crate) fn take(&mut self) -> String {
        let len = self.order.len().max(1);
        let round = self.next / len;
        let idx = self.next % len;
        self.next += 1;
        let mut s = String::from(self.order.get(idx).copied().unwrap_or("新建"));
        match self.suffixes.get(round) {
            Some(sfx) => s.push_str(sfx),
            None => {
                s.push_str(self.suffixes.last().copied().unwrap_or(""));
                s.push_str(&(round + 1).to_string());
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use rand::SeedableRng;

    use super::*;
    use crate::tables::tables;

    #[test]
    fn name_pools_stay_unique_when_exhausted() {
        let t = tables().unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for (bases, suffixes) in [
            (&t.subdistrict_bases, &t.community_suffixes),
            (&t.community_bases, &t.community_suffixes),
            (&t.road_bases, &t.road_suffixes),
        ] {
            let mut pool = NamePool::new(&mut rng, bases, suffixes);
            let names: HashSet<String> = (0..3_000).map(|_| pool.take()).collect();
            assert_eq!(names.len(), 3_000);
        }
    }
}
