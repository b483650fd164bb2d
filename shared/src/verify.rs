//! Crypto helpers shared by the providers: HMACs and constant-time comparison.

use hmac::{Hmac, Mac};
use subtle::ConstantTimeEq;

/// Compares two secrets or signatures without leaking, through timing, where they differ.
/// Lengths are not secret (every signature of one provider has the same length).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// `Ok` when the signature the caller claims equals the one we computed (constant time),
/// else [`WebhookError::BadSignature`].
pub fn check_signature(expected: &[u8], claimed: &[u8]) -> Result<(), crate::WebhookError> {
    if constant_time_eq(expected, claimed) {
        Ok(())
    } else {
        Err(crate::WebhookError::BadSignature)
    }
}

/// Lower-case hex, as providers write digests (Mailgun's signature, Twilio's `bodySHA256`).
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
}

/// HMAC-SHA1 of the concatenated parts (Twilio), fed as they come: no buffer of them.
pub fn hmac_sha1<P: AsRef<[u8]>>(key: &[u8], parts: impl IntoIterator<Item = P>) -> [u8; 20] {
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(key).expect("HMAC accepts keys of any length");
    for part in parts {
        mac.update(part.as_ref());
    }
    mac.finalize().into_bytes().into()
}

/// HMAC-SHA256 of the concatenated parts (Meta, LINE, Mailgun, ...).
pub fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac =
        Hmac::<sha2::Sha256>::new_from_slice(key).expect("HMAC accepts keys of any length");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// Checks HTTP Basic credentials (`Authorization: Basic ...`) against the configured ones,
/// in constant time over the whole `user:password`.
pub fn check_basic_auth(
    authorization: Option<&str>,
    expected: &crate::config::BasicCredentials,
) -> Result<(), crate::WebhookError> {
    use base64::Engine;
    let claimed = authorization
        .and_then(|h| {
            let (scheme, value) = h.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("basic").then(|| {
                base64::engine::general_purpose::STANDARD
                    .decode(value.trim())
                    .ok()
            })?
        })
        .ok_or(crate::WebhookError::Unauthorized)?;
    let wanted = format!("{}:{}", expected.user, expected.password.expose());
    if constant_time_eq(wanted.as_bytes(), &claimed) {
        Ok(())
    } else {
        Err(crate::WebhookError::Unauthorized)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_auth() {
        let creds = crate::config::BasicCredentials {
            user: "intake".into(),
            password: crate::config::Secret::new("0123456789abcdef"),
        };
        // "intake:0123456789abcdef"
        let good = "Basic aW50YWtlOjAxMjM0NTY3ODlhYmNkZWY=";
        assert!(check_basic_auth(Some(good), &creds).is_ok());
        assert!(check_basic_auth(Some("basic  aW50YWtlOjAxMjM0NTY3ODlhYmNkZWY="), &creds).is_ok());
        for bad in [
            None,
            Some("Bearer aW50YWtlOjAxMjM0NTY3ODlhYmNkZWY="),
            Some("Basic aW50YWtlOjAxMjM0NTY3ODlhYmNkZWc="),
            Some("Basic !!!"),
            Some("Basic"),
        ] {
            assert!(matches!(
                check_basic_auth(bad, &creds),
                Err(crate::WebhookError::Unauthorized)
            ));
        }
    }

    #[test]
    fn equal_and_unequal() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert!(constant_time_eq(b"", b""));
    }

    // RFC 2202 test case 2 and RFC 4231 test case 2 (key "Jefe").
    #[test]
    fn rfc_vectors() {
        let sha1 = hmac_sha1(b"Jefe", [&b"what do ya want "[..], b"for nothing?"]);
        assert_eq!(hex(&sha1), "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
        let sha256 = hmac_sha256(b"Jefe", &[b"what do ya want for nothing?"]);
        assert_eq!(
            hex(&sha256),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
