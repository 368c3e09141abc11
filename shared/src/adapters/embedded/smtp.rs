//! Delivery over SMTP to a relay (a local MTA, Mailpit, a smarthost on the same network) through lettre.
//! The message goes out byte for byte as built; only the envelope comes from `OutgoingEmail`.

use crate::ports::{MailError, Mailer, OutgoingEmail};
use lettre::address::Envelope;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

#[derive(Clone)]
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
}

impl SmtpMailer {
    /// A plain (unencrypted) connection to `host:port`, for local relays and tests.
    pub fn plain(host: &str, port: u16, credentials: Option<(String, String)>) -> Self {
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host).port(port);
        if let Some((user, password)) = credentials {
            builder = builder.credentials(Credentials::new(user, password));
        }
        Self {
            transport: builder.build(),
        }
    }
}

impl Mailer for SmtpMailer {
    async fn send(&self, email: &OutgoingEmail) -> Result<String, MailError> {
        let parse =
            |address: &crate::domain::EmailAddress| address.as_str().parse().map_err(|e| MailError::Rejected(format!("address: {e}")));
        let envelope = Envelope::new(Some(parse(&email.from)?), vec![parse(&email.to)?]).map_err(|e| MailError::Rejected(e.to_string()))?;
        match self.transport.send_raw(&envelope, &email.raw).await {
            Ok(response) => Ok(response.message().collect::<Vec<_>>().join(" ")),
            Err(error) if error.is_permanent() => Err(MailError::Rejected(error.to_string())),
            Err(error) => Err(MailError::Transient(error.to_string())),
        }
    }
}
