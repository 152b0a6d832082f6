//! Decimal numbers written into byte buffers without the formatter (metalink preferences,
//! sizes and times, and the statistics log's addresses and dates).

/// Appends `n` in decimal (what `write!(out, "{n}")` writes).
pub(crate) fn push_decimal(out: &mut Vec<u8>, n: impl Into<u64>) {
    let n: u64 = n.into();
    // A metalink writes one preference (1 to 100) per URL: copies of a known length are
    // stores, where a slice of the digits is a call to memmove (3 % of a metalink answer).
    match n {
        0..10 => out.push(b'0' + n as u8),
        10..100 => out.extend_from_slice(&[b'0' + (n / 10) as u8, b'0' + (n % 10) as u8]),
        _ => push_padded(out, n, 1),
    }
}

/// Appends `n` in decimal, zero-padded to at least `width` digits, at most 20 (what
/// `write!(out, "{n:0width$}")` writes).
pub(crate) fn push_padded(out: &mut Vec<u8>, n: impl Into<u64>, width: usize) {
    let mut n: u64 = n.into();
    let mut digits = [b'0'; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    at = at.min(digits.len().saturating_sub(width));
    out.extend_from_slice(&digits[at..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_match_the_formatter() {
        for n in (0..=1_000).chain([12_345, u64::from(u32::MAX), u64::MAX]) {
            let mut out = Vec::new();
            push_decimal(&mut out, n);
            assert_eq!(out, n.to_string().as_bytes());
        }
    }

    #[test]
    fn padded_decimals_match_the_formatter() {
        for (n, width) in [
            (0u64, 1),
            (7, 2),
            (2026, 4),
            (31, 2),
            (9, 4),
            (u64::MAX, 1),
            (5, 20),
        ] {
            let mut out = Vec::new();
            push_padded(&mut out, n, width);
            assert_eq!(out, format!("{n:0width$}").as_bytes());
        }
    }
}
