//! A `Batch` crosses process boundaries as Arrow IPC bytes inside the
//! postcard frame rask uses for every value: it comes back equal, and the
//! encoding is the IPC stream plus a length, not a value-by-value walk.

use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use rask::Value;
use rask_frame::Batch;

fn batch(rows: usize) -> Batch {
    let ints: Int64Array = (0..rows as i64)
        .map(|i| (i % 3 != 0).then_some(i * 7))
        .collect();
    let floats: Float64Array = (0..rows).map(|i| Some(i as f64 * 0.5)).collect();
    let text: StringArray = (0..rows)
        .map(|i| (i % 5 != 0).then(|| format!("row \"{i}\", ünï")))
        .collect();
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("k", Arc::new(ints)),
        ("v", Arc::new(floats)),
        ("s", Arc::new(text)),
    ];
    Batch(RecordBatch::try_from_iter(columns).unwrap())
}

#[test]
fn a_batch_round_trips_through_the_task_codec() {
    let codec = rask_core_codec();
    for rows in [0, 1, 1000] {
        let original = batch(rows);
        let mut bytes = Vec::new();
        codec
            .encode(&Value::new(original.clone()), &mut bytes)
            .unwrap();
        let ipc = original.to_ipc().unwrap();
        // A varint length, then the IPC stream as it is.
        assert!(
            bytes.ends_with(&ipc) && bytes.len() - ipc.len() <= 5,
            "{} vs {}",
            bytes.len(),
            ipc.len()
        );
        let back = codec.decode(&bytes).unwrap();
        assert_eq!(back.downcast_ref::<Batch>(), Some(&original), "{rows} rows");
    }
}

#[test]
fn corrupt_ipc_is_an_error() {
    let codec = rask_core_codec();
    let mut bytes = Vec::new();
    codec.encode(&Value::new(batch(10)), &mut bytes).unwrap();
    let cut = bytes.len() / 2;
    bytes.truncate(cut);
    assert!(codec.decode(&bytes).is_err());
}

fn rask_core_codec() -> rask_core::Codec {
    rask_core::Codec::of::<Batch>()
}
