//! Benchmark: TPC-H Q1, Q3 and Q6 over the Parquet files of `tpchgen-cli`.
//!
//!     tpchgen-cli parquet -s 10 -o DIR
//!     cargo run --release --example tpch -- --data DIR --queries q1,q3,q6 \
//!         [--threads 2] [--memory-limit 1536MiB] [--out-dir DIR] [--spill-dir DIR] \
//!         [--partition-bytes 128MiB] [--analyze]
//!
//! `DIR` holds `lineitem.parquet`, `orders.parquet` and `customer.parquet` (or folders of
//! that name holding Parquet files). Money columns are `Decimal128(15, 2)` and dates
//! `Date32`, and the queries are written as the SQL reads (`shared/bench/q_tpch.py`):
//! decimal sums are exact (`Decimal128(38, s)`), `avg` is a `Float64`, and
//! `l_discount BETWEEN 0.05 AND 0.07` compares exact decimals.
//!
//! Each answer is written to the folder `<out-dir>/<query>.parquet/` (when `--out-dir` is
//! given) and a `RESULT {json}` line per query gives the time, the row count, the bytes
//! spilled and each numeric column's sum, which `shared/bench/check_answers.py` compares
//! across engines (`benches/tpch_check.py` compares the answers themselves with DuckDB's).

use std::path::Path;
use std::time::Instant;

use clap::Parser;
use spillway::prelude::*;

#[path = "common/engine.rs"]
mod engine;
#[path = "common/exit.rs"]
mod exit;

#[path = "common/answer.rs"]
mod answer;

#[derive(Parser)]
struct Args {
    /// The folder of the TPC-H tables.
    #[arg(long)]
    data: String,
    /// Comma-separated queries: q1, q3, q6.
    #[arg(long, default_value = "q1,q3,q6")]
    queries: String,
    /// Where to write each answer, as a folder `<query>.parquet/` of part files.
    #[arg(long)]
    out_dir: Option<std::path::PathBuf>,
    /// Bytes of (projected) Parquet data per partition, e.g. 32MiB (default: the session's).
    #[arg(long)]
    partition_bytes: Option<String>,
    /// Print each query's plan and per-stage rows, time, memory and spill
    /// (`explain_analyze`) instead of timing it.
    #[arg(long)]
    analyze: bool,
    #[command(flatten)]
    engine: engine::EngineArgs,
}

/// The tables of one TPC-H dataset, read lazily.
struct Tpch {
    session: Session,
    data: String,
}

impl Tpch {
    /// `<data>/<name>.parquet`, or the folder `<data>/<name>/` of Parquet files.
    fn table(&self, name: &str) -> Result<DataFrame> {
        let file = Path::new(&self.data).join(format!("{name}.parquet"));
        let path = if file.exists() {
            file
        } else {
            Path::new(&self.data).join(name)
        };
        self.session.read_parquet(path.to_string_lossy())
    }

    /// Pricing summary report: sums and means of quantities and prices by return flag and
    /// line status for the items shipped by 1998-09-02. The discounted price is a column
    /// of its own, computed once for its two sums (Spillway does not eliminate common
    /// subexpressions).
    fn q1(&self) -> Result<DataFrame> {
        let disc_price = col("l_extendedprice") * (lit(1) - col("l_discount"));
        self.table("lineitem")?
            .filter(col("l_shipdate").lt_eq(lit(date(1998, 9, 2)?)))?
            .with_column(disc_price.alias("disc_price"))?
            .group_by([col("l_returnflag"), col("l_linestatus")])
            .agg([
                col("l_quantity").sum().alias("sum_qty"),
                col("l_extendedprice").sum().alias("sum_base_price"),
                col("disc_price").sum().alias("sum_disc_price"),
                (col("disc_price") * (lit(1) + col("l_tax")))
                    .sum()
                    .alias("sum_charge"),
                col("l_quantity").mean().alias("avg_qty"),
                col("l_extendedprice").mean().alias("avg_price"),
                col("l_discount").mean().alias("avg_disc"),
                lit(1_i64).count().alias("count_order"),
            ])?
            .sort([col("l_returnflag"), col("l_linestatus")])
    }

    /// Shipping priority: the ten unshipped orders of the BUILDING segment with the highest
    /// revenue on 1995-03-15. Joins build on their right side, so each join takes the
    /// smaller input there: customers under orders, then those orders under line items.
    fn q3(&self) -> Result<DataFrame> {
        let day = date(1995, 3, 15)?;
        let customer = self
            .table("customer")?
            .filter(col("c_mktsegment").eq(lit("BUILDING")))?;
        let orders = self
            .table("orders")?
            .filter(col("o_orderdate").lt(lit(day.clone())))?;
        let lineitem = self
            .table("lineitem")?
            .filter(col("l_shipdate").gt(lit(day)))?;
        let building_orders =
            orders.join(&customer, ["o_custkey"], ["c_custkey"], JoinType::Inner)?;
        lineitem
            .join(
                &building_orders,
                ["l_orderkey"],
                ["o_orderkey"],
                JoinType::Inner,
            )?
            .group_by([col("l_orderkey"), col("o_orderdate"), col("o_shippriority")])
            .agg([(col("l_extendedprice") * (lit(1) - col("l_discount")))
                .sum()
                .alias("revenue")])?
            .select([
                col("l_orderkey"),
                col("revenue"),
                col("o_orderdate"),
                col("o_shippriority"),
            ])?
            .sort([col("revenue").desc(), col("o_orderdate").asc()])
            .map(|df| df.head(10))
    }

    /// Forecasting revenue change: the revenue of 1994's small-quantity items at a 6 % ± 1 %
    /// discount.
    fn q6(&self) -> Result<DataFrame> {
        self.table("lineitem")?
            .filter(
                col("l_shipdate")
                    .gt_eq(lit(date(1994, 1, 1)?))
                    .and(col("l_shipdate").lt(lit(date(1995, 1, 1)?)))
                    .and(col("l_discount").between(lit(0.05), lit(0.07)))
                    .and(col("l_quantity").lt(lit(24))),
            )?
            .agg([(col("l_extendedprice") * col("l_discount"))
                .sum()
                .alias("revenue")])
    }

    fn query(&self, q: &str) -> Result<DataFrame> {
        match q {
            "q1" => self.q1(),
            "q3" => self.q3(),
            "q6" => self.q6(),
            other => Err(Error::Plan(format!(
                "unknown query {other}: this program runs q1, q3 and q6"
            ))),
        }
    }
}

fn main() -> std::process::ExitCode {
    exit::exit(run())
}

fn run() -> std::result::Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let mut builder = args.engine.builder()?;
    if let Some(p) = &args.partition_bytes {
        builder = builder.target_partition_bytes(spillway::config::parse_bytes(p)?);
    }
    let tpch = Tpch {
        session: builder.build()?,
        data: args.data.clone(),
    };
    let session = &tpch.session;
    for q in args.queries.split(',').map(str::trim) {
        let t0 = Instant::now();
        let df = tpch.query(q)?;
        if args.analyze {
            println!("{q}:\n{}", df.explain_analyze()?);
            continue;
        }
        answer::report(
            session,
            &df,
            q,
            &format!("tpch-{q}"),
            t0,
            args.out_dir.as_deref(),
            |_| true,
        )?;
    }
    Ok(())
}
