//! Fair request limits: token buckets per device and per client address, bounded in
//! memory and cheap per request, and the client address behind trusted proxies.
//!
//! Why per device: phones of one office share a NAT or a proxy, so a limit per address
//! let one phone (or anyone on that network) lock all the others out. An attestation is
//! charged to its device (its `kid`) only once its signature has verified, so nobody can
//! spend a victim's budget by sending garbage under its `kid`.
//!
//! Why per address still: the requests nobody has signed yet (`GET /v1/challenge`,
//! `POST /v1/enroll`, and attestations that fail before their signature verifies) can
//! only be attributed to where they come from. IPv6 addresses are grouped by /64 (one
//! subscriber usually holds a whole /64, and counting each of its 2^64 addresses apart
//! would be no limit at all); IPv4 addresses (and IPv4-mapped IPv6 ones) count alone.
//!
//! Why this structure ([`KeyedLimiter`]): a single map under one mutex that is scanned
//! when it grows lets 100,000 addresses make every request slow. Here keys are spread
//! over [`SHARDS`] shards by a keyed hash, each shard under its own mutex, and each shard
//! keeps two generations of buckets: a key is looked up in the current generation, then
//! in the previous one (and moved up). When the current generation is full it becomes
//! the previous one and the old previous one is dropped whole, so a shard never holds
//! more than its capacity and no request ever scans. What "full" costs: keys not seen
//! since the last turnover are forgotten and start again with a full bucket, so a client
//! with more distinct keys (addresses, /64s) than the capacity can refill buckets; the
//! per-device limit does not depend on addresses and is not affected by that.

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hash};
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Mutex;
use std::time::Instant;

/// Shards of a [`KeyedLimiter`].
pub const SHARDS: usize = 16;
/// Keys a [`KeyedLimiter`] remembers at most, by default (both generations together).
pub const DEFAULT_CAPACITY: usize = 65_536;

/// A refusal: how long until a token is back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited {
    /// Seconds until the bucket holds one token again (at least 1).
    pub retry_after: u64,
}

/// Errors of the limit settings.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LimitsError {
    /// A `trusted_proxies` entry is neither an address nor `address/prefix`.
    #[error("trusted_proxies: {0:?} is not an IP address or CIDR (e.g. 10.0.0.0/8, fd00::/8)")]
    BadProxy(String),
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

#[derive(Debug)]
struct Shard<K> {
    current: HashMap<K, Bucket>,
    previous: HashMap<K, Bucket>,
}

/// Token buckets by key (a device id, an address group), bounded and sharded.
#[derive(Debug)]
pub struct KeyedLimiter<K> {
    per_sec: f64,
    burst: f64,
    generation: usize,
    hasher: RandomState,
    shards: Vec<Mutex<Shard<K>>>,
}

impl<K: Hash + Eq + Copy> KeyedLimiter<K> {
    /// `per_sec` tokens a second up to `burst` for each key, remembering at most about
    /// `capacity` keys. `per_sec <= 0` disables the limiter (everything is allowed).
    pub fn new(per_sec: f64, burst: u32, capacity: usize) -> Self {
        let generation = (capacity / (2 * SHARDS)).max(1);
        Self {
            per_sec: per_sec.max(0.0),
            burst: f64::from(burst.max(1)),
            generation,
            hasher: RandomState::new(),
            shards: (0..SHARDS)
                .map(|_| {
                    Mutex::new(Shard {
                        current: HashMap::new(),
                        previous: HashMap::new(),
                    })
                })
                .collect(),
        }
    }

    /// Whether the limiter limits anything.
    pub fn enabled(&self) -> bool {
        self.per_sec > 0.0
    }

    /// Takes one token for `key`, or says when one is back.
    pub fn take(&self, key: K) -> Result<(), Limited> {
        self.with_bucket(key, |b, per_sec| {
            if b.tokens >= 1.0 {
                b.tokens -= 1.0;
                Ok(())
            } else {
                Err(Limited {
                    retry_after: retry_after(1.0 - b.tokens, per_sec),
                })
            }
        })
        .unwrap_or(Ok(()))
    }

    /// Whether `key`'s bucket holds a token now (nothing is taken), or when it will.
    pub fn check(&self, key: K) -> Result<(), Limited> {
        self.with_bucket(key, |b, per_sec| {
            if b.tokens >= 1.0 {
                Ok(())
            } else {
                Err(Limited {
                    retry_after: retry_after(1.0 - b.tokens, per_sec),
                })
            }
        })
        .unwrap_or(Ok(()))
    }

    /// Whether `key`'s bucket is empty now (nothing taken).
    pub fn exhausted(&self, key: K) -> bool {
        self.check(key).is_err()
    }

