//! `Metadata`: the properties a peer announces in its READY command.

use bytes::Bytes;

/// READY properties (`Socket-Type`, `Identity`, `X-...`), in wire order.
///
/// Names are compared ASCII-case-insensitively, as RFC 37 asks. Few entries
/// are expected, so lookups are a linear scan.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Metadata {
    entries: Vec<(String, Bytes)>,
}

impl Metadata {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `name` to `value`, replacing any entry with the same name.
    /// O(number of entries).
    pub fn insert(&mut self, name: &str, value: Bytes) {
        match self
            .entries
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            Some(entry) => entry.1 = value,
            None => self.entries.push((name.to_owned(), value)),
        }
    }

    /// Appends without looking for an existing entry: O(1), so a READY with
    /// many properties parses in linear time. Lookups find the first match.
    pub(crate) fn push(&mut self, name: &str, value: Bytes) {
        self.entries.push((name.to_owned(), value));
    }

    /// The value of `name`, if present.
    pub fn get(&self, name: &str) -> Option<&Bytes> {
        self.entries
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// Parses properties in the ZMTP format (name length, name, 4-byte
    /// value length, value), as READY and ZAP replies carry them.
    ///
    /// # Errors
    /// [`Error::MalformedCommand`](crate::Error::MalformedCommand) for a
    /// truncated or malformed property.
    pub fn parse(data: Bytes) -> Result<Self, crate::Error> {
        crate::command::parse_properties(data)
    }

    /// Every property, in the order received or inserted.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Bytes)> {
        self.entries.iter().map(|(n, v)| (n.as_str(), v))
    }

    /// Number of properties.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when there are no properties.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_insensitive_insert_and_get() {
        let mut m = Metadata::new();
        m.insert("Socket-Type", Bytes::from_static(b"PUSH"));
        m.insert("X-Hello", Bytes::from_static(b"1"));
        m.insert("socket-type", Bytes::from_static(b"PULL"));
        assert_eq!(m.len(), 2);
        assert_eq!(m.get("SOCKET-TYPE").unwrap(), &Bytes::from_static(b"PULL"));
        let names: Vec<&str> = m.iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["Socket-Type", "X-Hello"]);
        assert!(m.get("Identity").is_none());
    }
}
