//! SES v2 as the mailer. Raw content, so our own headers (Message-ID, X-Nudge-*, later
//! List-Unsubscribe) reach the recipient as built.

use crate::ports::{MailError, Mailer, OutgoingEmail};
use aws_sdk_sesv2::primitives::Blob;
use aws_sdk_sesv2::types::{Destination, EmailContent, RawMessage};
use aws_sdk_sesv2::Client;

#[derive(Clone)]
pub struct SesMailer {
    client: Client,
    configuration_set: Option<String>,
}

impl SesMailer {
    /// `configuration_set`: SES routes delivery, bounce and complaint events through it.
    pub fn new(client: Client, configuration_set: Option<String>) -> Self {
        Self {
            client,
            configuration_set: configuration_set.filter(|name| !name.is_empty()),
        }
    }

    pub fn from_config(config: &aws_config::SdkConfig, configuration_set: Option<String>) -> Self {
        Self::new(Client::new(config), configuration_set)
    }
}

impl Mailer for SesMailer {
    async fn send(&self, email: &OutgoingEmail) -> Result<String, MailError> {
        let raw = RawMessage::builder()
            .data(Blob::new(email.raw.clone()))
            .build()
            .map_err(|e| MailError::Rejected(e.to_string()))?;
        let result = self
            .client
            .send_email()
            .from_email_address(email.from.as_str())
            .destination(Destination::builder().to_addresses(email.to.as_str()).build())
            .content(EmailContent::builder().raw(raw).build())
            .set_configuration_set_name(self.configuration_set.clone())
            .send()
            .await;
        match result {
            Ok(output) => Ok(output.message_id.unwrap_or_default()),
            Err(error) => {
                let detail = super::aws_smithy_error_context(&error);
                // Message-level refusals are final; throttling, limits and outages are not.
                let rejected = error.as_service_error().is_some_and(|e| {
                    e.is_message_rejected()
                        || e.is_mail_from_domain_not_verified_exception()
                        || e.is_bad_request_exception()
                        || e.is_account_suspended_exception()
                });
                Err(if rejected {
                    MailError::Rejected(detail)
                } else {
                    MailError::Transient(detail)
                })
            }
        }
    }
}
