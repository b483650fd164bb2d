//! Which addresses SES lets us send from: an identity is a verified domain (its subdomains
//! included) or one address. The sender refuses others before AWS would; `intake doctor` and
//! the permission tests name the brands whose support address falls outside.

use crate::ack::settings::AckSettings;

/// Whether SES lets `identity` (a verified domain or address) send as `address`: the
/// address itself, an address of the domain, or of one of its subdomains.
pub fn identity_covers(identity: &str, address: &str) -> bool {
    let identity = identity.trim().to_ascii_lowercase();
    let address = address.trim().to_ascii_lowercase();
    if identity.contains('@') {
        return identity == address;
    }
    let Some((_, domain)) = address.rsplit_once('@') else {
        return false;
    };
    domain == identity
        || domain
            .strip_suffix(&identity)
            .is_some_and(|sub| sub.ends_with('.'))
}

/// The `(brand, address)` pairs acks would be sent from that no identity covers: SES (and the
/// acknowledger's IAM policy) would refuse them.
pub fn senders_outside<'a>(
    settings: &'a AckSettings,
    identities: &[String],
) -> Vec<(&'a str, &'a str)> {
    settings
        .email_senders()
        .into_iter()
        .filter(|(_, address)| !identities.iter().any(|i| identity_covers(i, address)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn senders_outside_the_identities_are_named_by_brand() {
        let settings = AckSettings::from_toml(
            r#"
default_brand = "toko"
[[brand]]
id = "toko"
name = "Toko"
addresses = ["halo@tokoku.id", "+6221555000"]
time_zone = "Asia/Jakarta"
[[brand]]
id = "kopi"
name = "Kopi"
addresses = ["halo@kopi.id"]
support_address = "help@kopi.co.id"
time_zone = "Asia/Makassar"
"#,
        )
        .expect("settings");
        assert_eq!(
            senders_outside(&settings, &["tokoku.id".into()]),
            vec![("kopi", "help@kopi.co.id")]
        );
        assert!(senders_outside(&settings, &["tokoku.id".into(), "kopi.co.id".into()]).is_empty());
    }

    #[test]
    fn identities_cover_their_addresses_domains_and_subdomains() {
        assert!(identity_covers("tokoku.id", "halo@tokoku.id"));
        assert!(identity_covers("tokoku.id", "Halo@Mail.Tokoku.ID"));
        assert!(identity_covers("help@tokoku.id", "help@tokoku.id"));
        assert!(!identity_covers("help@tokoku.id", "sales@tokoku.id"));
        assert!(!identity_covers("tokoku.id", "halo@nottokoku.id"));
        assert!(!identity_covers("tokoku.id", "halo@tokoku.id.evil.com"));
        assert!(!identity_covers("tokoku.id", "tokoku.id"));
    }
}
