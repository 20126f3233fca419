//! `rask-array`: lazy chunked n-dimensional `f64` arrays that build rask task graphs.
