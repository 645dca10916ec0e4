//! The HTTP platform behind `luge serve`: HTTP triggers that turn requests
//! on routes into sandboxes.
//!
//! - [`config`]: the route configuration (Sledge's tenant/route JSON plus
//!   Luge's own fields), validated with errors that name the field.
//! - [`http`]: HTTP/1.1 framing without IO: requests parsed from a
//!   connection's bytes (keep-alive, pipelining, chunked bodies), responses
//!   written.
//! - [`server`]: the `mio` event loop that owns every socket, and how jobs
//!   answer through it; generic over the [`server::Handler`] that answers.
//! - [`platform`]: that handler: sends each request to the part its
//!   listener and path name.
//! - [`routes`]: the route table; [`admission`]: the queue limit;
//!   [`invoke`]: a call run in a sandbox and booked.
//! - [`function`]: a served function, and one request run in a sandbox.
//! - [`metrics`]: counters and histograms in the Prometheus text format,
//!   and the per-invocation log line.
//! - [`admin`]: live deploy, listing and removal, OpenWhisk's REST API;
//!   [`code`] tells modules from what is sent instead;
//!   [`deploy`] keeps deployed functions on disk, crash-safe;
//!   [`compiles`] runs their compiles on a few threads; [`openwhisk`] speaks
//!   OpenWhisk's formats; [`container`] is its action-container protocol;
//!   [`activations`] keeps the records of invocations.
//!
//! Modules depend downwards only: `server` knows requests and responses,
//! not the platform; the parts know the server's [`server::Requester`],
//! not each other's state.

pub mod activations;
pub mod admin;
pub mod admission;
pub mod code;
pub mod compiles;
pub mod config;
pub mod container;
pub mod deploy;
pub mod function;
pub mod http;
pub mod invoke;
pub mod metrics;
pub mod openwhisk;
pub mod platform;
pub mod routes;
pub mod server;
pub mod tiering;
