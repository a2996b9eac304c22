//! The byte encoding of a subject's per-field maps (sealed values, scope
//! attributes, blind-index digests), each stored as one column.
//!
//! One row per subject keeps a read to a single indexed lookup; the fields
//! stay individually sealed inside it, so only the fields asked for are
//! decrypted. Format: a version byte, then per entry a 1-byte name length, the
//! name, a 4-byte little-endian value length and the value.

use custos_model::FieldName;

use crate::error::StoreError;

const VERSION: u8 = 1;

pub(crate) fn encode<V: AsRef<[u8]>>(entries: &[(FieldName, V)]) -> Vec<u8> {
    let size: usize = entries
        .iter()
        .map(|(k, v)| 5 + k.as_str().len() + v.as_ref().len())
        .sum();
    let mut out = Vec::with_capacity(1 + size);
    out.push(VERSION);
    for (name, value) in entries {
        let name = name.as_str().as_bytes();
        let value = value.as_ref();
        // Field names are at most 64 bytes and values are bounded by the
        // schema's max_length, far below these limits.
        out.push(u8::try_from(name.len()).unwrap_or(u8::MAX));
        out.extend_from_slice(name);
        out.extend_from_slice(&u32::try_from(value.len()).unwrap_or(u32::MAX).to_le_bytes());
        out.extend_from_slice(value);
    }
    out
}

pub(crate) fn decode(bytes: &[u8]) -> Result<Vec<(FieldName, Vec<u8>)>, StoreError> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("field map: {what}"));
    let (&version, mut rest) = bytes.split_first().ok_or_else(|| corrupt("empty"))?;
    if version != VERSION {
        return Err(corrupt("unknown version"));
    }
    let mut out = Vec::new();
    while let Some((&name_len, tail)) = rest.split_first() {
        let name_len = usize::from(name_len);
        if tail.len() < name_len + 4 {
            return Err(corrupt("truncated"));
        }
        let (name, tail) = tail.split_at(name_len);
        let name = std::str::from_utf8(name)
            .ok()
            .and_then(|n| FieldName::parse(n).ok())
            .ok_or_else(|| corrupt("bad field name"))?;
        let (len, tail) = tail.split_at(4);
        let len = u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize;
        if tail.len() < len {
            return Err(corrupt("truncated"));
        }
        let (value, tail) = tail.split_at(len);
        out.push((name, value.to_vec()));
        rest = tail;
    }
    Ok(out)
}

pub(crate) fn decode_text(bytes: &[u8]) -> Result<Vec<(FieldName, String)>, StoreError> {
    decode(bytes)?
        .into_iter()
        .map(|(k, v)| {
            String::from_utf8(v)
                .map(|v| (k, v))
                .map_err(|_| StoreError::Corrupt("scope value is not text".to_owned()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_truncation() {
        let entries = vec![
            (FieldName::parse("email").unwrap(), vec![1u8, 2, 3]),
            (FieldName::parse("notes").unwrap(), vec![]),
        ];
        let bytes = encode(&entries);
        assert_eq!(decode(&bytes).unwrap(), entries);
        for cut in 1..bytes.len() {
            let partial = decode(&bytes[..cut]);
            // A cut on an entry boundary is a shorter valid map; any other
            // cut is detected.
            if let Ok(map) = partial {
                assert!(map.len() < entries.len());
            }
        }
        assert!(decode(&[]).is_err());
        assert!(decode(&[9]).is_err());
    }
}
