//! `smtp.rate`: messages per second across all connections.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// A token bucket holding one token, shared by the workers: each message takes the next slot
/// `1/rate` seconds after the previous one, so bursts never exceed the rate.
pub struct RateLimit {
    interval: Option<Duration>,
    next: Mutex<Instant>,
}

impl RateLimit {
    /// `rate` messages per second; 0 means no limit.
    pub fn new(rate: f64) -> RateLimit {
        RateLimit {
            interval: (rate > 0.0).then(|| Duration::from_secs_f64(1.0 / rate)),
            next: Mutex::new(Instant::now()),
        }
    }

    /// Waits for this message's slot.
    pub async fn acquire(&self) {
        let Some(interval) = self.interval else {
            return;
        };
        let slot = {
            // A poisoned lock only means another worker panicked; the instant is still valid.
            let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
            let slot = (*next).max(Instant::now());
            *next = slot + interval;
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn spaces_messages_by_the_rate() {
        let limit = RateLimit::new(100.0);
        let start = Instant::now();
        for _ in 0..21 {
            limit.acquire().await;
        }
        let elapsed = start.elapsed();
        assert!(elapsed >= Duration::from_millis(199), "{elapsed:?}");
        assert!(elapsed < Duration::from_millis(400), "{elapsed:?}");
    }

    #[tokio::test]
    async fn zero_means_unlimited() {
        let limit = RateLimit::new(0.0);
        let start = std::time::Instant::now();
        for _ in 0..1000 {
            limit.acquire().await;
        }
        assert!(start.elapsed() < Duration::from_millis(100));
    }
}
