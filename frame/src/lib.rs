//! `rask-frame`: partitioned data frames on Apache Arrow that build rask task graphs.
