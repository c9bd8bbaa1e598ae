//! Just enough JSON writing for `itc status --json`: strings escaped per
//! RFC 8259, numbers, `null`.

/// `s` as a JSON string literal, quotes included.
pub fn string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A string literal, or `null`.
pub fn opt_string(s: Option<&str>) -> String {
    s.map_or_else(|| "null".to_string(), string)
}

/// A number, or `null`.
pub fn opt_number(n: Option<u64>) -> String {
    n.map_or_else(|| "null".to_string(), |n| n.to_string())
}

/// An object from `(key, already-encoded value)` pairs.
pub fn object(fields: &[(&str, String)]) -> String {
    let body: Vec<String> = fields
        .iter()
        .map(|(k, v)| format!("{}:{v}", string(k)))
        .collect();
    format!("{{{}}}", body.join(","))
}

/// An array of already-encoded values.
pub fn array(items: &[String]) -> String {
    format!("[{}]", items.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_strings() {
        assert_eq!(string("plain"), "\"plain\"");
        assert_eq!(string("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(string("\n\t\u{1}"), "\"\\n\\t\\u0001\"");
        assert_eq!(string("é"), "\"é\"");
    }

    #[test]
    fn builds_objects_and_arrays() {
        let o = object(&[
            ("a", string("x")),
            ("n", opt_number(Some(3))),
            ("z", opt_number(None)),
            ("s", opt_string(None)),
        ]);
        assert_eq!(o, "{\"a\":\"x\",\"n\":3,\"z\":null,\"s\":null}");
        assert_eq!(opt_string(Some("q")), "\"q\"");
        assert_eq!(array(&[o.clone(), "1".into()]), format!("[{o},1]"));
        assert_eq!(array(&[]), "[]");
    }
}
