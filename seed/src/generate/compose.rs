//! Household composition: who lives together (couples, children, parents of
//! the head, married children with in-laws and grandchildren, ...), with ages
//! and surnames consistent with the relations.

use super::{
    bound, Draft, Gen, Parents, CHILD, CHILD_IN_LAW, ELDERLY_AGE, GRANDCHILD, GRANDPARENT, HEAD,
    MAX_AGE, OTHER, PARENT, SIBLING, SPOUSE,
};

impl Gen {
    fn push(
        &mut self,
        h: &mut Vec<Draft>,
        rel: &'static str,
        age: i32,
        male: bool,
        surname: &'static str,
    ) {
        h.push(Draft {
            rel,
            age: bound(age, 0, MAX_AGE),
            male,
            surname,
        });
    }

    /// Age difference husband − wife: −2..=6, most often 1–3.
    fn spouse_gap(&mut self) -> i32 {
        self.r(0, 4) + self.r(0, 4) - 2
    }

    fn single_head(&mut self, h: &mut Vec<Draft>, age: i32, male: bool) -> Parents {
        let s = self.surname();
        self.push(h, HEAD, age, male, s);
        Parents {
            older: age,
            younger: age,
            father: s,
            mother: s,
        }
    }

    /// Head and spouse, head aged `lo..=hi`.
    fn couple(&mut self, h: &mut Vec<Draft>, lo: i32, hi: i32) -> Parents {
        let head_age = self.r(lo, hi);
        let head_male = self.chance(0.72);
        let gap = self.spouse_gap();
        let spouse_age = bound(
            if head_male {
                head_age - gap
            } else {
                head_age + gap
            },
            20,
            MAX_AGE,
        );
        let hs = self.surname();
        let ss = self.surname();
        self.push(h, HEAD, head_age, head_male, hs);
        self.push(h, SPOUSE, spouse_age, !head_male, ss);
        let (father, mother) = if head_male { (hs, ss) } else { (ss, hs) };
        Parents {
            older: head_age.max(spouse_age),
            younger: head_age.min(spouse_age),
            father,
            mother,
        }
    }

    /// Age of a child of `p`, 20–40 years younger than both parents.
    fn child_age(&mut self, p: Parents, min_age: i32) -> i32 {
        let lo = (p.older - 40).max(min_age).max(0);
        let hi = p.younger - 20;
        let gap = 20 + self.r(0, 8) + self.r(0, 9);
        bound(p.younger - gap, lo, hi)
    }

