//! SMS length rules: GSM-7 and UCS-2 segment counting.

/// GSM 03.38 basic character set (one septet each).
const GSM7_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\u{1b}ÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
/// GSM 03.38 extension table (two septets each: escape + character).
const GSM7_EXTENDED: &str = "^{}\\[~]|€\u{c}";

/// How a text will be encoded and how many segments it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SmsLength {
    /// True when every character is in the GSM-7 alphabet.
    pub gsm7: bool,
    /// Septets (GSM-7) or UTF-16 code units (UCS-2).
    pub units: usize,
    /// Segments the carrier will bill.
    pub segments: usize,
}

/// Measures `text` as a carrier would.
pub fn measure(text: &str) -> SmsLength {
    let mut septets = 0usize;
    let mut gsm7 = true;
    for c in text.chars() {
        if GSM7_BASIC.contains(c) {
            septets += 1;
        } else if GSM7_EXTENDED.contains(c) {
            septets += 2;
        } else {
            gsm7 = false;
            break;
        }
    }
    if gsm7 {
        let segments = match septets {
            0 => 0,
            n if n <= 160 => 1,
            n => n.div_ceil(153),
        };
        SmsLength {
            gsm7,
            units: septets,
            segments,
        }
    } else {
        let units = text.encode_utf16().count();
        let segments = match units {
            0 => 0,
            n if n <= 70 => 1,
            n => n.div_ceil(67),
        };
        SmsLength {
            gsm7,
            units,
            segments,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_ascii_up_to_160_is_one_segment() {
        assert_eq!(measure(&"a".repeat(160)).segments, 1);
        assert_eq!(measure(&"a".repeat(161)).segments, 2);
        assert_eq!(measure(&"a".repeat(306)).segments, 2);
        assert_eq!(measure(&"a".repeat(307)).segments, 3);
    }

    #[test]
    fn extension_characters_count_twice() {
        let m = measure(&"€".repeat(80));
        assert!(m.gsm7);
        assert_eq!(m.units, 160);
        assert_eq!(m.segments, 1);
        assert_eq!(measure(&"€".repeat(81)).segments, 2);
    }

    #[test]
    fn emoji_forces_ucs2() {
        let m = measure("Terima kasih 🙏");
        assert!(!m.gsm7);
        assert_eq!(m.units, 15);
        assert_eq!(m.segments, 1);
        assert_eq!(measure(&"é🙏".repeat(24)).segments, 2);
    }
}
