//! Who asks: the admitted caller of one request.

/// The admitted caller, put into each request's data by the hub: owner writes
/// record it, and remote fields forward it to departmental subgraphs (never the
/// caller's credential), so a department's own system can log who asked, why
/// and under which case.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The hub's request id.
    pub request_id: String,
    /// The verified agency.
    pub agency: String,
    /// The verified officer or system.
    pub officer: String,
    /// The stated purpose.
    pub purpose: String,
    /// The stated case number.
    pub case: String,
}
