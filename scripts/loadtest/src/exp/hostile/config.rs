//! The `luge serve` configuration of each policy: tenant A (the attacker)
//! and tenant B (the victim) on ports of their own, every setting the
//! benchmark depends on written out rather than left to a default.

use super::attack::Kind;
use anyhow::{ensure, Context, Result};
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};

/// How the server is asked to schedule, one server run each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Policy {
    /// No route has a deadline: the scheduler runs FIFO.
    Fifo,
    /// Every route has `relative-deadline-us`: EDF.
    Edf,
    /// EDF, and tenant A has a CPU budget (`max-budget-us` per
    /// `replenishment-period-us`).
    EdfBudgets,
}

impl Policy {
    pub fn name(self) -> &'static str {
        match self {
            Policy::Fifo => "fifo",
            Policy::Edf => "edf",
            Policy::EdfBudgets => "edf-budgets",
        }
    }

    fn has_deadlines(self) -> bool {
        self != Policy::Fifo
    }

    fn has_budgets(self) -> bool {
        self == Policy::EdfBudgets
    }
}

/// The modules the routes serve, as absolute paths (the server resolves
/// relative ones against the config's directory, which is in --out).
#[derive(Debug, Clone)]
pub struct Modules {
    pub spin: PathBuf,
    pub trap: PathBuf,
    pub membomb: PathBuf,
    pub sleep: PathBuf,
    pub hello: PathBuf,
}

impl Modules {
    /// Finds the benchmark's functions in `functions` and the examples in
    /// `examples`, failing with the build command when one is missing.
    pub fn locate(functions: &Path, examples: &Path) -> Result<Modules> {
        let find = |dir: &Path, file: &str| -> Result<PathBuf> {
            let path = std::path::absolute(dir.join(file))
                .with_context(|| format!("{}", dir.join(file).display()))?;
            ensure!(
                path.is_file(),
                "{} is missing (its .c beside it says how to build it; run from the repository root \
                 or pass --functions / --examples)",
                path.display()
            );
            Ok(path)
        };
        Ok(Modules {
            spin: find(functions, "spin.wasm")?,
            trap: find(functions, "trap.wasm")?,
            membomb: find(functions, "membomb.wasm")?,
            sleep: find(examples, "sleep/sleep.wasm")?,
            hello: find(examples, "hello/hello.wasm")?,
        })
    }

    fn of(&self, kind: Kind) -> &Path {
        match kind {
            Kind::Spin => &self.spin,
            Kind::Trap | Kind::Stack => &self.trap,
            Kind::Membomb => &self.membomb,
            Kind::Sleep => &self.sleep,
        }
    }
}

/// The settings the configuration is made of (from the command line).
#[derive(Debug, Clone)]
pub struct Settings {
    pub workers: usize,
    pub port_a: u16,
    pub port_b: u16,
    /// `relative-deadline-us` of B's route when the policy has deadlines.
    pub deadline_us: u64,
    /// `relative-deadline-us` of A's routes when the policy has deadlines.
    pub a_deadline_us: u64,
    /// Tenant A's `max-budget-us` and `replenishment-period-us` when the
    /// policy has budgets.
    pub budget_us: u64,
    pub period_us: u64,
    /// `timeout-ms` of every route of tenant A.
    pub a_timeout_ms: u64,
    /// `memory-limit-mib` of /membomb.
    pub membomb_limit_mib: u64,
}

/// The configuration (object form) for `policy`.
pub fn serve_config(policy: Policy, s: &Settings, modules: &Modules) -> Value {
    let deadline = |us| policy.has_deadlines().then_some(us);
    let a_routes: Vec<Value> = Kind::ALL
        .iter()
        .map(|&kind| {
            let mut extra = Map::new();
            extra.insert("timeout-ms".into(), json!(s.a_timeout_ms));
            if kind == Kind::Membomb {
                extra.insert("memory-limit-mib".into(), json!(s.membomb_limit_mib));
            }
            route(
                kind.route(),
                modules.of(kind),
                deadline(s.a_deadline_us),
                extra,
            )
        })
        .collect();
    let mut tenant_a = json!({"name": "a", "port": s.port_a, "routes": a_routes});
    if policy.has_budgets() {
        tenant_a["max-budget-us"] = json!(s.budget_us);
        tenant_a["replenishment-period-us"] = json!(s.period_us);
    }
    let hello = route(
        "/hello",
        &modules.hello,
        deadline(s.deadline_us),
        Map::new(),
    );
    json!({
        "workers": s.workers,
        "tenants": [tenant_a, {"name": "b", "port": s.port_b, "routes": [hello]}],
    })
}

