//! The proptest strategies that draw queries for one (officer, purpose): picks
//! from the mandate, a few of them ("poison") from the whole catalog.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use mandate_schema::{Catalog, ScalarKind};
use proptest::prelude::*;
use proptest::strategy::{BoxedStrategy, Union};
use serde_json::Value;

use crate::city::City;
use crate::oracle::{Access, Mandate};
use crate::query::{
    Args, ConnSel, Dir, EdgesSel, Entry, Item, Op, PageSel, Query, Root, RootKind, Where,
};
use crate::values::{Ids, Pools};
use crate::MAX_DEPTH;

/// (type, relationship depth, inside a fragment).
type ItemsKey = (String, usize, bool);

/// What the generator draws from for one combo: mostly the mandate, sometimes
/// the whole catalog.
pub(crate) struct Gen {
    /// Percent of picks outside the mandate.
    poison: u32,
    cat: Rc<Catalog>,
    pools: Rc<Pools>,
    /// Readable fields per visible type.
    fields: HashMap<String, Vec<String>>,
    /// Fields readable in full (filterable, sortable).
    full: HashMap<String, Vec<String>>,
    /// Visible relationships.
    rels: HashMap<String, Vec<String>>,
    /// Readable edge properties per (type, relationship).
    props: HashMap<(String, String), Vec<String>>,
    visible_types: Vec<String>,
    ids: Rc<Ids>,
    items_memo: RefCell<HashMap<ItemsKey, BoxedStrategy<Vec<Item>>>>,
    where_memo: RefCell<HashMap<(String, usize), BoxedStrategy<Where>>>,
}

/// One of `allowed`, or (`poison` %, or when nothing is allowed) one of `all`.
fn choose<T: std::fmt::Debug + 'static>(
    poison: u32,
    allowed: Vec<BoxedStrategy<T>>,
    all: Vec<BoxedStrategy<T>>,
) -> BoxedStrategy<T> {
    if allowed.is_empty() {
        return Union::new(all).boxed();
    }
    if poison == 0 {
        return Union::new(allowed).boxed();
    }
    Union::new_weighted(vec![
        (100 - poison, Union::new(allowed).boxed()),
        (poison, Union::new(all).boxed()),
    ])
    .boxed()
}

pub(crate) fn weighted<T: std::fmt::Debug + 'static>(
    options: Vec<(u32, BoxedStrategy<T>)>,
) -> BoxedStrategy<T> {
    Union::new_weighted(options).boxed()
}

fn s_dir(p: f64) -> BoxedStrategy<Option<Dir>> {
    proptest::option::weighted(
        p,
        (any::<bool>(), any::<bool>(), proptest::bool::weighted(0.3)).prop_map(
            |(include, value, default)| Dir {
                include,
                value,
                default,
            },
        ),
    )
    .boxed()
}

impl Gen {
    pub(crate) fn new(
        cat: Rc<Catalog>,
        pools: Rc<Pools>,
        ids: Rc<Ids>,
        city: &City,
        m: &Mandate,
        poison: u32,
    ) -> Gen {
        let mut g = Gen {
            poison,
            cat,
            pools,
            fields: HashMap::new(),
            full: HashMap::new(),
            rels: HashMap::new(),
            props: HashMap::new(),
            visible_types: m.types.keys().cloned().collect(),
            ids,
            items_memo: RefCell::new(HashMap::new()),
            where_memo: RefCell::new(HashMap::new()),
        };
        for t in &city.catalog.types {
            let name = &t.name;
            if let Some(view) = m.types.get(name) {
                g.fields
                    .insert(name.clone(), view.fields.keys().cloned().collect());
                g.full.insert(
                    name.clone(),
                    view.fields
                        .iter()
                        .filter(|(_, a)| **a == Access::Full)
                        .map(|(f, _)| f.clone())
                        .collect(),
                );
                g.rels.insert(
                    name.clone(),
                    t.relations
                        .iter()
                        .filter(|r| m.relation_visible(city, name, &r.name))
                        .map(|r| r.name.clone())
                        .collect(),
                );
                for (r, props) in &view.relations {
                    g.props
                        .insert((name.clone(), r.clone()), props.keys().cloned().collect());
                }
            }
        }
        g
    }

