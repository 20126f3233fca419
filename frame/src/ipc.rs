//! [`Batch`]: an Arrow `RecordBatch` that crosses process boundaries as
//! Arrow IPC stream bytes.
//!
//! Task results are encoded with serde (postcard) when they leave a process.
//! `Batch` serializes as one byte string (`serialize_bytes`), the IPC stream
//! of its schema and columns, so postcard copies the column buffers as they
//! are instead of walking values one by one; in-process backends never
//! encode it at all.

use std::fmt;
use std::ops::Deref;

use arrow_array::RecordBatch;
use arrow_ipc::reader::StreamReader;
use arrow_ipc::writer::StreamWriter;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use crate::error::FrameError;

/// A record batch with an Arrow IPC codec.
#[derive(Clone, Debug, PartialEq)]
pub struct Batch(pub RecordBatch);

impl Batch {
    /// The batch as an Arrow IPC stream (schema, then one batch).
    pub fn to_ipc(&self) -> Result<Vec<u8>, FrameError> {
        let ipc = |e: arrow_schema::ArrowError| FrameError::Ipc {
            message: e.to_string(),
        };
        let mut writer = StreamWriter::try_new(Vec::new(), &self.0.schema()).map_err(ipc)?;
        writer.write(&self.0).map_err(ipc)?;
        writer.finish().map_err(ipc)?;
        writer.into_inner().map_err(ipc)
    }

    /// The batch in an Arrow IPC stream; several batches are joined into one.
    pub fn from_ipc(bytes: &[u8]) -> Result<Batch, FrameError> {
        let ipc = |e: arrow_schema::ArrowError| FrameError::Ipc {
            message: e.to_string(),
        };
        let reader = StreamReader::try_new(bytes, None).map_err(ipc)?;
        let schema = reader.schema();
        let batches = reader.collect::<Result<Vec<_>, _>>().map_err(ipc)?;
        match <[RecordBatch; 1]>::try_from(batches) {
            Ok([one]) => Ok(Batch(one)),
            Err(many) => arrow_select::concat::concat_batches(&schema, &many)
                .map(Batch)
                .map_err(ipc),
        }
    }

    /// The record batch.
    pub fn into_inner(self) -> RecordBatch {
        self.0
    }
}

impl Deref for Batch {
    type Target = RecordBatch;
    fn deref(&self) -> &RecordBatch {
        &self.0
    }
}

impl From<RecordBatch> for Batch {
    fn from(batch: RecordBatch) -> Self {
        Batch(batch)
    }
}

impl Serialize for Batch {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let bytes = self.to_ipc().map_err(serde::ser::Error::custom)?;
        serializer.serialize_bytes(&bytes)
    }
}

struct IpcVisitor;

impl<'de> Visitor<'de> for IpcVisitor {
    type Value = Batch;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the bytes of an Arrow IPC stream")
    }

    fn visit_bytes<E: de::Error>(self, bytes: &[u8]) -> Result<Batch, E> {
        Batch::from_ipc(bytes).map_err(E::custom)
    }

    // Formats without a byte type (JSON) write bytes as a sequence.
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Batch, A::Error> {
        let mut bytes = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(b) = seq.next_element::<u8>()? {
            bytes.push(b);
        }
        Batch::from_ipc(&bytes).map_err(de::Error::custom)
    }
}

impl<'de> Deserialize<'de> for Batch {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Batch, D::Error> {
        deserializer.deserialize_bytes(IpcVisitor)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{Float64Array, Int64Array, StringArray};

    use super::*;

    #[test]
    fn corrupt_bytes_are_an_error_not_a_panic() {
        let err = Batch::from_ipc(b"not arrow").unwrap_err();
        assert!(err.to_string().starts_with("Arrow IPC"), "{err}");
    }

    #[test]
    fn a_batch_survives_its_ipc_bytes() {
        let batch = RecordBatch::try_from_iter([
            (
                "k",
                Arc::new(Int64Array::from(vec![Some(1), None, Some(3)])) as _,
            ),
            ("v", Arc::new(Float64Array::from(vec![0.5, 1.5, -2.0])) as _),
            (
                "s",
                Arc::new(StringArray::from(vec![Some("a"), Some(""), None])) as _,
            ),
        ])
        .unwrap();
        let batch = Batch(batch);
        assert_eq!(Batch::from_ipc(&batch.to_ipc().unwrap()).unwrap(), batch);
    }
}
