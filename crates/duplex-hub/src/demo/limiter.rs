//! A rate limit per client address for the demo's POST endpoints.
//!
//! Token buckets, one per IP address, in a table of bounded size: when it
//! is full, buckets that have refilled (idle clients) are forgotten, and if
//! every client is busy, newcomers wait. Time is passed in.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Instant;

/// Requests per second one address may make, on average.
pub const RATE: f64 = 10.0;
/// Requests one address may make at once.
pub const BURST: f64 = 30.0;
/// Addresses tracked at once.
pub const MAX_CLIENTS: usize = 4096;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// Token buckets by client address.
#[derive(Debug)]
pub struct Limiter {
    buckets: HashMap<IpAddr, Bucket>,
    rate: f64,
    burst: f64,
    max_clients: usize,
}

impl Default for Limiter {
    fn default() -> Self {
        Limiter::new(RATE, BURST, MAX_CLIENTS)
    }
}

impl Limiter {
    /// `rate` requests a second, bursts of `burst`, at most `max_clients` addresses.
    pub fn new(rate: f64, burst: f64, max_clients: usize) -> Self {
        Limiter {
            buckets: HashMap::new(),
            rate,
            burst: burst.max(1.0),
            max_clients: max_clients.max(1),
        }
    }

    /// Takes a token for `ip` at `now`; `false` means "too many requests".
    pub fn allow(&mut self, ip: IpAddr, now: Instant) -> bool {
        let (rate, burst) = (self.rate, self.burst);
        let refill = move |bucket: &mut Bucket, now: Instant| {
            let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
            bucket.tokens = (bucket.tokens + elapsed * rate).min(burst);
            bucket.updated = now;
        };
        if !self.buckets.contains_key(&ip) && self.buckets.len() >= self.max_clients {
            self.buckets.retain(|_, bucket| {
                refill(bucket, now);
                bucket.tokens < burst
            });
            if self.buckets.len() >= self.max_clients {
                return false;
            }
        }
        let bucket = self.buckets.entry(ip).or_insert(Bucket {
            tokens: burst,
            updated: now,
        });
        refill(bucket, now);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Addresses tracked.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.buckets.len()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn ip(n: u8) -> IpAddr {
        IpAddr::from([127, 0, 0, n])
    }

    #[test]
    fn allows_a_burst_then_the_rate() {
        let start = Instant::now();
        let mut limiter = Limiter::new(10.0, 3.0, 10);
        assert!((0..3).all(|_| limiter.allow(ip(1), start)));
        assert!(!limiter.allow(ip(1), start));
        assert!(limiter.allow(ip(2), start), "addresses are limited apart");
        assert!(limiter.allow(ip(1), start + Duration::from_millis(100)));
        assert!(!limiter.allow(ip(1), start + Duration::from_millis(100)));
    }

    #[test]
    fn the_table_is_bounded() {
        let start = Instant::now();
        let mut limiter = Limiter::new(1.0, 2.0, 2);
        assert!(limiter.allow(ip(1), start));
        assert!(limiter.allow(ip(2), start));
        assert!(
            !limiter.allow(ip(3), start),
            "both clients are busy: the newcomer waits"
        );
        assert_eq!(limiter.len(), 2);
        // Two seconds later both buckets are full again: idle clients are forgotten.
        assert!(limiter.allow(ip(3), start + Duration::from_secs(2)));
        assert_eq!(limiter.len(), 1);
    }
}
