//! Fixture mails.
