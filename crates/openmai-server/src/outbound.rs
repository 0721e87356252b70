//! Requests to addresses users choose (assistants' webhook URLs now; crawlers and API tools
//! later). Unless `outbound_allow_private_networks` is set, they may only reach public
//! addresses: not loopback, private, link-local, shared (CGNAT), documentation, multicast or
//! reserved ones, so a webhook URL cannot be used to probe the server's own network.
//!
//! The check runs on the addresses a name resolves to, inside the client's DNS resolution, so
//! the address connected to is the address checked (a name that resolves to a public address
//! when validated and to 127.0.0.1 when used, DNS rebinding, gains nothing). Addresses written
//! into the URL are checked before sending. Redirects are not followed.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::Url;

/// Why an outbound request was not sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("Only http and https URLs can be used.")]
    Scheme,
    #[error("The URL has no host.")]
    NoHost,
    #[error("{0} is not a public address; private and local addresses are not allowed.")]
    PrivateAddress(IpAddr),
}

/// The HTTP client for user-chosen addresses.
#[derive(Clone)]
pub struct Outbound {
    client: reqwest::Client,
    allow_private: bool,
}

impl Outbound {
    pub fn new(allow_private: bool, timeout: Duration) -> anyhow::Result<Outbound> {
        let client = reqwest::Client::builder()
            .user_agent(concat!("OpenMai/", env!("CARGO_PKG_VERSION")))
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(Arc::new(PublicOnly { allow_private }))
            .build()?;
        Ok(Outbound { client, allow_private })
    }

    /// Refuses URLs that cannot be sent to: another scheme, no host, or a literal address
    /// that is not public.
    pub fn check(&self, url: &Url) -> Result<(), Refused> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Refused::Scheme);
        }
        let ip = match url.host() {
            None => return Err(Refused::NoHost),
            Some(url::Host::Domain(_)) => return Ok(()),
            Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip),
            Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip),
        };
        if self.allow_private || is_public(ip) { Ok(()) } else { Err(Refused::PrivateAddress(ip)) }
    }

    /// The client; check each URL with [`Outbound::check`] first.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }
}

/// Resolves names with the system resolver and keeps only the addresses allowed.
struct PublicOnly {
    allow_private: bool,
}

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> =
                found.iter().copied().filter(|a| allow_private || is_public(a.ip())).collect();
            if allowed.is_empty() {
                return Err(match found.first() {
                    Some(address) => Refused::PrivateAddress(address.ip()).into(),
                    None => format!("{host} has no address").into(),
                });
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

/// Whether `ip` is a public unicast address.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_multicast()
        || a == 0
        || a >= 240
        // Shared address space (carrier-grade NAT), 100.64.0.0/10.
        || (a == 100 && (64..128).contains(&b))
        // IETF protocol assignments, 192.0.0.0/24.
        || (a == 192 && b == 0 && c == 0)
        // Benchmarking, 198.18.0.0/15.
        || (a == 198 && (b == 18 || b == 19)))
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let segments = ip.segments();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || ip.is_unique_local()
        || ip.is_unicast_link_local()
        // Documentation, 2001:db8::/32.
        || (segments[0] == 0x2001 && segments[1] == 0x0db8)
        // NAT64 (64:ff9b::/96) and IPv4-compatible (::/96) forms hide an IPv4 address.
        || (segments[0] == 0x0064 && segments[1] == 0xff9b)
        || segments[..6] == [0; 6])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_unicast_addresses_are_public() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "192.0.2.1",
            "198.18.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fc00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "64:ff9b::a00:1",
            "2001:db8::1",
            "ff02::1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in ["8.8.8.8", "1.1.1.1", "203.0.114.1", "2606:4700::1111", "::ffff:8.8.8.8"] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    #[test]
    fn urls_with_private_literals_or_odd_schemes_are_refused() {
        let outbound = Outbound::new(false, Duration::from_secs(1)).unwrap();
        let check = |url: &str| outbound.check(&Url::parse(url).unwrap());
        assert_eq!(check("ftp://example.com/"), Err(Refused::Scheme));
        assert!(matches!(check("http://127.0.0.1:8000/hook"), Err(Refused::PrivateAddress(_))));
        assert!(matches!(check("http://[::1]/hook"), Err(Refused::PrivateAddress(_))));
        assert_eq!(check("https://hooks.example.com/x"), Ok(()));
        let open = Outbound::new(true, Duration::from_secs(1)).unwrap();
        assert_eq!(open.check(&Url::parse("http://127.0.0.1/hook").unwrap()), Ok(()));
    }

    #[tokio::test]
    async fn names_that_resolve_to_private_addresses_are_refused_when_connecting() {
        let outbound = Outbound::new(false, Duration::from_secs(5)).unwrap();
        let err = outbound.client().get("http://localhost:9/").send().await.unwrap_err();
        let mut causes = Vec::new();
        let mut source = std::error::Error::source(&err);
        while let Some(cause) = source {
            causes.push(cause.to_string());
            source = cause.source();
        }
        assert!(causes.iter().any(|c| c.contains("not a public address")), "{causes:?}");
    }
}
