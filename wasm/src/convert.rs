//! Results handed to JavaScript: a number, a string, or an array chunk as
//! `{shape: number[], data: Float64Array}`.

use rask_core::Value;
use wasm_bindgen::JsValue;

use crate::chunk::Chunk;
use crate::error::RunError;

/// `value` as a JavaScript value.
pub fn to_js(value: &Value) -> Result<JsValue, RunError> {
    if let Some(x) = value.downcast_ref::<f64>() {
        return Ok(JsValue::from_f64(*x));
    }
    if let Some(s) = value.downcast_ref::<String>() {
        return Ok(JsValue::from_str(s));
    }
    if let Some(c) = value.downcast_ref::<Chunk>() {
        let object = js_sys::Object::new();
        let shape: js_sys::Array = c.shape().iter().map(|&d| JsValue::from(d)).collect();
        let data = js_sys::Float64Array::from(c.data());
        let set = |k: &str, v: &JsValue| js_sys::Reflect::set(&object, &k.into(), v);
        set("shape", &shape.into())
            .and_then(|_| set("data", &data.into()))
            .map_err(|e| RunError::Output(format!("cannot build a chunk object: {e:?}")))?;
        return Ok(object.into());
    }
    Err(RunError::Output(format!(
        "a value of type {} has no JavaScript form",
        value.type_name()
    )))
}