/// One route object: its path, module, deadline if any, and `extra`.
fn route(path: &str, module: &Path, deadline_us: Option<u64>, extra: Map<String, Value>) -> Value {
    let mut r = Map::new();
    r.insert("route".into(), json!(path));
    r.insert("path".into(), json!(module.display().to_string()));
    if let Some(d) = deadline_us {
        r.insert("relative-deadline-us".into(), json!(d));
    }
    r.extend(extra);
    Value::Object(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings {
            workers: 2,
            port_a: 1001,
            port_b: 1002,
            deadline_us: 50_000,
            a_deadline_us: 50_000,
            budget_us: 5_000,
            period_us: 20_000,
            a_timeout_ms: 2000,
            membomb_limit_mib: 256,
        }
    }

    fn modules() -> Modules {
        let p = |n: &str| PathBuf::from(format!("/m/{n}.wasm"));
        Modules {
            spin: p("spin"),
            trap: p("trap"),
            membomb: p("membomb"),
            sleep: p("sleep"),
            hello: p("hello"),
        }
    }

    fn routes(config: &Value) -> Vec<&Value> {
        config["tenants"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|t| t["routes"].as_array().unwrap())
            .collect()
    }

    #[test]
    fn only_the_edf_policies_have_deadlines() {
        let fifo = serve_config(Policy::Fifo, &settings(), &modules());
        assert!(routes(&fifo)
            .iter()
            .all(|r| r.get("relative-deadline-us").is_none()));
        for policy in [Policy::Edf, Policy::EdfBudgets] {
            let c = serve_config(policy, &settings(), &modules());
            assert!(routes(&c)
                .iter()
                .all(|r| r["relative-deadline-us"] == 50_000));
        }
        let own = Settings {
            a_deadline_us: 5_000_000,
            ..settings()
        };
        let c = serve_config(Policy::Edf, &own, &modules());
        let deadlines: Vec<&Value> = routes(&c)
            .iter()
            .map(|r| &r["relative-deadline-us"])
            .collect();
        assert_eq!(deadlines[..5], [5_000_000; 5]);
        assert_eq!(deadlines[5], 50_000, "B's /hello keeps --deadline-us");
    }

    #[test]
    fn only_tenant_a_gets_a_budget_and_only_under_edf_budgets() {
        for policy in [Policy::Fifo, Policy::Edf, Policy::EdfBudgets] {
            let c = serve_config(policy, &settings(), &modules());
            let (a, b) = (&c["tenants"][0], &c["tenants"][1]);
            assert_eq!(
                (a["name"].as_str(), b["name"].as_str()),
                (Some("a"), Some("b"))
            );
            let budgeted = policy == Policy::EdfBudgets;
            assert_eq!(a.get("max-budget-us").is_some(), budgeted);
            assert_eq!(a.get("replenishment-period-us").is_some(), budgeted);
            assert!(b.get("max-budget-us").is_none());
            assert_eq!(c["workers"], 2);
        }
    }

    #[test]
    fn tenant_a_serves_the_attack_with_its_limits() {
        let c = serve_config(Policy::Fifo, &settings(), &modules());
        let a = c["tenants"][0]["routes"].as_array().unwrap();
        let paths: Vec<&str> = a.iter().map(|r| r["route"].as_str().unwrap()).collect();
        assert_eq!(paths, ["/spin", "/trap", "/stack", "/membomb", "/sleep"]);
        assert!(a.iter().all(|r| r["timeout-ms"] == 2000));
        assert_eq!(a[2]["path"], "/m/trap.wasm", "/stack is trap.wasm");
        assert_eq!(a[3]["memory-limit-mib"], 256);
        let b = &c["tenants"][1]["routes"][0];
        assert_eq!(
            (b["route"].as_str(), b["path"].as_str()),
            (Some("/hello"), Some("/m/hello.wasm"))
        );
        assert!(b.get("timeout-ms").is_none());
    }
}
