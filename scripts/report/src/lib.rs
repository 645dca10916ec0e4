//! Report output shared by Luge's benchmark tools, `luge-polybench` and
//! `luge-loadtest`, so that both draw their charts and quote their CSV
//! fields the same way: SVG charts drawn with plotters ([`chart`]) and
//! RFC 4180 quoting ([`csv`]).

pub mod chart;
pub mod csv;
