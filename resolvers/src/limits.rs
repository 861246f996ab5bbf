//! Every limit a request is held to, with its default, in one place: page sizes
//! and input sizes checked by the walker, and the query shape checked at
//! validation.

/// Page-size and input limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// `first` when not given.
    pub default_page_size: usize,
    /// Largest `first` accepted.
    pub max_page_size: usize,
    /// Largest list accepted by an `in` filter (and by `_entities`).
    pub max_in_values: usize,
    /// Most sort keys in one `orderBy`.
    pub max_sort_keys: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            default_page_size: 20,
            max_page_size: 100,
            max_in_values: 1000,
            max_sort_keys: 5,
        }
    }
}

/// Query-shape limits, checked on the parsed document before anything runs
/// (see `cost.rs` for how each is measured).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShapeLimits {
    /// Maximum selection depth.
    pub max_depth: usize,
    /// Maximum cost: every field counts once per evaluation, lists weigh their
    /// page sizes, multiplied through nesting (one unit is about one value in
    /// the answer). Also bounds the document's expansion through fragments.
    pub max_complexity: usize,
    /// Maximum directives on one field.
    pub max_directives: usize,
    /// Maximum root fields (each is one Cypher query).
    pub max_root_fields: usize,
    /// Maximum aliased fields in the operation.
    pub max_aliases: usize,
    /// Maximum distinct response keys selected on one object.
    pub max_fields_per_object: usize,
    /// Maximum terms of the `where` arguments of one root field: a comparison
    /// counts 1, a relationship condition (a subquery) 13 more (see `cost.rs`).
    pub max_filter_terms: usize,
    /// Maximum nesting of objects in one `where` argument.
    pub max_filter_depth: usize,
}

impl Default for ShapeLimits {
    fn default() -> Self {
        ShapeLimits {
            max_depth: 24,
            max_complexity: 25_000,
            max_directives: 8,
            max_root_fields: 10,
            max_aliases: 50,
            max_fields_per_object: 64,
            max_filter_terms: 50,
            max_filter_depth: 10,
        }
    }
}

/// `accessReceipts(first:)` when not given (still capped at
/// [`Limits::max_page_size`]).
pub(crate) const DEFAULT_RECEIPTS: i64 = 50;

/// How deep brackets (`{`, `[`, `(`) may nest in a document's text. Checked
/// before the document is parsed: async-graphql's parser recurses into argument
/// values without a bound, and a filter nested a few hundred levels deep
/// (`{AND: [{AND: [...]}]}`, a couple of KB) overflows a worker's stack and
/// aborts the process. The selection depth limit (`max_depth`) and legitimate
/// filters stay far below.
pub(crate) const MAX_NESTING: usize = 64;

/// How deep fragments may nest inside one selection set, and how deep
/// async-graphql may recurse into a document.
pub(crate) const MAX_FRAGMENT_DEPTH: usize = 32;
