//! `rask-bag`: partitioned sequences that build rask task graphs.
