//! The tests that read the gateway's Prometheus counters to the unit. The recorder is
//! one per process, as the gateway binary runs one gateway per process; the integration
//! binary runs many gateways at once, whose requests would add to these counts.

mod first_event;
mod monitoring;
