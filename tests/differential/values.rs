//! Values for a query's value slots, drawn from the unrestricted city: filter
//! constants ([`Pools`]) and lookup ids inside and outside the mandate
//! ([`Ids`]); and [`Revalue`], which redraws them for a query's other variants.

use std::collections::HashMap;

use mandate_policies::years_before;
use mandate_schema::ScalarKind;
use serde_json::{json, Value};

use crate::city::City;
use crate::oracle::Mandate;
use crate::query::{Args, ConnSel, Entry, Item, Op, Query, RootKind, Where};
use crate::reference::cmp_values;
use crate::TODAY;

/// Values to filter with, per (type, field), from the unrestricted city.
pub(crate) struct Pools {
    pub(crate) values: HashMap<(String, String), Vec<Value>>,
    pub(crate) prefixes: HashMap<(String, String), Vec<Value>>,
}

impl Pools {
    pub(crate) fn new(city: &City) -> Pools {
        let mut values = HashMap::new();
        let mut prefixes = HashMap::new();
        for t in &city.catalog.types {
            let rows = &city.rows[&t.name];
            for f in &t.fields {
                let mut distinct: Vec<Value> = rows
                    .iter()
                    .filter_map(|r| r.get(&f.name))
                    .filter(|v| !v.is_null())
                    .cloned()
                    .collect();
                distinct.sort_by(cmp_values);
                distinct.dedup();
                let mut pool = spread(&distinct, 40);
                match &f.kind {
                    ScalarKind::Enum(e) => {
                        pool = city
                            .catalog
                            .enum_type(e)
                            .unwrap()
                            .values
                            .iter()
                            .map(|(v, _)| json!(v))
                            .collect();
                    }
                    ScalarKind::Boolean => pool = vec![json!(true), json!(false)],
                    ScalarKind::Int => {
                        let more: Vec<Value> = pool
                            .iter()
                            .filter_map(Value::as_i64)
                            .map(|i| json!(i + 1))
                            .collect();
                        pool.extend(more);
                    }
                    ScalarKind::Date => {
                        for years in [6, 16, 18, 60] {
                            pool.push(json!(years_before(TODAY, years)));
                        }
                    }
                    ScalarKind::Id => pool.push(json!("X00000000")),
                    ScalarKind::String => {}
                }
                if pool.is_empty() {
                    pool.push(json!("none"));
                }
                if f.kind == ScalarKind::String {
                    let mut p: Vec<Value> = spread(&distinct, 12)
                        .iter()
                        .filter_map(Value::as_str)
                        .flat_map(|s| {
                            let chars: Vec<char> = s.chars().collect();
                            [1, 2].map(|n| {
                                json!(chars[..n.min(chars.len())].iter().collect::<String>())
                            })
                        })
                        .collect();
                    p.push(json!(""));
                    p.sort_by(cmp_values);
                    p.dedup();
                    prefixes.insert((t.name.clone(), f.name.clone()), p);
                }
                values.insert((t.name.clone(), f.name.clone()), pool);
            }
        }
        Pools { values, prefixes }
    }
}

/// At most `n` items, evenly spread over `items`.
fn spread<T: Clone>(items: &[T], n: usize) -> Vec<T> {
    if items.len() <= n {
        return items.to_vec();
    }
    (0..n).map(|i| items[i * items.len() / n].clone()).collect()
}

/// Ids to look up, per type: inside and outside the mandate.
pub(crate) struct Ids {
    pub(crate) inside: HashMap<String, Vec<String>>,
    pub(crate) outside: HashMap<String, Vec<String>>,
}

impl Ids {
    pub(crate) fn new(city: &City, m: &Mandate) -> Ids {
        let mut ids = Ids {
            inside: HashMap::new(),
            outside: HashMap::new(),
        };
        for t in &city.catalog.types {
            let all: Vec<String> = city.rows[&t.name]
                .iter()
                .map(|r| r["id"].as_str().unwrap().to_string())
                .collect();
            let (inside, outside): (Vec<String>, Vec<String>) =
                all.into_iter().partition(|id| m.sees(&t.name, id));
            ids.inside.insert(t.name.clone(), spread(&inside, 60));
            ids.outside.insert(t.name.clone(), spread(&outside, 30));
        }
        ids
    }

