//! The little HTTP/1.1 the load generator needs: building a keep-alive
//! request (a GET, or a PATCH with a JSON body) and parsing a response head
//! (status and Content-Length).

use std::fmt;

/// The largest response head accepted.
pub(crate) const MAX_HEAD: usize = 64 * 1024;

/// A parsed response head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ResponseHead {
    /// The status code.
    pub(crate) status: u16,
    /// The body's length in bytes.
    pub(crate) content_length: usize,
    /// The head's length, including the blank line that ends it.
    pub(crate) head_len: usize,
}

/// Why a response head cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HeadError {
    BadStatusLine,
    BadHeader,
    BadContentLength,
    ConflictingContentLength,
    NoContentLength,
    Chunked,
    TooLarge,
}

impl fmt::Display for HeadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::BadStatusLine => "the response has no valid HTTP/1.x status line",
            Self::BadHeader => "the response has a header line without a colon",
            Self::BadContentLength => "the response's Content-Length is not a number",
            Self::ConflictingContentLength => "the response has conflicting Content-Length headers",
            Self::NoContentLength => "the response has no Content-Length",
            Self::Chunked => "the response is chunked, which the load generator does not read",
            Self::TooLarge => "the response head is larger than 64 KiB",
        })
    }
}

impl std::error::Error for HeadError {}

