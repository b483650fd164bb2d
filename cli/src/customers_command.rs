//! `intake customers show <number>`: one person behind a phone number, on every channel and
//! through every provider: their contacts (with each one's opt-out and language) and all
//! their tickets.

use clap::Subcommand;
use intake::ack::settings::SmsSettings;
use intake_dev::DevResult;
use intake_dev::reach;
use intake_dev::table::{self, Column};
use intake_dev::target::Deployed;
use std::io::Write;

/// `intake customers ...`.
#[derive(Subcommand)]
pub enum Customers {
    /// A customer by phone number, in any spelling (+6281234567890, 6281234567890,
    /// 0812-3456-7890 with the configured default country code): their SMS contact (shared
    /// by every SMS provider), their WhatsApp contacts, and every ticket, newest first.
    Show {
        /// The phone number.
        number: String,
        #[command(flatten)]
        deployed: Deployed,
        /// One JSON object: the number, its contacts and its tickets.
        #[arg(long)]
        json: bool,
    },
}

const CONTACT_COLUMNS: [Column; 5] = [
    Column::left("CHAN"),
    Column::left("ADDRESS"),
    Column::left("NAME"),
    Column::left("LANG"),
    Column::left("OPTED OUT"),
];

impl Customers {
    /// The table it reads.
    pub fn deployed(&self) -> &Deployed {
        let Customers::Show { deployed, .. } = self;
        deployed
    }
}

/// Runs one `intake customers` command.
pub async fn run(command: Customers) -> DevResult<()> {
    let Customers::Show {
        number,
        deployed,
        json,
    } = command;
    let sms = sms_settings()?;
    let e164 = intake::phone::e164(&number, &sms.default_country_code)
        .ok_or_else(|| format!("{number:?} is not a phone number"))?;
    let store = deployed.store().await?;
    let customer = match store.customer(&e164).await {
        Ok(customer) => customer,
        Err(e) => return Err(reach::table(&store, e).await),
    };
    if json {
        out!("{}", serde_json::to_string(&customer)?);
        return Ok(());
    }
    out!("customer {}", customer.number);
    if customer.contacts.is_empty() && customer.tickets.is_empty() {
        out!("no contact or ticket under this number");
        return Ok(());
    }
    let contacts: Vec<Vec<String>> = customer
        .contacts
        .iter()
        .map(|c| {
            vec![
                c.channel.map(|c| c.to_string()).unwrap_or_default(),
                c.address.clone(),
                c.name.clone().unwrap_or_default(),
                c.language.clone().unwrap_or_default(),
                if c.opted_out { "yes" } else { "no" }.to_owned(),
            ]
        })
        .collect();
    table::write(&mut std::io::stdout().lock(), &CONTACT_COLUMNS, &contacts)?;
    out!("");
    crate::write_tickets(&customer.tickets)
}

/// The `[sms]` settings of the configuration file (`$INTAKE_CONFIG`, else `intake.toml` if
/// there is one), or the built-in ones: the country code a national number is read with.
pub fn sms_settings() -> DevResult<SmsSettings> {
    let path: std::path::PathBuf = std::env::var_os("INTAKE_CONFIG")
        .map(Into::into)
        .unwrap_or_else(|| "intake.toml".into());
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(intake::ack::AckSettings::from_toml(&text)?.sms),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(SmsSettings::default()),
        Err(e) => Err(format!("cannot read {}: {e}", path.display()).into()),
    }
}
