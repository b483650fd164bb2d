//! Ticket ids (sortable) and their short human references.

use ulid::Ulid;

/// Crockford's base32: no I, L, O or U, so a reference read aloud or typed is unambiguous.
const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A new ticket: its sortable id and the short reference derived from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketIds {
    /// 26-character ULID: sorts by creation time.
    pub id: String,
    /// Six characters from the ULID's random part, e.g. `K7F3Q2`.
    pub reference: String,
}

impl TicketIds {
    /// Fresh ids. The reference is 30 random bits; the store reserves it with a conditional
    /// write, so two tickets never share one.
    pub fn generate() -> TicketIds {
        TicketIds::from_ulid(Ulid::new())
    }

    /// The ids of a given ULID (deterministic, for tests).
    pub fn from_ulid(ulid: Ulid) -> TicketIds {
        let random = ulid.random();
        let reference = (0..6)
            .rev()
            .map(|i| CROCKFORD[((random >> (i * 5)) & 0x1f) as usize] as char)
            .collect();
        TicketIds {
            id: ulid.to_string(),
            reference,
        }
    }
}

/// A token unique to one attempt at an ack (its claim, see `Store::claim_ack`): a ULID, so
/// tokens of different attempts never meet.
pub fn claim_token() -> String {
    Ulid::new().to_string()
}

/// Whether `s` has the shape of a ticket reference (six Crockford characters).
pub fn is_reference(s: &str) -> bool {
    s.len() == 6 && s.bytes().all(|b| CROCKFORD.contains(&b))
}

/// The ticket reference in a subject's `[#K7F3Q2]` token, upper-cased (mail clients and
/// customers retyping it may change case); the last token wins, as replies append.
pub fn reference_in_subject(subject: &str) -> Option<String> {
    subject.rmatch_indices("[#").find_map(|(at, _)| {
        let candidate = subject.get(at + 2..at + 8)?.to_ascii_uppercase();
        (subject.get(at + 8..at + 9) == Some("]") && is_reference(&candidate)).then_some(candidate)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subject_references_are_found_in_brackets_only() {
        assert_eq!(
            reference_in_subject("Re: Pesanan belum sampai [#K7F3Q2]").as_deref(),
            Some("K7F3Q2")
        );
        assert_eq!(
            reference_in_subject("AW: [#k7f3q2] x").as_deref(),
            Some("K7F3Q2")
        );
        assert_eq!(reference_in_subject("ticket #K7F3Q2"), None);
        assert_eq!(reference_in_subject("[#K7F3Q]"), None);
        assert_eq!(reference_in_subject("[#ILOU00]"), None);
        assert_eq!(reference_in_subject("[#ÄÄÄ]"), None);
        assert_eq!(
            reference_in_subject("[#AAAAAA] then [#BBBBBB]").as_deref(),
            Some("BBBBBB")
        );
    }

    #[test]
    fn reference_is_six_unambiguous_characters() {
        for _ in 0..1000 {
            let ids = TicketIds::generate();
            assert!(is_reference(&ids.reference), "{}", ids.reference);
            assert_eq!(ids.id.len(), 26);
        }
    }

    #[test]
    fn ids_sort_by_time() {
        let a = TicketIds::from_ulid(Ulid::from_parts(1_000, 7));
        let b = TicketIds::from_ulid(Ulid::from_parts(2_000, 3));
        assert!(a.id < b.id);
    }

    #[test]
    fn reference_comes_from_low_random_bits() {
        let ids = TicketIds::from_ulid(Ulid::from_parts(0, 0));
        assert_eq!(ids.reference, "000000");
        let ids = TicketIds::from_ulid(Ulid::from_parts(0, 0x3fff_ffff));
        assert_eq!(ids.reference, "ZZZZZZ");
    }
}