    fn kid_surname(&mut self, p: Parents) -> &'static str {
        if self.chance(0.93) {
            p.father
        } else {
            p.mother
        }
    }

    fn children(&mut self, h: &mut Vec<Draft>, rel: &'static str, p: Parents, n: usize) {
        for _ in 0..n {
            let age = self.child_age(p, 0);
            let male = self.chance(0.515);
            let s = self.kid_surname(p);
            self.push(h, rel, age, male, s);
        }
    }

    /// One or two parents of the head (20–40 years older than the head).
    fn parents_of_head(&mut self, h: &mut Vec<Draft>, n: usize) {
        let (head_age, head_surname) = h.first().map(|d| (d.age, d.surname)).unwrap_or((40, "王"));
        let lo = head_age + 20;
        let hi = (head_age + 40).min(MAX_AGE);
        let first_age = bound(head_age + 20 + self.r(0, 8) + self.r(0, 8), lo, hi);
        let first_male = n >= 2 || self.chance(0.4);
        let s = if first_male {
            head_surname
        } else {
            self.surname()
        };
        self.push(h, PARENT, first_age, first_male, s);
        if n >= 2 {
            let gap = self.spouse_gap();
            let age = bound(first_age - gap, lo, hi);
            let s = self.surname();
            self.push(h, PARENT, age, false, s);
        }
    }

    /// A married adult child (CHILD) and their spouse (CHILD_IN_LAW);
    /// returns them as parents for grandchildren.
    fn married_child(&mut self, h: &mut Vec<Draft>, p: Parents) -> Parents {
        let child_age = self.child_age(p, 23);
        let child_male = self.chance(0.6);
        let cs = self.kid_surname(p);
        self.push(h, CHILD, child_age, child_male, cs);
        let gap = self.spouse_gap();
        let inlaw_age = bound(
            if child_male {
                child_age - gap
            } else {
                child_age + gap
            },
            20,
            MAX_AGE,
        );
        let is = self.surname();
        self.push(h, CHILD_IN_LAW, inlaw_age, !child_male, is);
        let (father, mother) = if child_male { (cs, is) } else { (is, cs) };
        Parents {
            older: child_age.max(inlaw_age),
            younger: child_age.min(inlaw_age),
            father,
            mother,
        }
    }

    /// Grandchildren living with grandparents only (留守儿童 style).
    fn skipped_grandchildren(&mut self, h: &mut Vec<Draft>, p: Parents, n: usize) {
        for _ in 0..n {
            let age = self.r(0, (p.younger - 42).clamp(0, 16));
            let male = self.chance(0.52);
            let s = self.kid_surname(p);
            self.push(h, GRANDCHILD, age, male, s);
        }
    }

    /// Builds the members of one household of `size` people; returns them
    /// with the probability (percent) that the household is a migrant one.
    pub(super) fn compose(&mut self, size: usize) -> (Vec<Draft>, i32) {
        let mut h = Vec::with_capacity(size);
        let roll = self.r(0, 99);
        let migrant_pct = match size {
            1 => {
                if roll < 14 {
                    // Elderly living alone, mostly widows.
                    let age = ELDERLY_AGE + self.r(0, 11) + self.r(0, 12);
                    let male = self.chance(0.35);
                    self.single_head(&mut h, age, male);
                    4
                } else if roll < 72 {
                    let age = self.r(19, 42);
                    let male = self.chance(0.55);
                    self.single_head(&mut h, age, male);
                    45
                } else {
                    let age = self.r(40, 64);
                    let male = self.chance(0.5);
                    self.single_head(&mut h, age, male);
                    22
                }
            }
            2 => {
                if roll < 22 {
                    self.couple(&mut h, 22, 38);
                    40
                } else if roll < 52 {
                    self.couple(&mut h, 48, 68);
                    15
                } else if roll < 77 {
                    let age = ELDERLY_AGE + self.r(0, 8) + self.r(0, 9);
                    self.couple(&mut h, age, age);
                    6
                } else if roll < 89 {
                    let age = self.r(30, 58);
                    let male = self.chance(0.25);
                    let p = self.single_head(&mut h, age, male);
                    self.children(&mut h, CHILD, p, 1);
                    22
                } else if roll < 96 {
                    let age = self.r(30, 62);
                    let male = self.chance(0.5);
                    self.single_head(&mut h, age, male);
                    self.parents_of_head(&mut h, 1);
                    15
                } else {
                    let age = self.r(19, 36);
                    let male = self.chance(0.55);
                    let p = self.single_head(&mut h, age, male);
                    match self.r(0, 9) {
                        0..=3 => {
                            let a = bound(age + self.r(-8, 8), 16, MAX_AGE);
                            let m = self.chance(0.5);
                            self.push(&mut h, SIBLING, a, m, p.father);
                        }
                        4..=7 => {
                            let a = self.r(19, 38);
                            let s = self.surname();
                            self.push(&mut h, OTHER, a, male, s);
                        }
                        _ => {
                            let a = bound(age + 40 + self.r(0, 12) + self.r(0, 12), 0, MAX_AGE);
                            let m = self.chance(0.35);
                            let s = if m { p.father } else { self.surname() };
                            self.push(&mut h, GRANDPARENT, a, m, s);
                        }
                    }
                    55
                }
            }
            3 => {
                if roll < 77 {
                    let age = 26 + self.r(0, 15) + self.r(0, 15);
                    let p = self.couple(&mut h, age, age);
                    self.children(&mut h, CHILD, p, 1);
                    27
                } else if roll < 85 {
                    self.couple(&mut h, 28, 60);
                    self.parents_of_head(&mut h, 1);
                    15
                } else if roll < 91 {
                    let p = self.couple(&mut h, 50, 76);
                    self.skipped_grandchildren(&mut h, p, 1);
                    12
                } else if roll < 96 {
                    let age = self.r(32, 55);
                    let male = self.chance(0.25);
                    let p = self.single_head(&mut h, age, male);
                    self.children(&mut h, CHILD, p, 2);
                    20
                } else {
                    let age = 55 + self.r(0, 10) + self.r(0, 12);
                    let male = self.chance(0.35);
                    let p = self.single_head(&mut h, age, male);
                    self.married_child(&mut h, p);
                    10
                }
            }
            4 => {
                if roll < 45 {
                    let age = 28 + self.r(0, 13) + self.r(0, 14);
                    let p = self.couple(&mut h, age, age);
                    self.children(&mut h, CHILD, p, 2);
                    28
                } else if roll < 75 {
                    let p = self.couple(&mut h, 28, 58);
                    self.children(&mut h, CHILD, p, 1);
                    self.parents_of_head(&mut h, 1);
                    18
                } else if roll < 85 {
                    let age = 50 + self.r(0, 12) + self.r(0, 14);
                    let p = self.couple(&mut h, age, age);
                    self.married_child(&mut h, p);
                    12
                } else if roll < 95 {
                    let age = 52 + self.r(0, 11) + self.r(0, 12);
                    let male = self.chance(0.35);
                    let p = self.single_head(&mut h, age, male);
                    let c = self.married_child(&mut h, p);
                    self.children(&mut h, GRANDCHILD, c, 1);
                    12
                } else {
                    let p = self.couple(&mut h, 50, 76);
                    self.skipped_grandchildren(&mut h, p, 2);
                    12
                }
            }
            5 => {
                if roll < 40 {
                    let p = self.couple(&mut h, 28, 58);
                    self.children(&mut h, CHILD, p, 1);
                    self.parents_of_head(&mut h, 2);
                    15
                } else if roll < 75 {
                    let age = 48 + self.r(0, 12) + self.r(0, 14);
                    let p = self.couple(&mut h, age, age);
                    let c = self.married_child(&mut h, p);
                    self.children(&mut h, GRANDCHILD, c, 1);
                    12
                } else if roll < 85 {
                    let p = self.couple(&mut h, 30, 50);
                    self.children(&mut h, CHILD, p, 3);
                    30
                } else {
                    let p = self.couple(&mut h, 30, 56);
                    self.children(&mut h, CHILD, p, 2);
                    self.parents_of_head(&mut h, 1);
                    18
                }
            }
            _ => {
                if roll < 50 {
                    let age = 48 + self.r(0, 12) + self.r(0, 14);
                    let p = self.couple(&mut h, age, age);
                    let c = self.married_child(&mut h, p);
                    self.children(&mut h, GRANDCHILD, c, 2);
                    12
                } else if roll < 85 {
                    let p = self.couple(&mut h, 30, 56);
                    self.children(&mut h, CHILD, p, 2);
                    self.parents_of_head(&mut h, 2);
                    15
                } else if roll < 90 {
                    // Four generations under one roof.
                    let p = self.couple(&mut h, 40, 50);
                    self.children(&mut h, CHILD, p, 1);
                    let head_age = h.first().map_or(45, |d| d.age);
                    let parent_age = self.r(head_age + 20, (head_age + 30).min(78));
                    let head_surname = h.first().map_or("王", |d| d.surname);
                    self.push(&mut h, PARENT, parent_age, true, head_surname);
                    let s = self.surname();
                    self.push(
                        &mut h,
                        PARENT,
                        bound(parent_age - 2, head_age + 20, 80),
                        false,
                        s,
                    );
                    let gp_age = self.r(parent_age + 20, MAX_AGE);
                    let s = self.surname();
                    self.push(&mut h, GRANDPARENT, gp_age, false, s);
                    8
                } else {
                    let p = self.couple(&mut h, 28, 55);
                    self.children(&mut h, CHILD, p, 2);
                    self.parents_of_head(&mut h, 1);
                    let head_age = h.first().map_or(40, |d| d.age);
                    let head_surname = h.first().map_or("王", |d| d.surname);
                    let a = bound(head_age + self.r(-8, 8), 18, MAX_AGE);
                    let m = self.chance(0.5);
                    self.push(&mut h, SIBLING, a, m, head_surname);
                    20
                }
            }
        };
        (h, migrant_pct)
    }
}
