//! A small RFC 4180 reader for the members' CSV, which the peer's import
//! parses on the client (as an import script would) to send one batch of
//! rows at a time.
//!
//! Fields are separated by commas, records end with CRLF or LF, and a
//! field in double quotes may hold commas, line ends and doubled quotes.

use std::io::BufRead;

/// Reads records one at a time.
#[derive(Debug)]
pub(super) struct Records<R> {
    input: R,
    line: Vec<u8>,
    /// The number of the last record read, from 1 (the header).
    record: u64,
}

impl<R: BufRead> Records<R> {
    pub(super) fn new(input: R) -> Self {
        Self {
            input,
            line: Vec::with_capacity(1024),
            record: 0,
        }
    }

    /// The next record's fields into `fields` (cleared first); `false` at
    /// the end of the input.
    pub(super) fn next_into(&mut self, fields: &mut Vec<String>) -> anyhow::Result<bool> {
        fields.clear();
        let mut field = Vec::new();
        let mut quoted = false;
        let mut started = false;
        loop {
            self.line.clear();
            if self.input.read_until(b'\n', &mut self.line)? == 0 {
                anyhow::ensure!(
                    !quoted,
                    "record {}: a quoted field is not closed",
                    self.record + 1
                );
                if !started {
                    return Ok(false);
                }
                break;
            }
            started = true;
            if self.split(&mut field, &mut quoted, fields)? {
                break;
            }
        }
        self.record += 1;
        let record = self.record;
        fields.push(
            String::from_utf8(field)
                .map_err(|_| anyhow::anyhow!("record {record} is not UTF-8"))?,
        );
        Ok(true)
    }

    /// Splits `self.line` into fields, continuing `field` (and a quoted
    /// field, when `quoted`); `true` when the record ended on this line,
    /// with its last field still in `field`.
    fn split(
        &self,
        field: &mut Vec<u8>,
        quoted: &mut bool,
        fields: &mut Vec<String>,
    ) -> anyhow::Result<bool> {
        let record = self.record + 1;
        let mut bytes = self.line.iter().copied().peekable();
        while let Some(b) = bytes.next() {
            match (b, *quoted) {
                (b'"', true) if bytes.peek() == Some(&b'"') => {
                    field.push(b'"');
                    bytes.next();
                }
                (b'"', true) => *quoted = false,
                (b'"', false) if field.is_empty() => *quoted = true,
                (b',', false) => {
                    let done = String::from_utf8(std::mem::take(field))
                        .map_err(|_| anyhow::anyhow!("record {record} is not UTF-8"))?;
                    fields.push(done);
                }
                (b'\r', false) if bytes.peek() == Some(&b'\n') => {}
                (b'\n', false) => return Ok(true),
                _ => field.push(b),
            }
        }
        // The input ended without a line end, or inside a quoted field.
        Ok(!*quoted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(text: &str) -> anyhow::Result<Vec<Vec<String>>> {
        let mut records = Records::new(text.as_bytes());
        let mut out = Vec::new();
        let mut fields = Vec::new();
        while records.next_into(&mut fields)? {
            out.push(fields.clone());
        }
        Ok(out)
    }

    #[test]
    fn plain_and_quoted_fields() {
        let got = all("id,notes\r\nM1,\"Flat 3, \"\"Top\"\"\"\r\nM2,\r\n").unwrap();
        assert_eq!(
            got,
            vec![
                vec!["id", "notes"],
                vec!["M1", "Flat 3, \"Top\""],
                vec!["M2", ""],
            ]
        );
    }

    #[test]
    fn a_quoted_field_may_span_lines_and_the_last_line_end_is_optional() {
        let got = all("a,\"b\r\nc\"\nd,e").unwrap();
        assert_eq!(got, vec![vec!["a", "b\r\nc"], vec!["d", "e"]]);
    }

    #[test]
    fn an_unclosed_quote_is_an_error() {
        let err = all("a,\"b\nc\n").unwrap_err().to_string();
        assert_eq!(err, "record 1: a quoted field is not closed");
    }

    #[test]
    fn the_generators_csv_reads_back() {
        let generator = custos_synth::Generator::new(4);
        let mut text = Vec::new();
        generator.write_csv(&mut text, 300).unwrap();
        let got = all(std::str::from_utf8(&text).unwrap()).unwrap();
        assert_eq!(got.len(), 301);
        assert_eq!(got[0], custos_synth::COLUMNS);
        for (index, record) in got[1..].iter().enumerate() {
            assert_eq!(record, &generator.member(index as u64).values());
        }
    }
}
