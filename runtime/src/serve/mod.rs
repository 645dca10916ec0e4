//! `luge serve`: HTTP triggers that turn requests on routes into sandboxes.
//!
//! - [`config`]: the route configuration (Sledge's tenant/route JSON plus
//!   Luge's own fields), validated with errors that name the field.
//! - [`http`]: HTTP/1.1 framing without IO: requests parsed from a
//!   connection's bytes (keep-alive, pipelining, chunked bodies), responses
//!   written.
//! - [`metrics`]: counters and histograms in the Prometheus text format.
//! - [`function`]: a served function, and one request run in a sandbox.
//! - [`routes`]: route tables, admission control, invocation bookkeeping.
//! - [`server`]: the `mio` event loop that owns every socket.
//! - [`admin`]: live deploy, listing and removal, OpenWhisk's REST API;
//!   [`deploy`] keeps deployed functions on disk; [`openwhisk`] speaks
//!   OpenWhisk's formats; [`container`] is its action-container protocol.

pub mod admin;
pub mod config;
pub mod container;
pub mod deploy;
pub mod function;
pub mod http;
pub mod metrics;
pub mod openwhisk;
pub mod routes;
pub mod server;
