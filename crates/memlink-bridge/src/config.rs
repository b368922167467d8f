//! What a bridge carries and how it reaches the other side: a JSON5 file
//! (the format Zenoh's own configuration uses) and/or command-line flags.
//!
//! ```json5
//! {
//!   mode: "peer",                          // or "client" (then connect to a router)
//!   listen: ["tcp/0.0.0.0:7447"],          // locators to listen on
//!   connect: ["tcp/192.0.2.7:7447"],       // locators to connect to
//!   scouting: true,                        // multicast scouting (default true)
//!   lease_ms: 500,                         // how fast a silent peer counts as gone
//!   prefix: "memlink",                     // of default keys
//!   export: [{ channel: "orders" }],       // local channel -> memlink/orders
//!   import: [{ channel: "replies", key: "site-b/replies", lossy: true,
//!              kind: "broadcast", max_message: 1048576, capacity: 4194304 }],
//! }
//! ```

use serde::Deserialize;

use crate::key;

/// The whole configuration of one bridge process.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Zenoh mode: `peer` (default) or `client`.
    #[serde(default = "default_mode")]
    pub mode: String,
    /// Locators to listen on (`tcp/HOST:PORT`).
    #[serde(default)]
    pub listen: Vec<String>,
    /// Locators to connect to.
    #[serde(default)]
    pub connect: Vec<String>,
    /// Multicast scouting for peers on the local network.
    #[serde(default = "yes")]
    pub scouting: bool,
    /// Zenoh link lease in milliseconds (default 500): a peer silent for
    /// this long is gone. Shorter notices a cut network sooner; too short
    /// takes a starved (not dead) peer for gone.
    #[serde(default = "default_lease")]
    pub lease_ms: u64,
    /// Prefix of default keys.
    #[serde(default = "default_prefix")]
    pub prefix: String,
    /// Local channels published to Zenoh.
    #[serde(default)]
    pub export: Vec<Route>,
    /// Zenoh keys delivered into local channels.
    #[serde(default)]
    pub import: Vec<Route>,
}

/// One bridged channel.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// The local channel's memlink name.
    pub channel: String,
    /// Its Zenoh key; default `PREFIX/<channel as a chunk>` (see [`crate::key`]).
    #[serde(default)]
    pub key: Option<String>,
    /// Lossy: never block (Zenoh drops under congestion, a full local ring
    /// drops the newest); every drop is counted and logged.
    #[serde(default)]
    pub lossy: bool,
    /// Import: the kind of channel created if missing.
    #[serde(default)]
    pub kind: ChannelKind,
    /// Import: the largest message of a channel created if missing.
    #[serde(default = "default_max_message")]
    pub max_message: u32,
    /// Import: the ring size of a channel created if missing.
    #[serde(default = "default_capacity")]
    pub capacity: u64,
}

/// The kinds of memlink channel, as written in a configuration.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum ChannelKind {
    /// One sender, one receiver.
    #[default]
    OneToOne,
    /// Many senders, one receiver.
    ManyToOne,
    /// One sender, every receiver gets every message.
    Broadcast,
}

impl From<ChannelKind> for memlink::channel::Kind {
    fn from(kind: ChannelKind) -> Self {
        match kind {
            ChannelKind::OneToOne => memlink::channel::Kind::OneToOne,
            ChannelKind::ManyToOne => memlink::channel::Kind::ManyToOne,
            ChannelKind::Broadcast => memlink::channel::Kind::Broadcast,
        }
    }
}

fn default_mode() -> String {
    "peer".into()
}
fn yes() -> bool {
    true
}
/// 500 ms: a silent peer (a cut network) is gone within 1 s.
fn default_lease() -> u64 {
    500
}
fn default_prefix() -> String {
    key::DEFAULT_PREFIX.into()
}
/// 1 MiB.
pub const DEFAULT_MAX_MESSAGE: u32 = 1 << 20;
/// 4 MiB: a power of two holding two of the largest messages.
pub const DEFAULT_CAPACITY: u64 = 4 << 20;
fn default_max_message() -> u32 {
    DEFAULT_MAX_MESSAGE
}
fn default_capacity() -> u64 {
    DEFAULT_CAPACITY
}

impl Default for Config {
    fn default() -> Self {
        Config {
            mode: default_mode(),
            listen: Vec::new(),
            connect: Vec::new(),
            scouting: true,
            lease_ms: default_lease(),
            prefix: default_prefix(),
            export: Vec::new(),
            import: Vec::new(),
        }
    }
}

