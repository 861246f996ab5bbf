//! Hash chains of records: sealing, verification, and reconciling a journal with
//! the stored chain.

use std::collections::BTreeMap;

use crate::record::{AuditRecord, GENESIS};

/// Where a chain ends: its last record's `seq` and `hash` ([`Head::genesis`] for
/// an empty chain).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// The last record's position (0: none yet).
    pub seq: u64,
    /// The last record's hash ([`GENESIS`]: none yet).
    pub hash: String,
}

impl Head {
    /// The head of an empty chain.
    pub fn genesis() -> Head {
        Head {
            seq: 0,
            hash: GENESIS.to_string(),
        }
    }

    /// The head a chain has once `record` is its last record.
    pub fn of(record: &AuditRecord) -> Head {
        Head {
            seq: record.seq,
            hash: record.hash.clone(),
        }
    }
}

/// Fills `chain`, `seq`, `prev_hash` and `hash` of `records`, chaining them onto
/// `from`; returns the new end of the chain.
pub fn seal(chain: &str, from: &Head, records: &mut [AuditRecord]) -> Head {
    let mut seq = from.seq;
    let mut prev = from.hash.clone();
    for record in records.iter_mut() {
        seq += 1;
        record.chain = chain.to_string();
        record.seq = seq;
        record.prev_hash = prev;
        record.hash = record.compute_hash();
        prev = record.hash.clone();
    }
    Head { seq, hash: prev }
}

/// The outcome of verifying an audit log.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Verification {
    /// Records checked per chain.
    pub chains: BTreeMap<String, u64>,
    /// Problems found, each naming the chain and seq; empty when intact.
    pub problems: Vec<String>,
}

/// Checks `records` (any order; several chains) for sequence, links and hashes,
/// and each chain's stored head against its last record: an edited, removed,
/// inserted or cut-off record shows as a problem.
pub fn verify(mut records: Vec<AuditRecord>, heads: &[(String, Head)]) -> Verification {
    records.sort_by(|a, b| (&a.chain, a.seq).cmp(&(&b.chain, b.seq)));
    let mut report = Verification::default();
    let mut last: Option<(&str, Head)> = None;
    for record in &records {
        let (expected_seq, expected_prev) = match &last {
            Some((c, h)) if *c == record.chain => (h.seq + 1, h.hash.as_str()),
            _ => (1, GENESIS),
        };
        let at = format!("chain {} seq {}", record.chain, record.seq);
        if record.seq != expected_seq {
            report.problems.push(format!(
                "{at}: expected seq {expected_seq} (a record is missing or inserted)"
            ));
        }
        if record.prev_hash != expected_prev {
            report
                .problems
                .push(format!("{at}: does not link to the previous record"));
        }
        if record.compute_hash() != record.hash {
            report
                .problems
                .push(format!("{at}: content does not match its hash (edited)"));
        }
        *report.chains.entry(record.chain.clone()).or_default() += 1;
        last = Some((&record.chain, Head::of(record)));
    }
    // The head remembers the chain's end: records cut off the tail show here.
    for (chain, head) in heads {
        if head.seq == 0 {
            continue;
        }
        let stored = records
            .iter()
            .find(|r| r.chain == *chain && r.seq == head.seq);
        if stored.map(|r| &r.hash) != Some(&head.hash) {
            report.problems.push(format!(
                "chain {chain} seq {}: the chain's last record is missing or differs from its head",
                head.seq
            ));
        }
    }
    report
}

/// How a journal stands against the chain in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reconciled {
    /// The end of the chain (the journal's last record, or the store's head).
    pub head: Head,
    /// How many of the journal's records are not in the store yet (its tail).
    pub unshipped: usize,
}

