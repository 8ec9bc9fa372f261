//! Keeping secrets out of everything the canary prints.
//!
//! Access key ids are shown masked (`AKIA************MPLE`); anything that
//! looks like a secret key or a session token is replaced before a message
//! reaches a report, a log line or a metric.

/// Masks an access key id, keeping the 4-character prefix and suffix.
pub fn mask_key_id(id: &str) -> String {
    let n = id.chars().count();
    if n <= 8 {
        return "*".repeat(n);
    }
    let head: String = id.chars().take(4).collect();
    let tail: String = id.chars().skip(n - 4).collect();
    format!("{head}{}{tail}", "*".repeat(n - 8))
}

/// Replaces access key ids (masked) and long opaque tokens (removed) in `text`,
/// folds it onto one line and caps its length.
pub fn redact(text: &str) -> String {
    let folded: String = scrub(text).split_whitespace().collect::<Vec<_>>().join(" ");
    truncate(&folded, 400)
}

/// Replaces access key ids (masked) and long opaque tokens (removed) in
/// `text`, keeping its layout: for log lines.
pub fn scrub(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in split_keep(text) {
        if looks_like_secret(word) {
            out.push_str("[redacted]");
        } else {
            mask_key_ids_in(word, &mut out);
        }
    }
    out
}

/// Copies `word`, masking every access key id inside it: a key id can stand
/// inside a longer word, as in `Credential=AKIA.../20261126/us-east-1/...`.
fn mask_key_ids_in(word: &str, out: &mut String) {
    let bytes = word.as_bytes();
    let mut i = 0;
    let mut copied = 0;
    while i + 4 <= bytes.len() {
        let prefix = &bytes[i..i + 4];
        // Anywhere in the word, glued to letters too (found by fuzzing): a
        // false match only masks an odd upper-case identifier.
        if prefix == b"AKIA" || prefix == b"ASIA" {
            let len = bytes[i..]
                .iter()
                .take_while(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
                .count();
            // However long the run: a key id glued to more capitals and
            // digits is still in it (found by fuzzing), so the whole run
            // is masked.
            if len >= KEY_ID_MIN_LEN {
                out.push_str(&word[copied..i]);
                out.push_str(&mask_key_id(&word[i..i + len]));
                i += len;
                copied = i;
                continue;
            }
        }
        i += 1;
    }
    out.push_str(&word[copied..]);
}

/// A writer for log lines that scrubs each write before passing it on.
#[derive(Debug)]
pub struct ScrubbingWriter<W>(pub W);

impl<W: std::io::Write> std::io::Write for ScrubbingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .write_all(scrub(&String::from_utf8_lossy(buf)).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// Cuts `text` to at most `max` characters, marking the cut.
/// Control characters (escape sequences, bells, carriage returns) are
/// escaped, so that nothing printed can drive the terminal.
pub fn truncate(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max + 8));
    let mut count = 0;
    for c in text.chars() {
        // At most `max` characters of output, escapes included.
        let piece: String = if c.is_control() {
            c.escape_default().collect()
        } else {
            c.to_string()
        };
        let len = piece.chars().count();
        if count + len > max {
            out.push('…');
            break;
        }
        out.push_str(&piece);
        count += len;
    }
    out
}

/// A value from outside (a response, the environment) as the human report
/// shows it: control characters escaped, at most 512 characters.
pub fn shown(text: &str) -> String {
    truncate(text, 512)
}

/// Splits into alternating runs of token characters and other characters.
fn split_keep(text: &str) -> Vec<&str> {
    let is_tok = |c: char| c.is_ascii_alphanumeric() || "+/=_-".contains(c);
    let mut parts = Vec::new();
    let mut start = 0;
    let mut in_tok = None;
    for (i, c) in text.char_indices() {
        let t = is_tok(c);
        match in_tok {
            Some(prev) if prev != t => {
                parts.push(&text[start..i]);
                start = i;
            }
            _ => {}
        }
        in_tok = Some(t);
    }
    if start < text.len() {
        parts.push(&text[start..]);
    }
    parts
}

