//! The HTTP client deliveries use: no redirects, no proxy from the environment, a timeout,
//! and the SSRF guard on the address actually connected to — names are resolved by
//! [`GuardedResolver`], which drops private addresses, and a URL that is an address is
//! checked before the request ([`destination_allowed`]).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::domain::webhook::{is_private, literal_ip};

/// Resolves names like the system does, keeping only addresses the guard allows.
struct GuardedResolver {
    allow_private: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| allow_private || !is_private(a.ip()))
                .collect();
            if found.is_empty() {
                return Err(format!("{host} resolves to no public address").into());
            }
            let addrs: Addrs = Box::new(found.into_iter());
            Ok(addrs)
        })
    }
}

pub fn build(allow_private: bool, timeout: Duration) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(timeout)
        .connect_timeout(timeout)
        .dns_resolver(Arc::new(GuardedResolver { allow_private }))
        .user_agent(concat!("keyward-webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Whether a URL may be a destination: with a literal address, that address is checked here
/// (no resolver runs for it); a name is checked by resolving it (and again at each attempt,
/// by the resolver). A name that does not resolve now is allowed: it may later.
pub async fn destination_allowed(url: &reqwest::Url, allow_private: bool) -> bool {
    if allow_private {
        return true;
    }
    if let Some(ip) = literal_ip(url) {
        return !is_private(ip);
    }
    let Some(host) = url.host_str() else {
        return false;
    };
    match tokio::net::lookup_host((host, 0)).await {
        Ok(addrs) => {
            let ips: Vec<IpAddr> = addrs.map(|a| a.ip()).collect();
            ips.is_empty() || ips.iter().any(|ip| !is_private(*ip))
        }
        Err(_) => true,
    }
}