    /// Whether `key` has a bucket (it was seen since the last turnover but one). A
    /// disabled limiter knows every key.
    pub fn knows(&self, key: K) -> bool {
        if !self.enabled() {
            return true;
        }
        let Ok(shard) = self.shard(&key).lock() else {
            return true;
        };
        shard.current.contains_key(&key) || shard.previous.contains_key(&key)
    }

    /// Keys remembered now (tests and gauges).
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .filter_map(|s| s.lock().ok())
            .map(|s| s.current.len() + s.previous.len())
            .sum()
    }

    /// Whether no key is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn shard(&self, key: &K) -> &Mutex<Shard<K>> {
        // `hash_one % SHARDS` is below SHARDS, the length of `shards`.
        let i = (self.hasher.hash_one(key) % SHARDS as u64) as usize;
        &self.shards[i]
    }

    /// Runs `f` on `key`'s bucket, refilled to now; `None` when nothing is limited.
    fn with_bucket<R>(&self, key: K, f: impl FnOnce(&mut Bucket, f64) -> R) -> Option<R> {
        if !self.enabled() {
            return None;
        }
        // A poisoned shard (a panic elsewhere while it was held) limits nothing rather
        // than failing every request.
        let Ok(mut shard) = self.shard(&key).lock() else {
            return None;
        };
        let now = Instant::now();
        let found = match shard.current.get(&key) {
            Some(b) => Some(*b),
            None => shard.previous.remove(&key),
        };
        let mut bucket = found.unwrap_or(Bucket {
            tokens: self.burst,
            at: now,
        });
        let refill = now.duration_since(bucket.at).as_secs_f64() * self.per_sec;
        bucket.tokens = (bucket.tokens + refill).min(self.burst);
        bucket.at = now;
        let out = f(&mut bucket, self.per_sec);
        if !shard.current.contains_key(&key) && shard.current.len() >= self.generation {
            // Turnover: the current generation becomes the previous one; keys of the old
            // previous one are forgotten. No scan, and the shard stays bounded.
            shard.previous = std::mem::take(&mut shard.current);
        }
        shard.current.insert(key, bucket);
        Some(out)
    }
}

fn retry_after(missing: f64, per_sec: f64) -> u64 {
    let secs = (missing / per_sec).ceil();
    if secs.is_finite() && secs >= 1.0 {
        secs.min(86_400.0) as u64
    } else {
        1
    }
}

/// The key of a client address: IPv4 alone, IPv6 by its /64.
pub fn address_group(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let bits = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(Ipv6Addr::from(bits))
            }
        },
    }
}

/// An address range: `net/prefix`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Parses `10.0.0.0/8`, `fd00::/8` or a single address.
    pub fn parse(s: &str) -> Result<Self, LimitsError> {
        let bad = || LimitsError::BadProxy(s.to_string());
        let (addr, prefix) = match s.trim().split_once('/') {
            Some((a, p)) => (a, Some(p.parse::<u8>().map_err(|_| bad())?)),
            None => (s.trim(), None),
        };
        let net: IpAddr = addr.parse().map_err(|_| bad())?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        if prefix > max {
            return Err(bad());
        }
        Ok(Self { net, prefix })
    }

    /// Whether `ip` is in the range (IPv4-mapped IPv6 addresses count as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.net, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => prefix_eq(
                u128::from(u32::from(n)),
                u128::from(u32::from(a)),
                32,
                self.prefix,
            ),
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                prefix_eq(u128::from(n), u128::from(a), 128, self.prefix)
            }
            _ => false,
        }
    }
}

fn prefix_eq(a: u128, b: u128, width: u8, prefix: u8) -> bool {
    if prefix == 0 {
        return true;
    }
    let shift = u32::from(width - prefix.min(width));
    (a >> shift) == (b >> shift)
}

/// The proxies whose `X-Forwarded-For` is believed (config `trusted_proxies`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<Cidr>);

impl TrustedProxies {
    /// Parses the configured entries.
    pub fn parse(entries: &[String]) -> Result<Self, LimitsError> {
        entries
            .iter()
            .map(|e| Cidr::parse(e))
            .collect::<Result<_, _>>()
            .map(Self)
    }