/// Checks that `records` (a journal) and `stored` (the chain's head in the store)
/// are one chain: the store holds a prefix of it, and the journal holds
/// everything after that prefix.
///
/// # Errors
/// A description of the disagreement.
pub fn reconcile(
    chain: &str,
    records: &[AuditRecord],
    stored: &Head,
) -> Result<Reconciled, String> {
    let Head { seq, hash } = stored;
    let (Some(first), Some(last)) = (records.first(), records.last()) else {
        return Ok(Reconciled {
            head: stored.clone(),
            unshipped: 0,
        });
    };
    if first.chain != chain {
        return Err(format!(
            "the journal holds chain {}, not {chain}",
            first.chain
        ));
    }
    if last.seq < *seq {
        return Err(format!(
            "Neo4j holds chain {chain} up to record {seq}, beyond the journal's last record {}: another writer is on this chain",
            last.seq
        ));
    }
    if first.seq > seq + 1 {
        return Err(format!(
            "the journal starts at record {} of chain {chain} but Neo4j ends at {seq}: records {}..{} are in neither",
            first.seq,
            seq + 1,
            first.seq - 1
        ));
    }
    let links = if first.seq == seq + 1 {
        first.prev_hash == *hash || (*seq == 0 && first.prev_hash == GENESIS)
    } else {
        records
            .iter()
            .find(|r| r.seq == *seq)
            .is_some_and(|r| r.hash == *hash)
    };
    if !links {
        return Err(format!(
            "record {seq} of chain {chain} differs between Neo4j and the journal"
        ));
    }
    Ok(Reconciled {
        head: Head::of(last),
        unshipped: usize::try_from(last.seq - seq).unwrap_or(usize::MAX),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Decision;

    fn chain_of(n: usize) -> (Vec<AuditRecord>, Head) {
        let mut records: Vec<_> = (0..n)
            .map(|i| AuditRecord::new(&format!("req-{i}"), Decision::Allowed))
            .collect();
        let head = seal("a", &Head::genesis(), &mut records);
        (records, head)
    }

    #[test]
    fn sealed_chains_verify() {
        let (records, head) = chain_of(5);
        assert_eq!(head.seq, 5);
        assert_eq!(records[0].prev_hash, GENESIS);
        assert_eq!(records[4].prev_hash, records[3].hash);
        let report = verify(records, &[("a".into(), head)]);
        assert_eq!(report.problems, Vec::<String>::new());
        assert_eq!(report.chains["a"], 5);
    }

    #[test]
    fn sealing_continues_a_chain() {
        let (mut records, head) = chain_of(2);
        let mut more = vec![AuditRecord::new("req-x", Decision::Rejected)];
        let end = seal("a", &head, &mut more);
        assert_eq!((more[0].seq, &more[0].prev_hash), (3, &head.hash));
        records.extend(more);
        assert!(verify(records, &[("a".into(), end)]).problems.is_empty());
    }

    #[test]
    fn edits_gaps_insertions_and_cut_tails_show() {
        let (records, head) = chain_of(4);
        let heads = [("a".to_string(), head)];

        let mut edited = records.clone();
        edited[1].officer = "someone-else".into();
        let p = verify(edited, &heads).problems;
        assert_eq!(
            p,
            vec!["chain a seq 2: content does not match its hash (edited)"]
        );

        let mut gap = records.clone();
        gap.remove(1);
        let p = verify(gap, &heads).problems;
        assert!(p.iter().any(|m| m.contains("expected seq 2")), "{p:?}");
        assert!(p.iter().any(|m| m.contains("does not link")), "{p:?}");

        let mut cut = records.clone();
        cut.pop();
        let p = verify(cut, &heads).problems;
        assert_eq!(
            p,
            vec!["chain a seq 4: the chain's last record is missing or differs from its head"]
        );

        let mut forged = records;
        let mut extra = vec![AuditRecord::new("forged", Decision::Allowed)];
        seal("a", &Head::of(&forged[1]), &mut extra);
        forged.insert(2, extra.remove(0));
        assert!(!verify(forged, &heads).problems.is_empty());
    }

    #[test]
    fn chains_are_checked_apart() {
        let (mut a, head_a) = chain_of(2);
        let mut b = vec![AuditRecord::new("b", Decision::Denied)];
        let head_b = seal("b", &Head::genesis(), &mut b);
        a.extend(b);
        let report = verify(a, &[("a".into(), head_a), ("b".into(), head_b)]);
        assert!(report.problems.is_empty(), "{:?}", report.problems);
        assert_eq!(report.chains.len(), 2);
    }

    #[test]
    fn journals_reconcile_with_a_stored_prefix() {
        let (records, head) = chain_of(5);
        // Nothing stored yet: the whole journal is unshipped.
        let r = reconcile("a", &records, &Head::genesis()).unwrap();
        assert_eq!((r.head.clone(), r.unshipped), (head.clone(), 5));
        // Stored up to record 3.
        let r = reconcile("a", &records, &Head::of(&records[2])).unwrap();
        assert_eq!(r.unshipped, 2);
        // Journal compacted to records 4..5, store at 3.
        let r = reconcile("a", &records[3..], &Head::of(&records[2])).unwrap();
        assert_eq!(r.unshipped, 2);
        // Everything shipped.
        assert_eq!(reconcile("a", &records, &head).unwrap().unshipped, 0);
    }

    #[test]
    fn disagreements_are_refused() {
        let (records, head) = chain_of(3);
        assert!(reconcile("b", &records, &Head::genesis())
            .unwrap_err()
            .contains("holds chain a"));
        let beyond = Head {
            seq: 9,
            hash: "x".into(),
        };
        assert!(reconcile("a", &records, &beyond)
            .unwrap_err()
            .contains("another writer"));
        assert!(reconcile("a", &records[2..], &Head::genesis())
            .unwrap_err()
            .contains("in neither"));
        let other = Head {
            seq: 2,
            hash: "not-it".into(),
        };
        assert!(reconcile("a", &records, &other)
            .unwrap_err()
            .contains("differs"));
        assert!(reconcile("a", &[], &head).is_ok());
    }
}
