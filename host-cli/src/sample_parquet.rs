//! `broker-rules sample --out FILE.parquet`: the sample log as Parquet, the way exports from
//! a data lake look: decimals as decimal128(38, 18), time as timestamp[ms, UTC], strings
//! dictionary-encoded by the writer, one row group per 1,048,576 trades.

use crate::sample::Sample;
use arrow_array::builder::{
    BooleanBuilder, Decimal128Builder, StringBuilder, TimestampMillisecondBuilder, UInt32Builder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use broker_rules::columns::fixed;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use std::io::{self, Write};
use std::sync::Arc;

const BATCH: usize = 65_536;

fn schema() -> Arc<Schema> {
    let dec = DataType::Decimal128(38, 18);
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Utf8, false),
        Field::new(
            "time",
            DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
            false,
        ),
        Field::new("account", DataType::Utf8, false),
        Field::new("broker", DataType::Utf8, true),
        Field::new("channel", DataType::Utf8, false),
        Field::new("product", DataType::Utf8, false),
        Field::new("notional", dec.clone(), false),
        Field::new("fee", dec.clone(), false),
        Field::new("fee_rate", dec.clone(), false),
        Field::new("liquidity", DataType::Utf8, false),
        Field::new("vip", DataType::UInt32, false),
        Field::new("fee_discount", DataType::Boolean, false),
        Field::new("affiliate_rate", dec, false),
    ]))
}

fn decimal(s: &str) -> i128 {
    broker_rules::money::parse(s)
        .ok()
        .and_then(fixed)
        .unwrap_or_default()
}

/// Writes `count` sample trades as Parquet; `tick` gets the rows written so far.
pub fn write<W: Write + Send>(
    out: W,
    count: u64,
    seed: u64,
    tick: &mut dyn FnMut(u64),
) -> io::Result<()> {
    let schema = schema();
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .set_max_row_group_row_count(Some(1 << 20))
        .build();
    let err = |e: parquet::errors::ParquetError| io::Error::other(e.to_string());
    let mut w = ArrowWriter::try_new(out, schema.clone(), Some(props)).map_err(err)?;
    let mut rows = Sample::new(count, seed).peekable();
    let mut n = 0u64;
    while rows.peek().is_some() {
        let (mut id, mut time, mut account, mut broker) = (
            StringBuilder::new(),
            TimestampMillisecondBuilder::new().with_timezone("UTC"),
            StringBuilder::new(),
            StringBuilder::new(),
        );
        let (mut channel, mut product, mut liquidity) = (
            StringBuilder::new(),
            StringBuilder::new(),
            StringBuilder::new(),
        );
        let dec = || {
            Decimal128Builder::new()
                .with_precision_and_scale(38, 18)
                .map_err(|e| io::Error::other(e.to_string()))
        };
        let (mut notional, mut fee, mut fee_rate, mut aff) = (dec()?, dec()?, dec()?, dec()?);
        let (mut vip, mut fd) = (UInt32Builder::new(), BooleanBuilder::new());
        for r in rows.by_ref().take(BATCH) {
            id.append_value(r.id());
            let ns = broker_rules::time::parse(&r.time()).unwrap_or_default();
            time.append_value(ns / 1_000_000);
            account.append_value(&r.account);
            broker.append_option(r.broker);
            channel.append_value(r.channel);
            product.append_value(r.product);
            notional.append_value(decimal(&r.notional()));
            fee.append_value(decimal(&r.fee()));
            fee_rate.append_value(decimal(&r.fee_rate()));
            liquidity.append_value(if r.maker { "maker" } else { "taker" });
            vip.append_value(r.vip);
            fd.append_value(r.fee_discount);
            aff.append_value(decimal(&r.affiliate_rate()));
            n += 1;
        }
        let cols: Vec<ArrayRef> = vec![
            Arc::new(id.finish()),
            Arc::new(time.finish()),
            Arc::new(account.finish()),
            Arc::new(broker.finish()),
            Arc::new(channel.finish()),
            Arc::new(product.finish()),
            Arc::new(notional.finish()),
            Arc::new(fee.finish()),
            Arc::new(fee_rate.finish()),
            Arc::new(liquidity.finish()),
            Arc::new(vip.finish()),
            Arc::new(fd.finish()),
            Arc::new(aff.finish()),
        ];
        let batch = RecordBatch::try_new(schema.clone(), cols)
            .map_err(|e| io::Error::other(e.to_string()))?;
        w.write(&batch).map_err(err)?;
        tick(n);
    }
    w.close().map_err(err)?;
    Ok(())
}