/// The shortest access key id AWS issues (IAM allows 16 to 128 characters;
/// today's are 20).
const KEY_ID_MIN_LEN: usize = 16;

/// A 40-character secret key, or a long base64 blob such as a session token:
/// only base64 characters, mixed case and digits. Role paths and table names
/// carry `-` or `_`, which base64 never does; ARNs are split at their `:`.
/// A blob with `+`, `/` or `=`, or of 100 or more characters, is a token
/// whatever its case (a peer may echo one upper-cased); request ids (52
/// letters and digits) stay readable.
fn looks_like_secret(word: &str) -> bool {
    let base64 = word
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b));
    let mixed = word.bytes().any(|b| b.is_ascii_lowercase())
        && word.bytes().any(|b| b.is_ascii_uppercase())
        && word.bytes().any(|b| b.is_ascii_digit());
    let symbols = word.bytes().any(|b| b"+/=".contains(&b));
    base64 && ((word.len() >= 32 && (mixed || symbols)) || word.len() >= 100)
}

/// A URL with the password of its user info masked
/// (`http://ops:s3cret@proxy:3128` → `http://ops:****@proxy:3128`): proxy
/// URLs carry credentials, and they are printed in messages and by doctor.
pub fn mask_url_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
            let masked = if userinfo.contains(':') {
                format!("{user}:****")
            } else {
                user.to_string()
            };
            format!("{scheme}://{masked}@{host}{tail}")
        }
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_passwords_are_masked_and_nothing_else_changes() {
        assert_eq!(
            mask_url_password("http://ops:s3cr%40t@proxy:3128/"),
            "http://ops:****@proxy:3128/"
        );
        assert_eq!(
            mask_url_password("http://a:b@c@proxy:3128"),
            "http://a:****@proxy:3128"
        );
        assert_eq!(
            mask_url_password("http://token@proxy:3128"),
            "http://token@proxy:3128"
        );
        assert_eq!(
            mask_url_password("http://proxy:3128/p?q=a:b@c"),
            "http://proxy:3128/p?q=a:b@c"
        );
        assert_eq!(mask_url_password("proxy:3128"), "proxy:3128");
    }

    #[test]
    fn masks_key_ids() {
        assert_eq!(mask_key_id("AKIAIOSFODNN7EXAMPLE"), "AKIA************MPLE");
        assert_eq!(mask_key_id("short"), "*****");
    }

    #[test]
    fn redacts_keys_and_tokens_in_prose() {
        let s = "key AKIAIOSFODNN7EXAMPLE secret wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY end";
        let r = redact(s);
        assert!(r.contains("AKIA************MPLE"), "{r}");
        assert!(!r.contains("wJalrXUtnFEMI"), "{r}");
        assert!(r.contains("[redacted]"), "{r}");
    }

    #[test]
    fn redacts_tokens_whatever_letters_they_contain() {
        // A random token may well contain "arn" or any other word.
        let token = "IQoJb3JpZ2luX2VjEarnH8aCXVzLWVhc3QtMSJHMEUCIQD/4z+Tb3Jn9pQ==";
        let r = redact(&format!("token {token} rejected"));
        assert_eq!(r, "token [redacted] rejected");
    }

    #[test]
    fn leaves_aws_messages_readable() {
        let s = "User: arn:aws:sts::123456789012:assumed-role/CanaryRole-Prod/canary-session-2026 is not authorized to perform: dynamodb:GetItem on resource: arn:aws:dynamodb:us-east-1:123456789012:table/orders";
        assert_eq!(redact(s), s);
    }

    #[test]
    fn key_ids_inside_words_and_upper_case_tokens() {
        let echoed = "Authorization: AWS4-HMAC-SHA256 Credential=AKIAPLANTEDEXAMPLE01/20261126/us-east-1/dynamodb/aws4_request, SignedHeaders=host";
        let r = scrub(echoed);
        assert!(!r.contains("AKIAPLANTEDEXAMPLE01"), "{r}");
        assert!(
            r.contains("Credential=AKIA************LE01/20261126/us-east-1"),
            "{r}"
        );
        let token = "IQOJB3JPZ2LUX2VJEARNH8ACXVZLWVHC3QTMSJHMEUCIQD/4Z+TB3JN9PQ".repeat(3);
        assert_eq!(
            scrub(&format!("x-amz-security-token: {token}")),
            "x-amz-security-token: [redacted]"
        );
        let upper = "PLANTEDSESSIONTOKEN/ABCDEFGH0123+IJKLMNOP4567QRSTUVWX==";
        assert_eq!(scrub(upper), "[redacted]");
        let request_id = "6KQ3V1E2JCUHJNRQ0GRDOPB1U7VV4KQNSO5AEMVJF66Q9ASUAAJG";
        assert_eq!(scrub(request_id), request_id);
        assert_eq!(
            scrub("DEBUG access_key_id: \"ASIAPLANTEDEXAMPLE02\"\n  next"),
            "DEBUG access_key_id: \"ASIA************LE02\"\n  next"
        );
        assert_eq!(scrub("BASIAN AKIAX"), "BASIAN AKIAX");
        assert_eq!(
            scrub("auAKIAFUZZEXAMPLE12345Rolome"),
            "auAKIA*************345Rolome"
        );
        // Found by fuzzing: a key id inside a run of capitals and digits
        // longer than any key id was left whole.
        let glued = format!(
            "AKIAFUZ{}AKIAPLANTEDEXAMPLE03{}",
            "1".repeat(10),
            "1".repeat(20)
        );
        let r = scrub(&format!("x {glued} y"));
        assert_eq!(r, format!("x AKIA{}1111 y", "*".repeat(glued.len() - 8)));
        let longer = format!(
            "AKIAFUZ{}AKIAPLANTEDEXAMPLE03{}",
            "1".repeat(60),
            "1".repeat(80)
        );
        assert!(!scrub(&longer).contains("AKIAPLANTEDEXAMPLE03"));
        assert_eq!(scrub("AKIA1234567890AB"), "AKIA********90AB");
        assert_eq!(scrub("AKIA1234567890A"), "AKIA1234567890A");
    }

    #[test]
    fn the_scrubbing_writer_scrubs_what_it_writes() {
        use std::io::Write;
        let mut w = ScrubbingWriter(Vec::new());
        writeln!(w, "key AKIAIOSFODNN7EXAMPLE").unwrap();
        assert_eq!(
            String::from_utf8(w.0).unwrap(),
            "key AKIA************MPLE\n"
        );
        // Flushing reaches the writer underneath (a log line must not wait
        // in a buffer when the process is killed after a run).
        let mut w = ScrubbingWriter(std::io::BufWriter::new(Vec::new()));
        w.write_all(b"line").unwrap();
        assert!(w.0.get_ref().is_empty());
        w.flush().unwrap();
        assert_eq!(w.0.get_ref(), b"line");
    }

    #[test]
    fn control_characters_are_escaped_and_long_values_cut() {
        assert_eq!(
            truncate("a\u{1b}[31mred\u{7}", 100),
            "a\\u{1b}[31mred\\u{7}"
        );
        assert_eq!(truncate("abcdef", 3), "abc…");
        assert_eq!(truncate("abc", 3), "abc");
        assert_eq!(shown(&"x".repeat(1_000_000)).chars().count(), 513);
        // Found by the redact fuzz target: escapes counted as one character.
        let zeros = format!("a{}", "\0".repeat(500));
        assert!(redact(&zeros).chars().count() <= 401);
        assert!(truncate(&zeros, 10).chars().count() <= 11);
        assert!(!redact("bell\u{7} and escape\u{1b}").contains('\u{1b}'));
    }

    #[test]
    fn folds_lines_and_caps_length() {
        let r = redact(&format!("a\n\nb {}", "x ".repeat(500)));
        assert!(r.starts_with("a b x"));
        assert!(r.chars().count() <= 401);
    }
}
