//! The route table: every function the server runs, by name, and which
//! one answers each path of each tenant port.

use crate::deploy::Deployment;
use crate::function::{prepare_bounds_fallbacks, Function};
use crate::tiering::Tiering;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

/// A function the server runs, under the name it is listed by: `TENANT/ROUTE`
/// for functions of the config file, the deployed name for deployed ones.
pub struct Served {
    pub function: Arc<Function>,
    /// The tenant port its route is on; none for a function routed
    /// nowhere (an OpenWhisk action where the config has no tenant).
    pub port: Option<u16>,
    /// How it was deployed, for functions deployed through the admin API.
    pub deployment: Option<Deployment>,
}

/// Whatever answers requests and owns the [`RouteTable`], so that a
/// deploy finished on another thread reaches it on the loop's thread.
pub trait Routed: 'static {
    fn routes(&mut self) -> &mut RouteTable;
}

/// Every function, and the routes to them.
pub struct RouteTable {
    /// How long calls of a removed or replaced function may go on.
    retire_grace: Duration,
    /// Told of every function served, to move it to the opt tier.
    tiering: Tiering,
    /// Every function, by name.
    functions: BTreeMap<String, Served>,
    /// Function names by tenant port, then request path (nested so that a
    /// request's path is looked up as it is, without building a key).
    routes: HashMap<u16, HashMap<String, String>>,
    /// Whether guard memories have run low on address space, so that the
    /// software-bounds fallbacks of functions are built as they are served
    /// (see [`RouteTable::watch_guard_space`]).
    fallbacks_ahead: bool,
}

impl RouteTable {
    /// A table of `functions`, whose calls may go on for `retire_grace`
    /// once a function is removed or replaced, and which hands every
    /// function it serves to `tiering`.
    pub fn new(
        functions: Vec<(String, Served)>,
        retire_grace: Duration,
        tiering: Tiering,
    ) -> RouteTable {
        let mut table = RouteTable {
            retire_grace,
            tiering,
            functions: BTreeMap::new(),
            routes: HashMap::new(),
            fallbacks_ahead: false,
        };
        for (name, served) in functions {
            table.install(name, served);
        }
        table
    }

    /// Serves `served` as `name` from now on, replacing a function of the
    /// same name (calls in flight go on with the old one for the grace
    /// period).
    pub fn install(&mut self, name: String, served: Served) {
        self.uninstall(&name);
        if let Some(port) = served.port {
            let path = served.function.config.route.clone();
            let on_port = self.routes.entry(port).or_default();
            on_port.insert(path, name.clone());
        }
        self.tiering.serving(&name, &served.function);
        if self.fallbacks_ahead {
            prepare_bounds_fallbacks(vec![served.function.clone()]);
        }
        self.functions.insert(name, served);
    }

    /// Once guard memories run low on address space, builds the
    /// software-bounds fallback of every function served (and from then
    /// on of every function as it is installed) on a thread of its own,
    /// so that no call waits for one once guard memories have no room.
    /// Called once per round of the loop: until then, an atomic load.
    pub fn watch_guard_space(&mut self) {
        if self.fallbacks_ahead || !luge_runtime::sys::address_space::guard_space_low() {
            return;
        }
        self.fallbacks_ahead = true;
        let functions = self.functions.values().map(|s| s.function.clone());
        prepare_bounds_fallbacks(functions.collect());
    }

    /// Stops serving `name`, whose calls still running after the grace
    /// period are stopped; returns what it served.
    pub fn uninstall(&mut self, name: &str) -> Option<Served> {
        let served = self.functions.remove(name)?;
        self.tiering.stopped(name);
        served.function.clone().retire(self.retire_grace);
        let path = &served.function.config.route;
        let on_port = served.port.and_then(|port| self.routes.get_mut(&port));
        if let Some(on_port) = on_port {
            if on_port.get(path).is_some_and(|n| n == name) {
                on_port.remove(path);
            }
        }
        Some(served)
    }

    /// The function listed as `name`.
    pub fn get(&self, name: &str) -> Option<&Served> {
        self.functions.get(name)
    }

    /// Every function, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Served)> {
        self.functions.iter()
    }

    /// The name of the function on `port` at `path`.
    pub fn name_at(&self, port: u16, path: &str) -> Option<&String> {
        self.routes.get(&port)?.get(path)
    }

    /// The function on `port` at `path`.
    pub fn function_at(&self, port: u16, path: &str) -> Option<&Arc<Function>> {
        let name = self.name_at(port, path)?;
        self.functions.get(name).map(|s| &s.function)
    }
}
