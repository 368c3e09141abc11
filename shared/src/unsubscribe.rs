//! The personal links in every email, signed so they can be trusted without a login and a
//! forged or altered one is refused: unsubscribe / preferences (`/u/{token}`: person and
//! topic) and view in browser (`/m/{token}`: person and the send's dedup key).
//!
//! Token: `base64url(payload) "." base64url(HMAC-SHA256(secret, payload)[..16])`, payload
//! `kind \n field \n field`. The kind (`u`, `m`) keeps one link's token from opening the other.

use crate::domain::{DedupKey, EmailAddress, PersonId, Topic};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt;

const TAG_BYTES: usize = 16;

/// The key tokens are signed with. At least 32 bytes; kept out of logs.
#[derive(Clone, PartialEq, Eq)]
pub struct UnsubscribeSecret(Vec<u8>);

impl fmt::Debug for UnsubscribeSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("UnsubscribeSecret(..)")
    }
}

impl UnsubscribeSecret {
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.len() < 32 {
            return Err("must be at least 32 characters".into());
        }
        Ok(Self(text.as_bytes().to_vec()))
    }

    /// A new random secret (hex), for local use; deployments configure theirs.
    pub fn generate() -> String {
        format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple())
    }

    fn mac(&self) -> Hmac<Sha256> {
        Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes a key of any length")
    }
}

/// Who wants out of what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsubscribeToken {
    pub person: PersonId,
    /// `None`: all marketing email.
    pub topic: Option<Topic>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("this unsubscribe link is not valid (it may have been altered or cut short)")]
pub struct InvalidToken;

fn sign(kind: &str, fields: [&str; 2], secret: &UnsubscribeSecret) -> String {
    let payload = format!("{kind}\n{}\n{}", fields[0], fields[1]);
    let mut mac = secret.mac();
    mac.update(payload.as_bytes());
    let tag = mac.finalize().into_bytes();
    format!("{}.{}", URL_SAFE_NO_PAD.encode(payload), URL_SAFE_NO_PAD.encode(&tag[..TAG_BYTES]))
}

/// The two fields of a token of `kind`, if its signature holds.
fn verify(kind: &str, token: &str, secret: &UnsubscribeSecret) -> Result<(String, String), InvalidToken> {
    let (payload, tag) = token.split_once('.').ok_or(InvalidToken)?;
    let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| InvalidToken)?;
    let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| InvalidToken)?;
    if tag.len() != TAG_BYTES {
        return Err(InvalidToken);
    }
    let mut mac = secret.mac();
    mac.update(&payload);
    mac.verify_truncated_left(&tag).map_err(|_| InvalidToken)?;
    let payload = String::from_utf8(payload).map_err(|_| InvalidToken)?;
    let mut parts = payload.splitn(3, '\n');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(k), Some(first), Some(second)) if k == kind => Ok((first.to_string(), second.to_string())),
        _ => Err(InvalidToken),
    }
}

impl UnsubscribeToken {
    pub fn sign(&self, secret: &UnsubscribeSecret) -> String {
        sign(
            "u",
            [self.person.as_str(), self.topic.as_ref().map(Topic::as_str).unwrap_or("")],
            secret,
        )
    }

    pub fn verify(token: &str, secret: &UnsubscribeSecret) -> Result<Self, InvalidToken> {
        let (person, topic) = verify("u", token, secret)?;
        Ok(Self {
            person: PersonId::parse(&person).map_err(|_| InvalidToken)?,
            topic: if topic.is_empty() {
                None
            } else {
                Some(Topic::parse(&topic).map_err(|_| InvalidToken)?)
            },
        })
    }
}

/// One sent message, for its "view in browser" link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewToken {
    pub person: PersonId,
    pub dedup_key: DedupKey,
}

impl ViewToken {
    pub fn sign(&self, secret: &UnsubscribeSecret) -> String {
        sign("m", [self.person.as_str(), self.dedup_key.as_str()], secret)
    }