    /// Whether `ip` is a trusted proxy.
    pub fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|c| c.contains(ip))
    }

    /// The client's address: the `peer` itself unless it is a trusted proxy; then the
    /// right-most entry of `forwarded` (the `X-Forwarded-For` values, in order) that is
    /// not a trusted proxy. Entries left of it were written by the client and are
    /// ignored; an unreadable entry stops the walk at the last trusted hop.
    pub fn client<'a>(&self, peer: IpAddr, forwarded: impl Iterator<Item = &'a str>) -> IpAddr {
        if !self.trusts(peer) {
            return peer;
        }
        let entries: Vec<&str> = forwarded.flat_map(|v| v.split(',')).collect();
        let mut client = peer;
        for entry in entries.iter().rev() {
            let Some(ip) = parse_forwarded(entry) else {
                return client;
            };
            client = ip;
            if !self.trusts(ip) {
                return ip;
            }
        }
        client
    }
}

fn parse_forwarded(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<std::net::SocketAddr>().ok().map(|s| s.ip()))
}

/// The server's limiters (one per kind of charge).
#[derive(Debug)]
pub struct Limits {
    /// Unsigned device requests (challenge, enrollment) per address group.
    pub addresses: KeyedLimiter<IpAddr>,
    /// Attestations that failed before their signature verified, per address group.
    pub failures: KeyedLimiter<IpAddr>,
    /// Verified attestations per device.
    pub devices: KeyedLimiter<uuid::Uuid>,
    /// Whose `X-Forwarded-For` is believed.
    pub proxies: TrustedProxies,
}

impl Limits {
    /// The limiters of `config`.
    pub fn new(config: &crate::config::Config) -> Result<Self, LimitsError> {
        let per_address = f64::from(config.rate_limit_per_sec);
        Ok(Self {
            addresses: KeyedLimiter::new(per_address, config.rate_limit_burst, DEFAULT_CAPACITY),
            failures: KeyedLimiter::new(per_address, config.rate_limit_burst, DEFAULT_CAPACITY),
            devices: KeyedLimiter::new(
                f64::from(config.device_rate_per_min) / 60.0,
                config.device_rate_burst,
                DEFAULT_CAPACITY,
            ),
            proxies: TrustedProxies::parse(&config.trusted_proxies)?,
        })
    }
}

impl Limits {
    /// Prometheus gauges: keys each limiter remembers (bounded by its capacity).
    pub fn gauges(&self) -> String {
        let mut out = String::from(
            "# HELP pramaan_rate_limit_keys Keys (address groups, devices) a rate limiter remembers.\n\
             # TYPE pramaan_rate_limit_keys gauge\n",
        );
        for (name, len) in [
            ("addresses", self.addresses.len()),
            ("failures", self.failures.len()),
            ("devices", self.devices.len()),
        ] {
            out.push_str(&format!(
                "pramaan_rate_limit_keys{{limiter=\"{name}\"}} {len}\n"
            ));
        }
        out
    }
}