impl Route {
    /// A route for `channel` with every default.
    pub fn new(channel: &str) -> Route {
        Route {
            channel: channel.to_owned(),
            key: None,
            lossy: false,
            kind: ChannelKind::default(),
            max_message: DEFAULT_MAX_MESSAGE,
            capacity: DEFAULT_CAPACITY,
        }
    }
}

/// A route checked and resolved: a valid name and a valid concrete key.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The route as configured.
    pub route: Route,
    /// Its key.
    pub key: String,
}

impl Config {
    /// Reads a JSON5 configuration.
    pub fn parse(text: &str) -> Result<Config, String> {
        json5::from_str(text).map_err(|e| e.to_string())
    }

    /// Checks every route and resolves its key; the first problem is an
    /// error that names the route.
    pub fn resolve(&self) -> Result<(Vec<Resolved>, Vec<Resolved>), String> {
        if self.mode != "peer" && self.mode != "client" {
            return Err(format!("mode {:?}: use \"peer\" or \"client\"", self.mode));
        }
        if self.lease_ms < 100 {
            return Err(format!("lease_ms {} is below 100", self.lease_ms));
        }
        if self.export.is_empty() && self.import.is_empty() {
            return Err("nothing to bridge: give at least one export or import".into());
        }
        let resolve = |routes: &[Route], what: &str| {
            routes
                .iter()
                .map(|route| {
                    let key = match &route.key {
                        Some(k) => key::check_key(k).map(|()| k.clone()),
                        None => key::default_key(&self.prefix, &route.channel),
                    }
                    .and_then(|k| key::canonical_name(&route.channel).map(|_| k))
                    .map_err(|e| format!("{what} {:?}: {e}", route.channel))?;
                    Ok(Resolved {
                        route: route.clone(),
                        key,
                    })
                })
                .collect::<Result<Vec<_>, String>>()
        };
        let exports = resolve(&self.export, "export")?;
        let imports = resolve(&self.import, "import")?;
        for list in [&exports, &imports] {
            for (i, a) in list.iter().enumerate() {
                if let Some(b) = list.iter().skip(i + 1).find(|b| b.key == a.key) {
                    return Err(format!(
                        "channels {:?} and {:?} both use key {}",
                        a.route.channel, b.route.channel, a.key
                    ));
                }
            }
        }
        Ok((exports, imports))
    }

    /// The Zenoh configuration this describes.
    pub fn zenoh(&self) -> Result<zenoh::Config, String> {
        let mut z = zenoh::Config::default();
        let json = |v: &[String]| {
            format!(
                "[{}]",
                v.iter()
                    .map(|s| format!("{s:?}"))
                    .collect::<Vec<_>>()
                    .join(",")
            )
        };
        let set = |z: &mut zenoh::Config, key: &str, value: String| {
            z.insert_json5(key, &value)
                .map_err(|e| format!("zenoh setting {key} = {value}: {e}"))
        };
        set(&mut z, "mode", format!("{:?}", self.mode))?;
        set(&mut z, "listen/endpoints", json(&self.listen))?;
        set(&mut z, "connect/endpoints", json(&self.connect))?;
        set(
            &mut z,
            "scouting/multicast/enabled",
            self.scouting.to_string(),
        )?;
        set(&mut z, "transport/link/tx/lease", self.lease_ms.to_string())?;
        Ok(z)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_resolves_with_defaults_and_bad_routes_are_named() {
        let c = Config::parse(
            r#"{ listen: ["tcp/127.0.0.1:0"], scouting: false,
                 export: [{ channel: "orders" }],
                 import: [{ channel: "replies", key: "site/replies", lossy: true, kind: "broadcast" }] }"#,
        )
        .unwrap();
        let (e, i) = c.resolve().unwrap();
        assert_eq!(e[0].key, "memlink/orders");
        assert_eq!(i[0].key, "site/replies");
        assert_eq!(i[0].route.kind, ChannelKind::Broadcast);
        assert_eq!(i[0].route.max_message, DEFAULT_MAX_MESSAGE);
        c.zenoh().unwrap();

        assert!(Config::parse("{ exprot: [] }")
            .unwrap_err()
            .contains("exprot"));
        let mut bad = Config::default();
        bad.import.push(Route {
            key: Some("a/*".into()),
            ..Route::new("x")
        });
        assert!(bad.resolve().unwrap_err().contains("import \"x\""));
        let mut bad = Config::default();
        bad.export.push(Route::new("a/b"));
        assert!(bad.resolve().unwrap_err().contains("export \"a/b\""));
        let mut twice = Config::default();
        twice.export.push(Route::new("x"));
        twice.export.push(Route::new("Local\\x"));
        assert!(twice.resolve().unwrap_err().contains("both use key"));
        assert!(Config::default().resolve().unwrap_err().contains("nothing"));
    }
}