/// Appends a keep-alive request `method path` with a bearer token to `out`,
/// and `body` as JSON when there is one (W3's PATCH). A request with a body
/// states its Content-Length, since the load generator never chunks; one
/// without (W2's GET) sends no body headers at all.
pub(crate) fn write_request(
    out: &mut Vec<u8>,
    method: &str,
    path: &str,
    host: &str,
    token: &str,
    body: Option<&[u8]>,
) {
    out.extend_from_slice(method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(path.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\nHost: ");
    out.extend_from_slice(host.as_bytes());
    out.extend_from_slice(b"\r\nAuthorization: Bearer ");
    out.extend_from_slice(token.as_bytes());
    out.extend_from_slice(b"\r\nAccept: application/json\r\n");
    if let Some(body) = body {
        out.extend_from_slice(b"Content-Type: application/json\r\nContent-Length: ");
        out.extend_from_slice(body.len().to_string().as_bytes());
        out.extend_from_slice(b"\r\n\r\n");
        out.extend_from_slice(body);
    } else {
        out.extend_from_slice(b"\r\n");
    }
}

/// Parses the response head at the start of `buf`. `Ok(None)` means the head
/// is not complete yet: read more.
pub(crate) fn parse_head(buf: &[u8]) -> Result<Option<ResponseHead>, HeadError> {
    let Some(end) = find(buf, b"\r\n\r\n") else {
        return if buf.len() > MAX_HEAD {
            Err(HeadError::TooLarge)
        } else {
            Ok(None)
        };
    };
    if end > MAX_HEAD {
        return Err(HeadError::TooLarge);
    }
    let head = &buf[..end];
    let mut lines = head
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let status = parse_status_line(lines.next().unwrap_or_default())?;
    let mut content_length: Option<usize> = None;
    for line in lines {
        let colon = line
            .iter()
            .position(|&b| b == b':')
            .ok_or(HeadError::BadHeader)?;
        let name = &line[..colon];
        let value = line[colon + 1..].trim_ascii();
        if name.eq_ignore_ascii_case(b"content-length") {
            let n = std::str::from_utf8(value)
                .ok()
                .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|v| v.parse::<usize>().ok())
                .ok_or(HeadError::BadContentLength)?;
            match content_length {
                Some(previous) if previous != n => return Err(HeadError::ConflictingContentLength),
                _ => content_length = Some(n),
            }
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            return Err(HeadError::Chunked);
        }
    }
    let content_length = match content_length {
        Some(n) => n,
        // These never have a body.
        None if status == 204 || status == 304 || (100..200).contains(&status) => 0,
        None => return Err(HeadError::NoContentLength),
    };
    Ok(Some(ResponseHead {
        status,
        content_length,
        head_len: end + 4,
    }))
}

/// `HTTP/1.1 200 OK` → 200.
fn parse_status_line(line: &[u8]) -> Result<u16, HeadError> {
    let rest = line
        .strip_prefix(b"HTTP/1.1 ")
        .or_else(|| line.strip_prefix(b"HTTP/1.0 "))
        .ok_or(HeadError::BadStatusLine)?;
    let code = rest.get(..3).ok_or(HeadError::BadStatusLine)?;
    if !code.iter().all(u8::is_ascii_digit) || rest.get(3).is_some_and(|&b| b != b' ') {
        return Err(HeadError::BadStatusLine);
    }
    Ok(code.iter().fold(0u16, |n, &d| n * 10 + u16::from(d - b'0')))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(text: &str) -> Result<Option<ResponseHead>, HeadError> {
        parse_head(text.as_bytes())
    }

    #[test]
    fn parses_status_and_content_length() {
        let text = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 17\r\n\r\n{\"id\":\"M1\"}";
        let parsed = head(text).unwrap().unwrap();
        assert_eq!(parsed.status, 200);
        assert_eq!(parsed.content_length, 17);
        assert_eq!(&text.as_bytes()[parsed.head_len..], b"{\"id\":\"M1\"}");
    }

    #[test]
    fn header_names_are_case_insensitive_and_values_trimmed() {
        let parsed = head("HTTP/1.1 404 Not Found\r\nContent-LENGTH:   5  \r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!((parsed.status, parsed.content_length), (404, 5));
    }

    #[test]
    fn an_incomplete_head_asks_for_more() {
        assert_eq!(head("HTTP/1.1 200 OK\r\ncontent-length: 5\r\n"), Ok(None));
        assert_eq!(head(""), Ok(None));
    }

    #[test]
    fn rejects_bad_status_lines() {
        assert_eq!(
            head("HTTP/2 200 OK\r\ncontent-length: 0\r\n\r\n"),
            Err(HeadError::BadStatusLine)
        );
        assert_eq!(
            head("HTTP/1.1 2x0 OK\r\ncontent-length: 0\r\n\r\n"),
            Err(HeadError::BadStatusLine)
        );
        assert_eq!(
            head("HTTP/1.1 2000 OK\r\ncontent-length: 0\r\n\r\n"),
            Err(HeadError::BadStatusLine)
        );
        assert_eq!(head("HTTP/1.1 20\r\n\r\n"), Err(HeadError::BadStatusLine));
    }

    #[test]
    fn a_status_line_without_a_reason_is_fine() {
        let parsed = head("HTTP/1.1 401\r\ncontent-length: 2\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!((parsed.status, parsed.content_length), (401, 2));
    }

    #[test]
    fn rejects_bad_or_missing_content_lengths() {
        assert_eq!(
            head("HTTP/1.1 200 OK\r\n\r\n"),
            Err(HeadError::NoContentLength)
        );
        assert_eq!(
            head("HTTP/1.1 200 OK\r\ncontent-length: -1\r\n\r\n"),
            Err(HeadError::BadContentLength)
        );
        assert_eq!(
            head("HTTP/1.1 200 OK\r\ncontent-length: \r\n\r\n"),
            Err(HeadError::BadContentLength)
        );
        assert_eq!(
            head("HTTP/1.1 200 OK\r\ncontent-length: 3\r\ncontent-length: 4\r\n\r\n"),
            Err(HeadError::ConflictingContentLength)
        );
        assert_eq!(
            head("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"),
            Err(HeadError::Chunked)
        );
        assert_eq!(
            head("HTTP/1.1 200 OK\r\nnonsense\r\n\r\n"),
            Err(HeadError::BadHeader)
        );
    }

    #[test]
    fn bodiless_statuses_need_no_content_length() {
        assert_eq!(
            head("HTTP/1.1 204 No Content\r\n\r\n")
                .unwrap()
                .unwrap()
                .content_length,
            0
        );
    }

    #[test]
    fn an_endless_head_is_refused() {
        let mut text = "HTTP/1.1 200 OK\r\n".to_owned();
        text.push_str(&"x-filler: y\r\n".repeat(MAX_HEAD / 10));
        assert_eq!(head(&text), Err(HeadError::TooLarge));
    }

    #[test]
    fn builds_a_keep_alive_get_without_a_body() {
        let mut out = Vec::new();
        write_request(
            &mut out,
            "GET",
            "/v1/subjects/M1?fields=a,b",
            "127.0.0.1:80",
            "tok",
            None,
        );
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("GET /v1/subjects/M1?fields=a,b HTTP/1.1\r\n"));
        assert!(text.contains("\r\nHost: 127.0.0.1:80\r\n"));
        assert!(text.contains("\r\nAuthorization: Bearer tok\r\n"));
        assert!(text.ends_with("\r\n\r\n"));
        let lower = text.to_ascii_lowercase();
        assert!(!lower.contains("connection: close"));
        assert!(!lower.contains("content-length") && !lower.contains("content-type"));
    }

    #[test]
    fn builds_a_keep_alive_patch_with_a_json_body() {
        let body = br#"{"fields":{"email":"a@example.org"}}"#;
        let mut out = Vec::new();
        write_request(
            &mut out,
            "PATCH",
            "/v1/subjects/M1?purpose=membership_admin",
            "127.0.0.1:80",
            "tok",
            Some(body),
        );
        let text = String::from_utf8(out).unwrap();
        let (head, sent) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("PATCH /v1/subjects/M1?purpose=membership_admin HTTP/1.1\r\n"));
        assert!(head.contains("\r\nAuthorization: Bearer tok"));
        assert!(head.contains("\r\nContent-Type: application/json"));
        assert!(head.ends_with(&format!("\r\nContent-Length: {}", body.len())));
        assert_eq!(sent.as_bytes(), body);
    }

    #[test]
    fn requests_follow_one_another_on_one_buffer() {
        let mut out = Vec::new();
        write_request(&mut out, "PATCH", "/a", "h", "t", Some(b"{}"));
        write_request(&mut out, "GET", "/b", "h", "t", None);
        let text = String::from_utf8(out).unwrap();
        let (first, second) = text.split_once("{}").unwrap();
        assert!(first.ends_with("Content-Length: 2\r\n\r\n"));
        assert!(second.starts_with("GET /b HTTP/1.1\r\n"));
    }
}
