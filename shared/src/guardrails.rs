//! Limits every marketing send passes, whatever the campaign: a frequency cap per person
//! over all campaigns, and quiet hours in the person's timezone (delayed, never dropped).
//! Transactional mail is exempt from both.

use chrono::{DateTime, Duration, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

/// At most this much marketing mail per person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrequencyCap {
    pub per_day: Option<u32>,
    pub per_week: Option<u32>,
}

impl Default for FrequencyCap {
    /// Two a day, five a week.
    fn default() -> Self {
        Self {
            per_day: Some(2),
            per_week: Some(5),
        }
    }
}

impl FrequencyCap {
    /// The limit another send would exceed, given when the person's earlier marketing mail went.
    pub fn exceeded(&self, sent: &[DateTime<Utc>], now: DateTime<Utc>) -> Option<(u32, &'static str)> {
        let within = |window: Duration| sent.iter().filter(|at| **at > now - window && **at <= now).count() as u32;
        if let Some(limit) = self.per_day.filter(|limit| within(Duration::hours(24)) >= *limit) {
            return Some((limit, "24h"));
        }
        if let Some(limit) = self.per_week.filter(|limit| within(Duration::days(7)) >= *limit) {
            return Some((limit, "7d"));
        }
        None
    }
}

/// No marketing mail between `start` and `end` where the person is (e.g. 21:00 to 08:00).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietHours {
    pub start: NaiveTime,
    pub end: NaiveTime,
}

impl QuietHours {
    /// "21:00-08:00".
    pub fn parse(text: &str) -> Result<Self, String> {
        let (start, end) = text
            .split_once('-')
            .ok_or_else(|| format!("{text:?}: write quiet hours as 21:00-08:00"))?;
        let time = |t: &str| NaiveTime::parse_from_str(t.trim(), "%H:%M").map_err(|_| format!("{t:?} is not a time of day (21:00)"));
        Ok(Self {
            start: time(start)?,
            end: time(end)?,
        })
    }

    fn quiet_at(&self, time: NaiveTime) -> bool {
        if self.start <= self.end {
            time >= self.start && time < self.end
        } else {
            time >= self.start || time < self.end
        }
    }

    /// `None` if `now` is outside quiet hours in `tz`; else when they end.
    pub fn next_allowed(&self, now: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        let local = now.with_timezone(&tz);
        if !self.quiet_at(local.time()) {
            return None;
        }
        (0..=1)
            .filter_map(|offset| {
                let date = local.date_naive() + Duration::days(offset);
                tz.from_local_datetime(&date.and_time(self.end)).earliest()
            })
            .map(|at| at.with_timezone(&Utc))
            .find(|at| *at > now)
    }
}

/// What every marketing send is held to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Guardrails {
    pub cap: FrequencyCap,
    pub quiet_hours: Option<QuietHours>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 10, h, m, 0).unwrap()
    }

    #[test]
    fn the_cap_counts_sends_in_the_windows() {
        let cap = FrequencyCap::default();
        let now = at(12, 0);
        assert_eq!(cap.exceeded(&[], now), None);
        assert_eq!(cap.exceeded(&[at(1, 0), at(11, 0)], now), Some((2, "24h")));
        let days = |d: i64| now - Duration::days(d);
        assert_eq!(cap.exceeded(&[days(1), days(2), days(3), days(4)], now), None);
        assert_eq!(cap.exceeded(&[days(1), days(2), days(3), days(4), days(6)], now), Some((5, "7d")));
        assert_eq!(
            cap.exceeded(&[days(1), days(2), days(3), days(4), days(8)], now),
            None,
            "older than a week"
        );
    }

    #[test]
    fn quiet_hours_delay_to_their_end_in_the_persons_timezone() {
        let quiet = QuietHours::parse("21:00-08:00").unwrap();
        let paris: Tz = "Europe/Paris".parse().unwrap();
        // 21:30 UTC is 22:30 in Paris (CET): quiet until 08:00 Paris = 07:00 UTC next day.
        assert_eq!(
            quiet.next_allowed(at(21, 30), paris),
            Some(Utc.with_ymd_and_hms(2026, 3, 11, 7, 0, 0).unwrap())
        );
        // 06:00 UTC is 07:00 in Paris: quiet until 08:00 Paris today.
        assert_eq!(quiet.next_allowed(at(6, 0), paris), Some(at(7, 0)));
        assert_eq!(quiet.next_allowed(at(12, 0), paris), None);
        let lunch = QuietHours::parse("12:00-13:00").unwrap();
        assert_eq!(lunch.next_allowed(at(12, 30), Tz::UTC), Some(at(13, 0)));
        assert!(QuietHours::parse("21-8").is_err());
    }
}