    pub fn verify(token: &str, secret: &UnsubscribeSecret) -> Result<Self, InvalidToken> {
        let (person, key) = verify("m", token, secret)?;
        Ok(Self {
            person: PersonId::parse(&person).map_err(|_| InvalidToken)?,
            dedup_key: DedupKey::parse(&key).map_err(|_| InvalidToken)?,
        })
    }
}

/// Where unsubscribe links point, and how they are signed.
#[derive(Debug, Clone)]
pub struct UnsubscribeLinks {
    /// The public base URL of the API (`https://abc.execute-api.eu-west-1.amazonaws.com`).
    pub base_url: String,
    pub secret: UnsubscribeSecret,
    /// A mailbox for `List-Unsubscribe: <mailto:…>`, when one is configured.
    pub mailto: Option<EmailAddress>,
}

impl UnsubscribeLinks {
    /// The page for `token`: GET shows the preference center, POST unsubscribes in one click.
    pub fn url(&self, token: &UnsubscribeToken) -> String {
        format!("{}/u/{}", self.base_url.trim_end_matches('/'), token.sign(&self.secret))
    }

    /// The message as a web page (`/m/{token}`).
    pub fn view_url(&self, token: &ViewToken) -> String {
        format!("{}/m/{}", self.base_url.trim_end_matches('/'), token.sign(&self.secret))
    }

    /// The `mailto:` form of the same request, if a mailbox is configured.
    pub fn mailto(&self, token: &UnsubscribeToken) -> Option<String> {
        self.mailto
            .as_ref()
            .map(|mailbox| format!("mailto:{mailbox}?subject=unsubscribe%20{}", token.sign(&self.secret)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> UnsubscribeSecret {
        UnsubscribeSecret::parse("0123456789abcdef0123456789abcdef").unwrap()
    }

    fn token(topic: Option<&str>) -> UnsubscribeToken {
        UnsubscribeToken {
            person: PersonId::parse("user 42").unwrap(),
            topic: topic.map(|t| Topic::parse(t).unwrap()),
        }
    }

    #[test]
    fn round_trips_with_and_without_topic() {
        for t in [token(Some("tips")), token(None)] {
            let signed = t.sign(&secret());
            assert!(signed.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)), "{signed}");
            assert_eq!(UnsubscribeToken::verify(&signed, &secret()), Ok(t));
        }
    }

    #[test]
    fn forged_altered_and_foreign_tokens_are_refused() {
        let signed = token(Some("tips")).sign(&secret());
        let (payload, tag) = signed.split_once('.').unwrap();
        // Another person's id with this tag.
        let forged = format!("{}.{tag}", URL_SAFE_NO_PAD.encode("u\nuser 43\ntips"));
        assert_eq!(UnsubscribeToken::verify(&forged, &secret()), Err(InvalidToken));
        // A flipped tag character, a cut-short tag, no tag.
        let mut altered = tag.to_string();
        altered.replace_range(0..1, if tag.starts_with('A') { "B" } else { "A" });
        for bad in [
            format!("{payload}.{altered}"),
            format!("{payload}.{}", &tag[..10]),
            payload.to_string(),
            String::new(),
        ] {
            assert_eq!(UnsubscribeToken::verify(&bad, &secret()), Err(InvalidToken), "{bad}");
        }
        // A view link's token does not unsubscribe, and the other way round.
        let view = ViewToken {
            person: PersonId::parse("user 42").unwrap(),
            dedup_key: DedupKey::parse("0123456789abcdef0123456789abcdef").unwrap(),
        }
        .sign(&secret());
        assert_eq!(UnsubscribeToken::verify(&view, &secret()), Err(InvalidToken));
        assert_eq!(ViewToken::verify(&signed, &secret()), Err(InvalidToken));
        // Signed with another deployment's secret.
        let other = UnsubscribeSecret::parse("ffffffffffffffffffffffffffffffff").unwrap();
        assert_eq!(UnsubscribeToken::verify(&signed, &other), Err(InvalidToken));
    }

    #[test]
    fn short_secrets_are_refused() {
        assert!(UnsubscribeSecret::parse("short").is_err());
    }
}
