//! Reading configuration from the environment, with errors that name the variable.
//! Each binary has its own typed `Config::from_env()` built from these.

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {name} is not set")]
    Missing { name: &'static str },
    #[error("environment variable {name}: {reason}")]
    Invalid { name: &'static str, reason: String },
}

pub fn required_env(name: &'static str) -> Result<String, ConfigError> {
    optional_env(name).ok_or(ConfigError::Missing { name })
}

/// The variable's value; unset and empty are the same.
pub fn optional_env(name: &'static str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.trim().is_empty())
}

/// The sender identity from `SENDER_ADDRESS` and `SENDER_NAME`.
pub fn sender_identity_from_env() -> Result<crate::mime::SenderIdentity, ConfigError> {
    let address = required_env("SENDER_ADDRESS")?;
    let address = crate::domain::EmailAddress::parse(&address).map_err(|e| ConfigError::Invalid {
        name: "SENDER_ADDRESS",
        reason: e.reason,
    })?;
    Ok(crate::mime::SenderIdentity {
        address,
        name: optional_env("SENDER_NAME").unwrap_or_else(|| "Nudge".into()),
    })
}

/// A whole number of days from `name`, if set.
pub fn optional_days(name: &'static str) -> Result<Option<chrono::Duration>, ConfigError> {
    match optional_env(name) {
        None => Ok(None),
        Some(text) => match text.trim().parse::<i64>() {
            Ok(days) if days > 0 => Ok(Some(chrono::Duration::days(days))),
            _ => Err(ConfigError::Invalid {
                name,
                reason: format!("{text:?} is not a whole number of days above 0"),
            }),
        },
    }
}

/// Unsubscribe links from `PUBLIC_URL` (the API's base URL), `UNSUBSCRIBE_SECRET` (at least
/// 32 characters) and, optionally, `UNSUBSCRIBE_MAILTO` (a mailbox for the mailto form).
pub fn unsubscribe_links_from_env() -> Result<crate::unsubscribe::UnsubscribeLinks, ConfigError> {
    let base_url = required_env("PUBLIC_URL")?;
    if !(base_url.starts_with("https://") || base_url.starts_with("http://")) {
        return Err(ConfigError::Invalid {
            name: "PUBLIC_URL",
            reason: format!("{base_url:?} is not an http(s) URL"),
        });
    }
    let secret =
        crate::unsubscribe::UnsubscribeSecret::parse(&required_env("UNSUBSCRIBE_SECRET")?).map_err(|reason| ConfigError::Invalid {
            name: "UNSUBSCRIBE_SECRET",
            reason,
        })?;
    let mailto = optional_env("UNSUBSCRIBE_MAILTO")
        .map(|text| crate::domain::EmailAddress::parse(&text))
        .transpose()
        .map_err(|e| ConfigError::Invalid {
            name: "UNSUBSCRIBE_MAILTO",
            reason: e.reason,
        })?;
    Ok(crate::unsubscribe::UnsubscribeLinks { base_url, secret, mailto })
}

/// The marketing guardrails from `MARKETING_CAP_PER_DAY` (default 2; 0: none),
/// `MARKETING_CAP_PER_WEEK` (default 5; 0: none) and `QUIET_HOURS` (`21:00-08:00`; unset: none).
pub fn guardrails_from_env() -> Result<crate::guardrails::Guardrails, ConfigError> {
    let cap = |name: &'static str, default: u32| -> Result<Option<u32>, ConfigError> {
        match optional_env(name) {
            None => Ok(Some(default)),
            Some(text) => match text.trim().parse::<u32>() {
                Ok(0) => Ok(None),
                Ok(n) => Ok(Some(n)),
                Err(_) => Err(ConfigError::Invalid {
                    name,
                    reason: format!("{text:?} is not a whole number (0 for no cap)"),
                }),
            },
        }
    };
    let quiet_hours = optional_env("QUIET_HOURS")
        .map(|text| crate::guardrails::QuietHours::parse(&text))
        .transpose()
        .map_err(|reason| ConfigError::Invalid {
            name: "QUIET_HOURS",
            reason,
        })?;
    Ok(crate::guardrails::Guardrails {
        cap: crate::guardrails::FrequencyCap {
            per_day: cap("MARKETING_CAP_PER_DAY", 2)?,
            per_week: cap("MARKETING_CAP_PER_WEEK", 5)?,
        },
        quiet_hours,
    })
}
