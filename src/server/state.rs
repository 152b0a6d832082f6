//! What every request and the operator's endpoints share: the [`Store`] of the served
//! snapshot, the answer settings, who is trusted, the statistics log and the counters.

use std::sync::Arc;

use super::client_addr::{IpParamPolicy, TrustedProxies};
use super::metrics::{ConnectionCount, Metrics};
use crate::answer::Settings;
use crate::ops::stats_log::StatsLog;
use crate::reload::health::HealthStore;
use crate::reload::Store;

/// Shared by every connection of a server.
pub struct AppState {
    /// The snapshot being served and how reloads went (written by the reloader).
    pub store: Arc<Store>,
    pub settings: Settings,
    /// At most this many RFC 6249 `Link`s on a redirect (`--link-headers`).
    pub link_headers: usize,
    pub trusted: TrustedProxies,
    pub ip_param: IpParamPolicy,
    pub stats: Option<StatsLog>,
    /// The mirror health data (`--health`), if the server applies any.
    pub health: Option<Arc<HealthStore>>,
    pub metrics: Metrics,
    pub connections: ConnectionCount,
}

impl AppState {
    /// A state with an empty store of its own.
    pub fn new(settings: Settings) -> AppState {
        AppState::with_store(settings, Arc::new(Store::new()))
    }

    /// A state serving what `store` holds.
    pub fn with_store(settings: Settings, store: Arc<Store>) -> AppState {
        AppState {
            store,
            settings,
            link_headers: crate::answer::DEFAULT_LINK_HEADERS,
            trusted: TrustedProxies::default(),
            ip_param: IpParamPolicy::default(),
            stats: None,
            health: None,
            metrics: Metrics::default(),
            connections: ConnectionCount::default(),
        }
    }
}