    /// Lookup candidates with weights: inside 5, outside 3, nonexistent 2.
    pub(crate) fn choices(&self, ty: &str) -> Vec<(u32, Vec<String>)> {
        [
            (5, self.inside.get(ty).cloned().unwrap_or_default()),
            (3, self.outside.get(ty).cloned().unwrap_or_default()),
            (
                2,
                vec!["X99999999".to_string(), format!("{}99999999", &ty[..1])],
            ),
        ]
        .into_iter()
        .filter(|(_, pool)| !pool.is_empty())
        .collect()
    }
}

/// splitmix64: the values of a variant, from its seed.
pub(crate) struct Mix(pub(crate) u64);

impl Mix {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next() % items.len() as u64) as usize]
    }
}

/// Draws new values into every value slot of `q` (lookup ids, filter constants,
/// `first`), leaving its shape, and so its Cypher text, unchanged.
pub(crate) struct Revalue<'a> {
    pub(crate) city: &'a City,
    pub(crate) pools: &'a Pools,
    pub(crate) ids: &'a Ids,
    pub(crate) mix: Mix,
}

impl Revalue<'_> {
    pub(crate) fn query(&mut self, q: &mut Query) {
        for root in &mut q.roots {
            match &mut root.kind {
                RootKind::Lookup { id, sel, .. } => {
                    *id = self.pick_id(&root.ty);
                    self.items(&root.ty, sel);
                }
                RootKind::List { args, conn } => {
                    self.args(&root.ty, args);
                    self.conn(&root.ty, conn);
                }
                RootKind::Entities { reps, parts, .. } => {
                    for (ty, id) in reps {
                        *id = self.pick_id(ty);
                    }
                    for (ty, sel) in parts {
                        self.items(ty, sel);
                    }
                }
            }
        }
    }

    fn pick_id(&mut self, ty: &str) -> String {
        let choices = self.ids.choices(ty);
        let total: u32 = choices.iter().map(|(w, _)| w).sum();
        let mut at = (self.mix.next() % u64::from(total)) as u32;
        for (w, pool) in &choices {
            if at < *w {
                return self.mix.pick(pool).clone();
            }
            at -= w;
        }
        unreachable!("weights cover the total")
    }

    fn target(&self, ty: &str, rel: &str) -> String {
        self.city.ty(ty).relation(rel).unwrap().target.clone()
    }

    fn items(&mut self, ty: &str, sel: &mut [Item]) {
        for it in sel {
            match it {
                Item::One { rel, sel, .. } => {
                    let target = self.target(ty, rel);
                    self.items(&target, sel);
                }
                Item::Many {
                    rel, args, conn, ..
                } => {
                    let target = self.target(ty, rel);
                    self.args(&target, args);
                    self.conn(&target, conn);
                }
                Item::Inline { sel, .. } | Item::Spread { sel, .. } => self.items(ty, sel),
                Item::Field { .. } | Item::Typename { .. } => {}
            }
        }
    }

    fn conn(&mut self, ty: &str, c: &mut ConnSel) {
        if let Some(node) = c.edges.as_mut().and_then(|e| e.node.as_mut()) {
            self.items(ty, node);
        }
    }

    fn args(&mut self, ty: &str, a: &mut Args) {
        if let Some(n) = a.first.as_mut() {
            *n = (self.mix.next() % 31) as i64;
        }
        if let Some(w) = a.filter.as_mut() {
            self.filter(ty, w);
        }
    }

    fn filter(&mut self, ty: &str, w: &mut Where) {
        for e in &mut w.0 {
            match e {
                Entry::And(ws) | Entry::Or(ws) => {
                    for w in ws {
                        self.filter(ty, w);
                    }
                }
                Entry::Not(w) => self.filter(ty, w),
                Entry::Rel { rel, inner, .. } => {
                    if let Some(w) = inner {
                        let target = self.target(ty, rel);
                        self.filter(&target, w);
                    }
                }
                Entry::Scalar { field, ops } => {
                    let key = (ty.to_string(), field.clone());
                    for (op, v) in ops {
                        match op {
                            // `IS NULL` and `IS NOT NULL` are different Cypher.
                            Op::IsNull => {}
                            Op::In => {
                                let pool = &self.pools.values[&key];
                                for x in v.as_array_mut().unwrap() {
                                    *x = self.mix.pick(pool).clone();
                                }
                            }
                            Op::StartsWith => {
                                *v = self.mix.pick(&self.pools.prefixes[&key]).clone()
                            }
                            _ => *v = self.mix.pick(&self.pools.values[&key]).clone(),
                        }
                    }
                }
            }
        }
    }
}
