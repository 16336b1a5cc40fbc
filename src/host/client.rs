//! Who is asking: the client's address (from `X-Forwarded-For` only when the connection comes
//! from a proxy listed in `host.trusted_proxies`) and the per-client signup limit.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::HeaderMap;

/// The client's address. Behind trusted proxies, `X-Forwarded-For` is read from its right end
/// (what the nearest proxy appended) and the first address that is not itself a trusted proxy
/// is the client; anything a client wrote further left is ignored. From any other peer the
/// header is ignored.
pub fn client_addr(peer: IpAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    if !trusted.contains(&canonical(peer)) {
        return peer;
    }
    let mut client = peer;
    let hops = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .collect::<Vec<_>>();
    for hop in hops.iter().rev() {
        let Ok(addr) = hop.trim().parse::<IpAddr>() else {
            // Garbage in the chain: trust nothing further left.
            break;
        };
        client = canonical(addr);
        if !trusted.contains(&client) {
            break;
        }
    }
    client
}

/// An IPv4 address seen through an IPv6 socket (`::ffff:a.b.c.d`) as the IPv4 address.
fn canonical(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// At most `per_window` signups per client in each window (an hour), kept in memory: a restart
/// forgets the counts, which only gives a client one more window. An IPv6 client counts by
/// its /56, the block an ISP delegates to one household (a server gets a /64 of one), which it
/// could otherwise walk through an address or a /64 at a time.
pub struct RateLimit {
    per_window: u32,
    window: Duration,
    clients: Mutex<Clients>,
}

#[derive(Default)]
struct Clients {
    counts: HashMap<IpAddr, (Instant, u32)>,
    /// When the windows that ended were last forgotten.
    pruned: Option<Instant>,
}

/// Clients remembered at most; past it, windows that ended are forgotten first.
const MAX_CLIENTS: usize = 100_000;

impl RateLimit {
    pub fn per_hour(per_window: u32) -> RateLimit {
        RateLimit::new(per_window, Duration::from_secs(3600))
    }

    pub fn new(per_window: u32, window: Duration) -> RateLimit {
        RateLimit {
            per_window,
            window,
            clients: Mutex::new(Clients::default()),
        }
    }

    /// Counts one signup of `client`; false when it is over its limit.
    pub fn allow(&self, client: IpAddr) -> bool {
        let client = limit_key(client);
        let now = Instant::now();
        let mut clients = self
            .clients
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let clients = &mut *clients;
        if clients.counts.len() >= MAX_CLIENTS && !clients.counts.contains_key(&client) {
            // Forgetting the windows that ended walks the whole map: once a second at most,
            // so that a flood of newcomers cannot make every request pay for it.
            if clients
                .pruned
                .is_none_or(|at| now.duration_since(at) >= Duration::from_secs(1))
            {
                clients.pruned = Some(now);
                clients
                    .counts
                    .retain(|_, (start, _)| now.duration_since(*start) < self.window);
            }
            if clients.counts.len() >= MAX_CLIENTS {
                // Flooded from more addresses than we remember: refuse newcomers for now.
                return false;
            }
        }
        let entry = clients.counts.entry(client).or_insert((now, 0));
        if now.duration_since(entry.0) >= self.window {
            *entry = (now, 0);
        }
        if entry.1 >= self.per_window {
            return false;
        }
        entry.1 += 1;
        true
    }
}

/// What the limit counts by: an IPv4 address, or the /56 an IPv6 address is in.
fn limit_key(addr: IpAddr) -> IpAddr {
    match canonical(addr) {
        IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & (u128::MAX << 72)).into()),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in xff {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    #[test]
    fn forwarded_for_counts_only_behind_a_trusted_proxy() {
        let proxy: IpAddr = "127.0.0.1".parse().unwrap();
        let stranger: IpAddr = "203.0.113.9".parse().unwrap();
        let trusted = [proxy];
        let forged = headers(&["198.51.100.1, 192.0.2.7"]);
        assert_eq!(client_addr(stranger, &forged, &trusted), stranger);
        assert_eq!(
            client_addr(proxy, &forged, &trusted),
            "192.0.2.7".parse::<IpAddr>().unwrap(),
            "the rightmost hop, appended by our proxy"
        );
        assert_eq!(client_addr(proxy, &headers(&[]), &trusted), proxy);
        assert_eq!(
            client_addr(proxy, &headers(&["192.0.2.7", "127.0.0.1"]), &trusted),
            "192.0.2.7".parse::<IpAddr>().unwrap(),
            "trusted hops are skipped"
        );
        assert_eq!(
            client_addr(proxy, &headers(&["192.0.2.7, junk"]), &trusted),
            proxy
        );
        assert_eq!(client_addr(proxy, &forged, &[]), proxy);
    }

    #[test]
    fn each_client_has_its_own_limit() {
        let limit = RateLimit::per_hour(2);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        assert!(limit.allow(a) && limit.allow(a));
        assert!(!limit.allow(a));
        assert!(limit.allow(b));
        let one: IpAddr = "2001:db8:1:200::1".parse().unwrap();
        let same_56: IpAddr = "2001:db8:1:2ff:ffff:aaaa:bbbb:cccc".parse().unwrap();
        let next_56: IpAddr = "2001:db8:1:300::1".parse().unwrap();
        assert!(limit.allow(one) && limit.allow(same_56));
        assert!(!limit.allow(one), "one /56 is one client");
        assert!(limit.allow(next_56));
        let mapped: IpAddr = "::ffff:192.0.2.2".parse().unwrap();
        assert!(limit.allow(mapped));
        assert!(!limit.allow(b), "IPv4 seen through IPv6 is the same client");
        let short = RateLimit::new(1, Duration::ZERO);
        assert!(short.allow(a) && short.allow(a), "a new window each time");
    }
}
