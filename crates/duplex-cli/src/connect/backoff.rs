//! Exponential backoff for `--reconnect`, without a clock: the caller sleeps.

use std::time::Duration;

/// The first delay; each failure doubles it up to the maximum.
const INITIAL_DELAY: Duration = Duration::from_millis(500);

/// Delays between reconnection attempts: 0.5 s, 1 s, 2 s, ... up to
/// `max_delay`, each scaled by a random factor in [0.5, 1) so that many
/// clients dropped at once do not come back at once. After `max_attempts`
/// consecutive failures it gives up.
#[derive(Debug, Clone)]
pub struct Backoff {
    /// Consecutive attempts allowed before giving up.
    max_attempts: u32,
    /// Ceiling of one delay.
    max_delay: Duration,
    /// Attempts made since the last stable connection.
    attempts: u32,
}

impl Backoff {
    /// A backoff allowing `max_attempts` consecutive retries.
    pub fn new(max_attempts: u32, max_delay: Duration) -> Self {
        Backoff {
            max_attempts,
            max_delay,
            attempts: 0,
        }
    }

    /// The delay before the next attempt, or `None` once the attempts are
    /// used up. `jitter` is a random number in [0, 1).
    pub fn next_delay(&mut self, jitter: f64) -> Option<Duration> {
        if self.attempts >= self.max_attempts {
            return None;
        }
        let exponent = self.attempts.min(30);
        self.attempts += 1;
        let full = INITIAL_DELAY
            .saturating_mul(1 << exponent)
            .min(self.max_delay);
        Some(full.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0)))
    }

    /// The number of the attempt [`next_delay`](Self::next_delay) last
    /// announced (1-based).
    pub fn attempt(&self) -> u32 {
        self.attempts
    }

    /// The attempts allowed in a row.
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// Starts over: a connection stayed up long enough to count as working.
    pub fn reset(&mut self) {
        self.attempts = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_ceiling_then_gives_up() {
        let mut backoff = Backoff::new(6, Duration::from_secs(5));
        let delays: Vec<_> = std::iter::from_fn(|| backoff.next_delay(0.999_999)).collect();
        let millis: Vec<u128> = delays
            .iter()
            .map(|d| (d.as_millis() + 5) / 10 * 10)
            .collect();
        assert_eq!(millis, [500, 1000, 2000, 4000, 5000, 5000]);
        assert_eq!(backoff.next_delay(0.5), None);
    }

    #[test]
    fn jitter_halves_at_most_and_reset_starts_over() {
        let mut backoff = Backoff::new(3, Duration::from_secs(30));
        assert_eq!(backoff.next_delay(0.0), Some(Duration::from_millis(250)));
        assert_eq!(backoff.attempt(), 1);
        backoff.next_delay(0.0);
        backoff.reset();
        assert_eq!(backoff.next_delay(0.0), Some(Duration::from_millis(250)));
    }

    #[test]
    fn zero_attempts_never_retries() {
        assert_eq!(
            Backoff::new(0, Duration::from_secs(1)).next_delay(0.3),
            None
        );
    }
}
