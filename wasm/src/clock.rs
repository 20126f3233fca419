//! Time in the browser: `performance.now()`, which exists on the main
//! thread and in workers alike. `std::time::Instant` panics on
//! `wasm32-unknown-unknown`, and every worker has its own time origin, so
//! times that cross threads travel as milliseconds since the Unix epoch.

/// Milliseconds since the Unix epoch, sub-millisecond precise (0 off wasm).
pub fn epoch_ms() -> f64 {
    #[cfg(target_arch = "wasm32")]
    {
        let perf = js_sys::Reflect::get(&js_sys::global(), &"performance".into()).ok();
        let get = |name: &str| {
            let f = perf
                .as_ref()
                .and_then(|p| js_sys::Reflect::get(p, &name.into()).ok())?;
            Some((f, perf.clone()?))
        };
        let origin = get("timeOrigin")
            .and_then(|(v, _)| v.as_f64())
            .unwrap_or(0.0);
        let now = get("now")
            .and_then(|(f, p)| {
                let f: js_sys::Function = wasm_bindgen::JsCast::dyn_into(f).ok()?;
                f.call0(&p).ok()?.as_f64()
            })
            .unwrap_or_else(js_sys::Date::now);
        origin + now
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