#[cfg(test)]
#[allow(clippy::expect_used, clippy::unwrap_used)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn buckets_refuse_past_the_burst_per_key_and_can_be_disabled() {
        let l = KeyedLimiter::new(1.0, 2, 1_000);
        let a = ip("192.0.2.1");
        assert_eq!(l.take(a), Ok(()));
        assert_eq!(l.take(a), Ok(()));
        assert!(l.exhausted(a));
        assert_eq!(l.take(a), Err(Limited { retry_after: 1 }));
        // Another key is untouched.
        assert!(!l.exhausted(ip("192.0.2.2")));
        assert_eq!(l.take(ip("192.0.2.2")), Ok(()));
        // A slow rate says how long to wait.
        let slow = KeyedLimiter::new(1.0 / 60.0, 1, 1_000);
        assert_eq!(slow.take(1u32), Ok(()));
        let Err(Limited { retry_after }) = slow.take(1u32) else {
            panic!("limited");
        };
        assert!((59..=60).contains(&retry_after), "{retry_after}");
        let off = KeyedLimiter::new(0.0, 0, 1_000);
        assert!((0..1000).all(|_| off.take(a).is_ok()));
        assert!(off.knows(a) && off.is_empty());
    }

    #[test]
    fn the_limiter_stays_bounded_and_forgets_the_oldest_generation() {
        let capacity = 1_024;
        let l = KeyedLimiter::new(1.0, 1, capacity);
        assert_eq!(l.take(0u32), Ok(()));
        assert!(l.exhausted(0u32));
        for k in 1..200_000u32 {
            let _ = l.take(k);
            // Key 0 is kept alive for a while, then left alone.
            if k < 100 {
                assert!(l.exhausted(0u32));
            }
        }
        assert!(l.len() <= capacity, "{} keys", l.len());
        // Forgotten: it starts again with a full bucket.
        assert!(!l.knows(0u32));
        assert!(!l.exhausted(0u32));
        // Recent keys are still limited.
        assert!(l.knows(199_999u32));
        assert!(l.exhausted(199_999u32));
    }

    #[test]
    fn ipv6_is_grouped_by_64_and_ipv4_alone() {
        assert_eq!(
            address_group(ip("2001:db8:1:2:aaaa::1")),
            address_group(ip("2001:db8:1:2:ffff:ffff:ffff:ffff"))
        );
        assert_eq!(address_group(ip("2001:db8:1:2::9")), ip("2001:db8:1:2::"));
        assert_ne!(
            address_group(ip("2001:db8:1:2::1")),
            address_group(ip("2001:db8:1:3::1"))
        );
        assert_ne!(
            address_group(ip("192.0.2.1")),
            address_group(ip("192.0.2.2"))
        );
        assert_eq!(address_group(ip("::ffff:192.0.2.1")), ip("192.0.2.1"));
        // One limit for a whole /64.
        let l = KeyedLimiter::new(1.0, 1, 1_000);
        assert_eq!(l.take(address_group(ip("2001:db8::1"))), Ok(()));
        assert!(l.take(address_group(ip("2001:db8::2"))).is_err());
        assert_eq!(l.take(address_group(ip("2001:db8:0:1::2"))), Ok(()));
    }

    #[test]
    fn gauges_count_the_keys_of_each_limiter() {
        let limits = Limits::new(&crate::config::Config::default()).expect("limits");
        limits.addresses.take(ip("192.0.2.1")).expect("allowed");
        limits.addresses.take(ip("192.0.2.2")).expect("allowed");
        limits.devices.take(uuid::Uuid::nil()).expect("allowed");
        let text = limits.gauges();
        assert!(
            text.contains("pramaan_rate_limit_keys{limiter=\"addresses\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("pramaan_rate_limit_keys{limiter=\"failures\"} 0\n"),
            "{text}"
        );
        assert!(
            text.contains("pramaan_rate_limit_keys{limiter=\"devices\"} 1\n"),
            "{text}"
        );
    }

    #[test]
    fn cidrs_parse_and_match() {
        let c = Cidr::parse("10.0.0.0/8").expect("cidr");
        assert!(c.contains(ip("10.200.1.1")));
        assert!(c.contains(ip("::ffff:10.0.0.1")));
        assert!(!c.contains(ip("11.0.0.1")));
        assert!(!c.contains(ip("fd00::1")));
        let one = Cidr::parse("192.0.2.7").expect("single");
        assert!(one.contains(ip("192.0.2.7")) && !one.contains(ip("192.0.2.8")));
        let v6 = Cidr::parse("fd00::/8").expect("v6");
        assert!(v6.contains(ip("fd12::1")) && !v6.contains(ip("fe80::1")));
        assert!(
            Cidr::parse("0.0.0.0/0")
                .expect("all")
                .contains(ip("8.8.8.8"))
        );
        for bad in ["10.0.0.0/33", "fd00::/129", "proxy.local", "10.0.0.0/x", ""] {
            assert_eq!(
                Cidr::parse(bad),
                Err(LimitsError::BadProxy(bad.to_string())),
                "{bad}"
            );
        }
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let proxies =
            TrustedProxies::parse(&["10.0.0.0/8".to_string(), "fd00::1".to_string()]).expect("ok");
        let xff = |v: &'static str| std::iter::once(v);
        // An untrusted peer's header is ignored, whatever it says.
        assert_eq!(
            proxies.client(ip("203.0.113.5"), xff("198.51.100.1")),
            ip("203.0.113.5")
        );
        // Through a trusted proxy: the right-most untrusted entry; the client's own
        // (spoofed) entries further left do not count.
        assert_eq!(
            proxies.client(ip("10.0.0.2"), xff("1.1.1.1, 198.51.100.1")),
            ip("198.51.100.1")
        );
        assert_eq!(
            proxies.client(ip("10.0.0.2"), xff("198.51.100.1, 10.0.0.3")),
            ip("198.51.100.1")
        );
        // Several header lines are one list; ports and IPv6 are read.
        let lines = ["198.51.100.9:5555", "[2001:db8::1]:443, 10.1.1.1"];
        assert_eq!(
            proxies.client(ip("fd00::1"), lines.iter().copied()),
            ip("2001:db8::1")
        );
        // No header, or only garbage next to the proxy: the proxy itself.
        assert_eq!(
            proxies.client(ip("10.0.0.2"), std::iter::empty()),
            ip("10.0.0.2")
        );
        assert_eq!(
            proxies.client(ip("10.0.0.2"), xff("1.1.1.1, not-an-ip")),
            ip("10.0.0.2")
        );
        // Nobody trusted: always the peer.
        assert_eq!(
            TrustedProxies::default().client(ip("10.0.0.2"), xff("1.1.1.1")),
            ip("10.0.0.2")
        );
    }
}