    fn list<'a>(map: &'a HashMap<String, Vec<String>>, ty: &str) -> &'a [String] {
        map.get(ty).map_or(&[], Vec::as_slice)
    }

    pub(crate) fn query(&self) -> BoxedStrategy<Query> {
        let root = self.root();
        let roots = (root.clone(), proptest::option::weighted(0.1, root))
            .prop_map(|(a, b)| Query {
                roots: std::iter::once(a).chain(b).collect(),
            })
            .boxed();
        // `_entities` stands alone: async-graphql 7.2 drops, rather than nulls
        // the data of, a failing non-null root beside others (async-graphql#1746).
        let entities = self
            .entities()
            .prop_map(|e| Query { roots: vec![e] })
            .boxed();
        weighted(vec![(90, roots), (10, entities)])
    }

    /// `_entities` over the mandate's entity types (sometimes any type).
    fn entities(&self) -> BoxedStrategy<Root> {
        let all: Vec<String> = self.cat.types.iter().map(|t| t.name.clone()).collect();
        let entity: Vec<String> = self
            .visible_types
            .iter()
            .filter(|t| Self::list(&self.full, t).iter().any(|f| f == "id"))
            .cloned()
            .collect();
        let ty = |names: &[String]| -> BoxedStrategy<String> {
            proptest::sample::select(names.to_vec()).boxed()
        };
        let s_type = if entity.is_empty() {
            ty(&all)
        } else if self.poison == 0 {
            ty(&entity)
        } else {
            weighted(vec![
                (100 - self.poison, ty(&entity)),
                (self.poison, ty(&all)),
            ])
        };
        let ids = self.ids.clone();
        let id_of = move |t: String| {
            let pools: Vec<(u32, BoxedStrategy<String>)> = ids
                .choices(&t)
                .into_iter()
                .map(|(w, pool)| (w, proptest::sample::select(pool).boxed()))
                .collect();
            (Just(t), weighted(pools))
        };
        let mut part_types: Vec<BoxedStrategy<(String, Vec<Item>)>> = Vec::new();
        for t in &all {
            let t2 = t.clone();
            part_types.push(
                self.items(t, 1, true)
                    .prop_map(move |sel| (t2.clone(), sel))
                    .boxed(),
            );
        }
        let chosen: Vec<BoxedStrategy<(String, Vec<Item>)>> = all
            .iter()
            .zip(&part_types)
            .filter(|(t, _)| entity.contains(t))
            .map(|(_, s)| s.clone())
            .collect();
        let part = choose(self.poison, chosen, part_types);
        (
            proptest::collection::vec(part, 1..=2),
            proptest::bool::weighted(0.6),
            proptest::bool::weighted(0.4),
            s_dir(0.03),
        )
            .prop_flat_map(move |(parts, reps_var, typename, dir)| {
                // Mostly the types the fragments select from, so entities answer.
                let selected: Vec<String> = parts.iter().map(|(t, _)| t.clone()).collect();
                let rep_type = weighted(vec![
                    (3, proptest::sample::select(selected).boxed()),
                    (1, s_type.clone()),
                ]);
                let rep = rep_type.prop_flat_map(id_of.clone()).boxed();
                (
                    proptest::collection::vec(rep, 0..=4),
                    Just((parts, reps_var, typename, dir)),
                )
            })
            .prop_map(|(reps, (parts, reps_var, typename, dir))| Root {
                ty: String::new(),
                kind: RootKind::Entities {
                    reps,
                    reps_var,
                    typename,
                    parts,
                },
                dir,
            })
            .boxed()
    }

    fn root(&self) -> BoxedStrategy<Root> {
        let per_type = |names: &[String]| -> Vec<BoxedStrategy<Root>> {
            names.iter().map(|t| self.root_of(t)).collect()
        };
        let all: Vec<String> = self.cat.types.iter().map(|t| t.name.clone()).collect();
        let all = Union::new(per_type(&all)).boxed();
        if self.visible_types.is_empty() {
            return all;
        }
        let visible = Union::new(per_type(&self.visible_types)).boxed();
        if self.poison == 0 {
            return visible;
        }
        weighted(vec![(100 - self.poison, visible), (self.poison, all)])
    }

    fn root_of(&self, ty: &str) -> BoxedStrategy<Root> {
        let ids: Vec<(u32, BoxedStrategy<String>)> = self
            .ids
            .choices(ty)
            .into_iter()
            .map(|(w, pool)| (w, proptest::sample::select(pool).boxed()))
            .collect();
        let t1 = ty.to_string();
        let lookup = (
            weighted(ids),
            proptest::bool::weighted(0.3),
            self.items(ty, 0, false),
            s_dir(0.03),
        )
            .prop_map(move |(id, id_var, sel, dir)| Root {
                ty: t1.clone(),
                kind: RootKind::Lookup { id, id_var, sel },
                dir,
            });
        let t2 = ty.to_string();
        let list = (
            self.args(ty, true),
            self.conn(ty, None, 0),
            proptest::bool::weighted(0.12),
            s_dir(0.03),
        )
            .prop_map(move |(mut args, mut conn, paginate, dir)| {
                if paginate {
                    args.after_var = true;
                    let page = conn.page.get_or_insert_with(PageSel::default);
                    page.end = true;
                }
                Root {
                    ty: t2.clone(),
                    kind: RootKind::List { args, conn },
                    dir,
                }
            });
        // A root list of residents or households scans the whole city twice (rows
        // and count) under the row scope: the dearest query there is.
        let list_weight = if matches!(ty, "Resident" | "Household") {
            25
        } else {
            50
        };
        weighted(vec![
            (100 - list_weight, lookup.boxed()),
            (list_weight, list.boxed()),
        ])
    }

    fn items(&self, ty: &str, depth: usize, in_frag: bool) -> BoxedStrategy<Vec<Item>> {
        let key = (ty.to_string(), depth, in_frag);
        if let Some(s) = self.items_memo.borrow().get(&key) {
            return s.clone();
        }
        let s = proptest::collection::vec(self.item(ty, depth, in_frag), 1..=4).boxed();
        self.items_memo.borrow_mut().insert(key, s.clone());
        s
    }

    fn item(&self, ty: &str, depth: usize, in_frag: bool) -> BoxedStrategy<Item> {
        let t = self.cat.node(ty).unwrap();
        let field = |name: &String| {
            let name = name.clone();
            proptest::bool::weighted(0.2)
                .prop_map(move |alias| Item::Field {
                    name: name.clone(),
                    alias,
                    dir: None,
                })
                .boxed()
        };
        let all_fields: Vec<String> = t.fields.iter().map(|f| f.name.clone()).collect();
        let mut options = vec![
            (
                60,
                choose(
                    self.poison,
                    Self::list(&self.fields, ty).iter().map(field).collect(),
                    all_fields.iter().map(field).collect(),
                ),
            ),
            (4, Just(Item::Typename { dir: None }).boxed()),
        ];
        if depth < MAX_DEPTH && !t.relations.is_empty() {
            let rel = |name: &String| self.rel_item(ty, name, depth);
            let all: Vec<String> = t.relations.iter().map(|r| r.name.clone()).collect();
            // Shallower is likelier: every nested relationship is a subquery
            // Neo4j must plan afresh (random queries never hit its plan cache).
            options.push((
                [18, 10, 5][depth],
                choose(
                    self.poison,
                    Self::list(&self.rels, ty).iter().map(rel).collect(),
                    all.iter().map(rel).collect(),
                ),
            ));
        }
        if !in_frag {
            let inner = self.items(ty, depth, true);
            options.push((
                5,
                (any::<bool>(), inner.clone())
                    .prop_map(|(typed, sel)| Item::Inline {
                        typed,
                        sel,
                        dir: None,
                    })
                    .boxed(),
            ));
            options.push((
                4,
                inner
                    .prop_map(|sel| Item::Spread { sel, dir: None })
                    .boxed(),
            ));
        }
        (weighted(options), s_dir(0.12))
            .prop_map(|(mut it, dir)| {
                // Known deviation: async-graphql 7.2's validation does not see a
                // variable used only in a directive on `__typename` ("Variable is
                // not used by operation"), so `__typename` carries none here.
                if !matches!(it, Item::Typename { .. }) {
                    it.set_dir(dir);
                }
                it
            })
            .boxed()
    }

    fn rel_item(&self, ty: &str, rel: &str, depth: usize) -> BoxedStrategy<Item> {
        let r = self.cat.node(ty).unwrap().relation(rel).unwrap();
        let name = rel.to_string();
        if r.many {
            (
                self.args(&r.target, false),
                self.conn(&r.target, Some((ty, rel)), depth + 1),
            )
                .prop_map(move |(args, conn)| Item::Many {
                    rel: name.clone(),
                    key: String::new(),
                    args,
                    conn,
                    dir: None,
                })
                .boxed()
        } else {
            (
                self.items(&r.target, depth + 1, false),
                proptest::bool::weighted(0.2),
            )
                .prop_map(move |(sel, alias)| Item::One {
                    rel: name.clone(),
                    alias,
                    sel,
                    dir: None,
                })
                .boxed()
        }
    }

    fn conn(&self, ty: &str, owner: Option<(&str, &str)>, depth: usize) -> BoxedStrategy<ConnSel> {
        let page = (
            proptest::bool::weighted(0.7),
            proptest::bool::weighted(0.3),
            proptest::bool::weighted(0.1),
            proptest::bool::weighted(0.2),
        )
            .prop_map(|(next, prev, start, end)| PageSel {
                next: next || !(prev || start || end),
                prev,
                start,
                end,
            });
        let (readable, all_props): (Vec<String>, Vec<String>) = match owner {
            Some((o, r)) => (
                self.props
                    .get(&(o.to_string(), r.to_string()))
                    .cloned()
                    .unwrap_or_default(),
                self.cat
                    .node(o)
                    .unwrap()
                    .relation(r)
                    .unwrap()
                    .properties
                    .iter()
                    .map(|p| p.name.clone())
                    .collect(),
            ),
            None => (Vec::new(), Vec::new()),
        };
        let props: BoxedStrategy<Vec<String>> = if all_props.is_empty() {
            Just(Vec::new()).boxed()
        } else if readable.is_empty() {
            (
                proptest::bool::weighted(f64::from(self.poison) / 100.0),
                proptest::sample::select(all_props),
            )
                .prop_map(|(on, p)| if on { vec![p] } else { Vec::new() })
                .boxed()
        } else {
            proptest::option::weighted(0.5, proptest::sample::select(readable))
                .prop_map(|p| p.into_iter().collect())
                .boxed()
        };
        let edges = (
            proptest::option::weighted(0.95, self.items(ty, depth, false)),
            props,
            proptest::bool::weighted(0.1),
            proptest::bool::weighted(0.05),
        )
            .prop_map(|(node, props, cursor, typename)| {
                let empty = node.is_none() && props.is_empty() && !cursor && !typename;
                EdgesSel {
                    node,
                    props,
                    cursor: cursor || empty,
                    typename,
                }
            });
        (
            proptest::bool::weighted(0.5),
            proptest::option::weighted(0.25, page),
            proptest::option::weighted(0.85, edges),
            proptest::bool::weighted(0.05),
        )
            .prop_map(|(total, page, edges, typename)| ConnSel {
                total: total || (page.is_none() && edges.is_none() && !typename),
                page,
                edges,
                typename,
            })
            .boxed()
    }

    fn args(&self, ty: &str, root: bool) -> BoxedStrategy<Args> {
        let t = self.cat.node(ty).unwrap();
        let key = |f: &String| {
            let f = f.clone();
            proptest::option::of(any::<bool>())
                .prop_map(move |d| (f.clone(), d))
                .boxed()
        };
        let all: Vec<String> = t.fields.iter().map(|f| f.name.clone()).collect();
        let order_key = choose(
            self.poison,
            Self::list(&self.full, ty).iter().map(key).collect(),
            all.iter().map(key).collect(),
        );
        let order = proptest::collection::vec(order_key, 1..=2).prop_map(|mut v| {
            let mut seen = HashSet::new();
            v.retain(|(f, _)| seen.insert(f.clone()));
            v
        });
        (
            proptest::option::weighted(if root { 0.55 } else { 0.4 }, self.filter(ty, 2)),
            proptest::bool::weighted(0.2),
            proptest::option::weighted(0.45, order),
            proptest::option::weighted(0.8, 0i64..=30),
            proptest::bool::weighted(0.15),
        )
            .prop_map(|(filter, filter_var, order, first, first_var)| Args {
                filter,
                filter_var,
                order: order.unwrap_or_default(),
                first,
                first_var,
                after_var: false,
            })
            .boxed()
    }

    fn filter(&self, ty: &str, depth: usize) -> BoxedStrategy<Where> {
        let memo_key = (ty.to_string(), depth);
        if let Some(s) = self.where_memo.borrow().get(&memo_key) {
            return s.clone();
        }
        let t = self.cat.node(ty).unwrap();
        let scalar = |f: &String| self.scalar_entry(ty, f);
        let all: Vec<String> = t.fields.iter().map(|f| f.name.clone()).collect();
        let mut options = vec![(
            55,
            choose(
                self.poison,
                Self::list(&self.full, ty).iter().map(scalar).collect(),
                all.iter().map(scalar).collect(),
            ),
        )];
        if !t.relations.is_empty() {
            let rel = |name: &String| {
                let target = t.relation(name).unwrap().target.clone();
                let inner = if depth > 0 {
                    proptest::option::weighted(0.7, self.filter(&target, depth - 1))
                        .prop_map(|w| w.map(Box::new))
                        .boxed()
                } else {
                    Just(None).boxed()
                };
                let name = name.clone();
                (proptest::option::weighted(0.4, any::<bool>()), inner)
                    .prop_map(move |(exists, inner)| Entry::Rel {
                        rel: name.clone(),
                        exists,
                        inner,
                    })
                    .boxed()
            };
            let all: Vec<String> = t.relations.iter().map(|r| r.name.clone()).collect();
            options.push((
                30,
                choose(
                    self.poison,
                    Self::list(&self.rels, ty).iter().map(rel).collect(),
                    all.iter().map(rel).collect(),
                ),
            ));
        }
        if depth > 0 {
            let sub = self.filter(ty, depth - 1);
            options.push((
                7,
                proptest::collection::vec(sub.clone(), 0..=3)
                    .prop_map(Entry::And)
                    .boxed(),
            ));
            options.push((
                8,
                proptest::collection::vec(sub.clone(), 0..=3)
                    .prop_map(Entry::Or)
                    .boxed(),
            ));
            options.push((6, sub.prop_map(|w| Entry::Not(Box::new(w))).boxed()));
        }
        let s = proptest::collection::vec(weighted(options), 1..=2)
            .prop_map(|mut entries| {
                let mut seen = HashSet::new();
                entries.retain(|e| seen.insert(e.key().to_string()));
                Where(entries)
            })
            .boxed();
        self.where_memo.borrow_mut().insert(memo_key, s.clone());
        s
    }

    fn scalar_entry(&self, ty: &str, field: &str) -> BoxedStrategy<Entry> {
        let f = self.cat.node(ty).unwrap().field(field).unwrap();
        let key = (ty.to_string(), field.to_string());
        let pool = self.pools.values[&key].clone();
        let value = proptest::sample::select(pool.clone());
        let op = |op: Op| {
            let v = value.clone();
            v.prop_map(move |v| (op, v)).boxed()
        };
        let mut ops: Vec<(u32, BoxedStrategy<(Op, Value)>)> = vec![
            (
                1,
                any::<bool>()
                    .prop_map(|b| (Op::IsNull, Value::Bool(b)))
                    .boxed(),
            ),
            (4, op(Op::Eq)),
        ];
        if f.kind != ScalarKind::Boolean {
            ops.push((
                2,
                proptest::collection::vec(proptest::sample::select(pool), 0..=4)
                    .prop_map(|v| (Op::In, Value::Array(v)))
                    .boxed(),
            ));
        }
        if matches!(
            f.kind,
            ScalarKind::String | ScalarKind::Int | ScalarKind::Date
        ) {
            for o in [Op::Gt, Op::Gte, Op::Lt, Op::Lte] {
                ops.push((1, op(o)));
            }
        }
        if f.kind == ScalarKind::String {
            let prefixes = self.pools.prefixes[&key].clone();
            ops.push((
                3,
                proptest::sample::select(prefixes)
                    .prop_map(|p| (Op::StartsWith, p))
                    .boxed(),
            ));
        }
        let name = field.to_string();
        proptest::collection::vec(weighted(ops), 1..=2)
            .prop_map(move |mut ops| {
                let mut seen = Vec::new();
                ops.retain(|(o, _)| {
                    let fresh = !seen.contains(o);
                    seen.push(*o);
                    fresh
                });
                Entry::Scalar {
                    field: name.clone(),
                    ops,
                }
            })
            .boxed()
    }
}
