//! Hex text to bytes (`itc send --hex`) and bytes to hex text (`itc recv`).

/// Parses pairs of hex digits; blanks anywhere are ignored
/// (`"de ad be ef"`, `"deadbeef"`). Fails on other characters or an odd
/// number of digits.
pub fn parse(text: &str) -> Result<Vec<u8>, String> {
    let digits: Vec<u8> = text
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| {
            c.to_digit(16)
                .map(|d| d as u8)
                .ok_or_else(|| format!("`{c}` is not a hex digit"))
        })
        .collect::<Result<_, _>>()?;
    if !digits.len().is_multiple_of(2) {
        return Err(format!(
            "odd number of hex digits ({}): give two per byte",
            digits.len()
        ));
    }
    Ok(digits.chunks(2).map(|p| (p[0] << 4) | p[1]).collect())
}

/// Bytes as lower-case hex pairs separated by spaces.
pub fn dump(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(&format!("{b:02x}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_with_and_without_blanks() {
        assert_eq!(parse("de ad BE ef"), Ok(vec![0xde, 0xad, 0xbe, 0xef]));
        assert_eq!(parse("0102"), Ok(vec![1, 2]));
        assert_eq!(parse(""), Ok(vec![]));
        assert_eq!(parse(" 0 1 "), Ok(vec![1]));
    }

    #[test]
    fn rejects_bad_digits_and_odd_counts() {
        assert!(parse("0g").unwrap_err().contains("`g`"));
        assert!(parse("abc").unwrap_err().contains("odd"));
    }

    #[test]
    fn dumps() {
        assert_eq!(dump(&[0xde, 0xad, 0x01]), "de ad 01");
        assert_eq!(dump(&[]), "");
    }
}
