//! A token bucket: the one rate limiter of the Pusher rules.

use std::time::Instant;

/// Allows `rate` events per second on average, in bursts of up to `rate`.
///
/// Time is an argument: the bucket reads no clock, so tests drive it with
/// made-up instants.
///
/// ```
/// use std::time::{Duration, Instant};
/// use duplex_pusher::rate::TokenBucket;
///
/// let start = Instant::now();
/// let mut bucket = TokenBucket::new(2, start);
/// assert!(bucket.take(start) && bucket.take(start));
/// assert!(!bucket.take(start));
/// assert!(bucket.take(start + Duration::from_millis(500)));
/// ```
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: f64,
    tokens: f64,
    updated: Instant,
}

impl TokenBucket {
    /// A full bucket for `rate` events per second, as of `now`.
    pub fn new(rate: u32, now: Instant) -> Self {
        TokenBucket {
            rate: f64::from(rate),
            tokens: f64::from(rate),
            updated: now,
        }
    }

    /// Takes one token at `now`: whether the event is allowed.
    pub fn take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.rate);
        self.updated = self.updated.max(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn allows_the_rate_and_refills() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(10, start);
        assert!((0..10).all(|_| bucket.take(start)));
        assert!(!bucket.take(start));
        assert!(bucket.take(start + Duration::from_millis(150)));
    }

    #[test]
    fn never_holds_more_than_one_second_of_tokens() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(3, start);
        let later = start + Duration::from_secs(3600);
        assert_eq!((0..10).filter(|_| bucket.take(later)).count(), 3);
    }

    #[test]
    fn an_earlier_instant_neither_refills_nor_panics() {
        let start = Instant::now() + Duration::from_secs(1);
        let mut bucket = TokenBucket::new(1, start);
        assert!(bucket.take(start));
        assert!(!bucket.take(start - Duration::from_millis(900)));
        assert!(!bucket.take(start));
    }

    #[test]
    fn a_zero_rate_allows_nothing() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(0, start);
        assert!(!bucket.take(start + Duration::from_secs(10)));
    }
}
