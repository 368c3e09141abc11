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
