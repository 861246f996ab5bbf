//! What one request disclosed: the fields read and the data subjects whose data
//! was returned. Values are never recorded.

use std::collections::BTreeSet;
use std::sync::Mutex;

/// The mark of a field read masked: `Type.field:masked`.
const MASKED: &str = ":masked";

/// Collected during one request; the resolvers report into it.
#[derive(Debug, Default)]
pub struct Disclosure {
    fields: Mutex<BTreeSet<String>>,
    subjects: Mutex<BTreeSet<String>>,
}

impl Disclosure {
    /// Adds fields read (`Type.field`, `Type.field:masked`, `Type.relation`) and
    /// the ids of data subjects returned.
    pub fn add(
        &self,
        fields: impl IntoIterator<Item = String>,
        subjects: impl IntoIterator<Item = String>,
    ) {
        if let Ok(mut f) = self.fields.lock() {
            f.extend(fields);
        }
        if let Ok(mut s) = self.subjects.lock() {
            s.extend(subjects);
        }
    }

    /// The name of field `ty.name` in the record, marked when read masked.
    pub fn field_name(ty: &str, name: &str, masked: bool) -> String {
        if masked {
            format!("{ty}.{name}{MASKED}")
        } else {
            format!("{ty}.{name}")
        }
    }

    /// Fields read, sorted.
    pub fn fields(&self) -> Vec<String> {
        self.fields
            .lock()
            .map(|f| f.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Ids of the data subjects whose data was returned, sorted.
    pub fn subjects(&self) -> Vec<String> {
        self.subjects
            .lock()
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Whether any masked field was read.
    pub fn masked(&self) -> bool {
        self.fields
            .lock()
            .map(|f| f.iter().any(|x| x.ends_with(MASKED)))
            .unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collects_sorted_and_deduplicated() {
        let d = Disclosure::default();
        d.add(
            [Disclosure::field_name("Resident", "name", false)],
            ["R2".to_string(), "R1".to_string()],
        );
        assert!(!d.masked());
        d.add(
            [Disclosure::field_name("Resident", "phone", true)],
            ["R1".to_string()],
        );
        assert!(d.masked());
        assert_eq!(d.fields(), ["Resident.name", "Resident.phone:masked"]);
        assert_eq!(d.subjects(), ["R1", "R2"]);
    }
}
