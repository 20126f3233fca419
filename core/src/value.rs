//! Type-erased, shared task results. In one process a result is never
//! copied or encoded: every dependent gets the same `Arc`.

use alloc::sync::Arc;
use core::any::Any;
use core::fmt;

/// `Any` that also remembers its type's name, for error messages.
trait AnyValue: Any + Send + Sync {
    fn type_name(&self) -> &'static str;
    fn as_any(&self) -> &dyn Any;
    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync>;
}

impl<T: Any + Send + Sync> AnyValue for T {
    fn type_name(&self) -> &'static str {
        core::any::type_name::<T>()
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }
}

/// A task result or literal of any `Send + Sync` type, shared by reference count.
#[derive(Clone)]
pub struct Value(Arc<dyn AnyValue>);

impl Value {
    /// Wraps `value`.
    pub fn new<T: Any + Send + Sync>(value: T) -> Value {
        Value(Arc::new(value))
    }

    /// A reference to the value if it is a `T`.
    #[inline]
    pub fn downcast_ref<T: Any>(&self) -> Option<&T> {
        (*self.0).as_any().downcast_ref()
    }

    /// The shared value if it is a `T`; otherwise `self` back.
    pub fn downcast<T: Any + Send + Sync>(self) -> Result<Arc<T>, Value> {
        if self.downcast_ref::<T>().is_some() {
            Ok(<dyn AnyValue>::into_any(self.0).downcast::<T>().unwrap_or_else(|_| unreachable!()))
        } else {
            Err(self)
        }
    }

    /// The value as an owned `T`: moved out when this is the last handle,
    /// cloned otherwise; `self` back if it is not a `T`.
    pub fn take<T: Any + Send + Sync + Clone>(self) -> Result<T, Value> {
        self.downcast::<T>().map(|arc| Arc::try_unwrap(arc).unwrap_or_else(|arc| (*arc).clone()))
    }

    /// [`take`](Self::take) for the output named `key`: a value of
    /// another type is an [`Error::OutputType`](crate::Error::OutputType)
    /// naming the key and both types.
    pub fn take_output<T: Any + Send + Sync + Clone>(
        self,
        key: impl fmt::Display,
    ) -> Result<T, crate::Error> {
        self.take::<T>().map_err(|v| crate::Error::OutputType {
            key: alloc::string::ToString::to_string(&key),
            expected: core::any::type_name::<T>(),
            found: v.type_name(),
        })
    }

    /// The name of the type inside.
    pub fn type_name(&self) -> &'static str {
        (*self.0).type_name()
    }

    /// True if both handles share one allocation.
    pub fn ptr_eq(&self, other: &Value) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Value<{}>", self.type_name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downcasts_and_names_types() {
        let v = Value::new(5i64);
        assert_eq!(v.downcast_ref::<i64>(), Some(&5));
        assert_eq!(v.downcast_ref::<f64>(), None);
        assert_eq!(v.type_name(), "i64");
        let w = v.clone();
        assert!(v.ptr_eq(&w));
        assert_eq!(w.take::<i64>().unwrap(), 5);
        assert!(v.take::<u8>().is_err());
    }
}
