//! Time in the browser: `performance.now()`, which exists on the main
//! thread and in workers alike. `std::time::Instant` panics on
//! `wasm32-unknown-unknown`, and every worker has its own time origin, so
//! times that cross threads travel as milliseconds since the Unix epoch.

#[cfg(target_arch = "wasm32")]
mod js {
    use wasm_bindgen::prelude::*;

    #[wasm_bindgen]
    extern "C" {
        /// `performance`, the same global on the main thread and in workers.
        pub type Performance;
        #[wasm_bindgen(thread_local_v2, js_name = performance)]
        pub static PERFORMANCE: Performance;
        #[wasm_bindgen(method)]
        pub fn now(this: &Performance) -> f64;
        #[wasm_bindgen(method, getter, js_name = timeOrigin)]
        pub fn time_origin(this: &Performance) -> f64;
    }

    thread_local! {
        /// `performance.timeOrigin`, fixed for the life of the thread.
        pub static ORIGIN: f64 = PERFORMANCE.with(|p| p.time_origin());
    }
}

/// Milliseconds since the Unix epoch, sub-millisecond precise (0 off wasm).
/// Read several times per task, so it is two imported calls, no lookups
/// by name.
pub fn epoch_ms() -> f64 {
    #[cfg(target_arch = "wasm32")]
    {
        js::ORIGIN.with(|o| *o) + js::PERFORMANCE.with(|p| p.now())
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        0.0
    }
}

/// Nanoseconds from an arbitrary fixed origin, for the sync scheduler's
/// injected clock.
pub fn now_ns() -> u64 {
    (epoch_ms() * 1e6) as u64
}
