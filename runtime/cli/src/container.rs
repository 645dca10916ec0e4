//! `luge container`: the OpenWhisk action container, as the invoker (or
//! Knative) starts it inside an image.

use crate::serve::{run_server, Voice};
use anyhow::{Context, Result};
use luge_serve::config::{
    check_timeout, OpenWhiskConfig, ServeConfig, DEFAULT_ACTION_TIMEOUT, MAX_MEMORY_LIMIT_MIB,
};
use std::net::{IpAddr, Ipv4Addr};

#[derive(clap::Args)]
pub struct ContainerArgs {
    /// Address to listen on. Inside a container every address, so that
    /// the invoker reaches it from outside.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::UNSPECIFIED))]
    host: IpAddr,
    /// Port to listen on; OpenWhisk's invoker connects to 8080.
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// The longest an activation may run, in milliseconds; the `deadline`
    /// of its `/run` cuts it shorter.
    #[arg(long, default_value_t = DEFAULT_ACTION_TIMEOUT.as_millis() as u64)]
    timeout_ms: u64,
    /// The action's memory limit in MiB [default: 256].
    #[arg(long)]
    memory_limit_mib: Option<u64>,
    /// Scheduler worker threads [default: one per core].
    #[arg(long)]
    workers: Option<usize>,
}

pub fn container(args: ContainerArgs) -> Result<()> {
    let mut openwhisk = OpenWhiskConfig::new(args.port);
    openwhisk.timeout = check_timeout(args.timeout_ms)
        .ok()
        .filter(|t| !t.is_zero())
        .with_context(|| {
            format!(
                "--timeout-ms {}: must be 1 to 900000 (15 minutes)",
                args.timeout_ms
            )
        })?;
    if let Some(mib) = args.memory_limit_mib {
        anyhow::ensure!(
            (1..=MAX_MEMORY_LIMIT_MIB).contains(&mib),
            "--memory-limit-mib {mib}: must be 1 to {MAX_MEMORY_LIMIT_MIB}"
        );
        openwhisk.memory_limit_mib = Some(mib);
    }
    let config = ServeConfig::action_container(args.host, openwhisk);
    // Nothing of Luge's own on stdout or stderr: the invoker takes all of
    // it for the action's logs. Errors that stop the server are the
    // exception.
    run_server(&config, Vec::new(), None, args.workers, Voice::Silent)
}
