//! Strict JSON helpers for untrusted token segments.
//!
//! RFC 7515 §4 and RFC 7519 §4 let a parser reject duplicate member names, and RFC 8725 warns
//! against two parsers reading one document differently. We reject duplicates at every depth, in
//! the same single pass that extracts the values we need, without building a tree.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// A JSON object key, borrowed from the input when it contains no escapes.
pub(crate) struct Key<'de>(pub(crate) Cow<'de, str>);

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string key")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// Tracks the keys of one JSON object and reports a duplicate.
///
/// Token objects are small (a dozen members), so the first keys live inline on the stack and a
/// linear scan beats hashing; larger objects spill to the heap.
#[derive(Default)]
pub(crate) struct SeenKeys<'de> {
    inline: [Cow<'de, str>; INLINE_KEYS],
    len: usize,
    spill: Vec<Cow<'de, str>>,
}

const INLINE_KEYS: usize = 8;

/// Duplicate detection for an object whose interesting members are known in advance: each known
/// name is one bit (no string kept or compared twice), any other name goes to [`SeenKeys`].
#[derive(Default)]
pub(crate) struct Members<'de> {
    known: u32,
    others: SeenKeys<'de>,
}

impl<'de> Members<'de> {
    /// Records `key`: its index in `names` (at most 32), or `None` for any other name; an error
    /// when it was already seen.
    #[allow(
        clippy::ptr_arg,
        reason = "an unknown name is kept as the Cow it is (borrowed stays borrowed)"
    )]
    pub(crate) fn insert<E: de::Error>(
        &mut self,
        key: &Cow<'de, str>,
        names: &[&str],
    ) -> Result<Option<usize>, E> {
        debug_assert!(names.len() <= 32);
        match names.iter().position(|n| *n == key) {
            Some(i) => {
                let bit = 1u32 << i;
                if self.known & bit != 0 {
                    return Err(E::custom(DUPLICATE_KEY));
                }
                self.known |= bit;
                Ok(Some(i))
            }
            None => self.others.insert(key).map(|()| None),
        }
    }
}

impl<'de> SeenKeys<'de> {
    /// Records `key`; errors if it was already seen. (Takes the `Cow` to keep a borrowed key
    /// borrowed.)
    #[allow(
        clippy::ptr_arg,
        reason = "the Cow is cloned, staying borrowed when it is"
    )]
    pub(crate) fn insert<E: de::Error>(&mut self, key: &Cow<'de, str>) -> Result<(), E> {
        if self.inline[..self.len]
            .iter()
            .chain(&self.spill)
            .any(|k| k == key)
        {
            return Err(E::custom(DUPLICATE_KEY));
        }
        if self.len < INLINE_KEYS {
            self.inline[self.len] = key.clone();
            self.len += 1;
        } else {
            self.spill.push(key.clone());
        }
        Ok(())
    }
}

/// The error text used for duplicate members (matched by [`is_duplicate_key_error`]).
pub(crate) const DUPLICATE_KEY: &str = "duplicate member name";

/// Validates any JSON value, rejecting duplicate object keys at every depth, and discards it.
/// serde_json's recursion limit (128) bounds the depth.
pub(crate) struct StrictIgnore;

impl<'de> DeserializeSeed<'de> for StrictIgnore {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(StrictIgnore)
    }
}

impl<'de> Visitor<'de> for StrictIgnore {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_none<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(StrictIgnore)?.is_some() {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = SeenKeys::default();
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            seen.insert::<A::Error>(&key)?;
            map.next_value_seed(StrictIgnore)?;
        }
        Ok(())
    }
}

/// Checks that `bytes` is one JSON object without duplicate members at any depth.
pub(crate) fn check_strict_object(bytes: &[u8]) -> Result<(), serde_json::Error> {
    struct TopObject;
    impl<'de> Visitor<'de> for TopObject {
        type Value = ();
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
            StrictIgnore.visit_map(map)
        }
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    de.deserialize_map(TopObject)?;
    de.end()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_are_rejected_at_any_depth() {
        assert!(check_strict_object(br#"{"a":1,"b":{"c":[1,{"d":2}]}}"#).is_ok());
        assert!(check_strict_object(br#"{"a":1,"a":2}"#).is_err());
        assert!(check_strict_object(br#"{"a":{"b":1,"b":1}}"#).is_err());
        assert!(check_strict_object(br#"{"a":[{"b":1,"b":1}]}"#).is_err());
        // An escaped key equal to a plain one is a duplicate too.
        assert!(check_strict_object(br#"{"exp":1,"\u0065xp":2}"#).is_err());
        // Past the inline capacity, duplicates are still found.
        let many: Vec<String> = (0..40).map(|i| format!("\"k{i}\":{i}")).collect();
        let ok = format!("{{{}}}", many.join(","));
        assert!(check_strict_object(ok.as_bytes()).is_ok());
        let dup = format!("{{{},\"k39\":0}}", many.join(","));
        assert!(check_strict_object(dup.as_bytes()).is_err());
        let dup_early = format!("{{{},\"k3\":0}}", many.join(","));
        assert!(check_strict_object(dup_early.as_bytes()).is_err());
    }

    #[test]
    fn only_objects_pass() {
        for bad in [
            &b"[]"[..],
            b"1",
            b"\"x\"",
            b"null",
            b"",
            b"{",
            b"{} x",
            b"{}{}",
        ] {
            assert!(
                check_strict_object(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn deep_nesting_is_rejected_without_overflow() {
        let mut s = String::from("{\"a\":");
        s.push_str(&"[".repeat(10_000));
        s.push_str(&"]".repeat(10_000));
        s.push('}');
        assert!(check_strict_object(s.as_bytes()).is_err());
    }
}
