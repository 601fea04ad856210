//! The dates-and-times family through the public API, against chrono row by row: empty
//! input, one to many partitions and one to three threads, nulls, leap days, month ends,
//! years before 0 and dates before 1970, timestamps in Europe/Paris; date functions as
//! filter, select, with_column, group-by keys, aggregate inputs and sort keys, spilling under
//! a tiny memory limit; comparisons with date and time-zone literals (in memory and pruning
//! Parquet); closures over `NaiveDate`; plan-time type errors, a bad format and an
//! unparsable string; and a property test of the whole family.

use std::collections::BTreeMap;
use std::sync::Arc;

use proptest::prelude::*;
use spillway::arrow::array::PrimitiveArray;
use spillway::arrow::array::timezone::Tz;
use spillway::arrow::array::{
    AsArray, Date32Array, Date64Array, Int32Array, Int64Array, StringArray,
    TimestampMillisecondArray,
};
use spillway::arrow::compute::cast;
use spillway::arrow::datatypes::{Date32Type, Int32Type, Int64Type, TimeUnit, UInt64Type};
use spillway::chrono::{
    DateTime, Datelike, Days, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Timelike,
};
use spillway::prelude::*;

const PARIS: &str = "Europe/Paris";

/// The date `days` after 1970-01-01.
fn date_of(days: i32) -> NaiveDate {
    NaiveDate::from_num_days_from_ce_opt(days + 719_163).unwrap()
}

fn days_of(d: NaiveDate) -> i32 {
    d.num_days_from_ce() - 719_163
}

/// The last day of month `m` of year `y`.
fn month_end(y: i32, m: u32) -> NaiveDate {
    (28..=31)
        .rev()
        .find_map(|d| NaiveDate::from_ymd_opt(y, m, d))
        .unwrap()
}

/// Row `i`'s date: null every 9th row; a month's last day (a leap day in leap Februaries)
/// every 5th, in years -400 to 2399; else any day of years -2000 to 5940.
fn day(i: usize) -> Option<i32> {
    if i % 9 == 4 {
        return None;
    }
    if i.is_multiple_of(5) {
        let y = (i * 37 % 2800) as i32 - 400;
        return Some(days_of(month_end(y, (i / 5 % 12) as u32 + 1)));
    }
    Some((i as i64 * 7919 % 2_900_000 - 1_450_000) as i32)
}

/// Row `i`'s instant (milliseconds): its date plus a time of day, read in Paris.
fn instant(d: Option<i32>, i: usize) -> Option<i64> {
    d.map(|d| i64::from(d) * 86_400_000 + (i as i64 * 3_600_007) % 86_400_000)
}

/// Row `i`'s count of days, months or years to add: null every 7th row.
fn count(i: usize) -> Option<i32> {
    (i % 7 != 2).then_some((i as i32 * 31) % 801 - 400)
}

/// A frame of `id`, `d` (`Date32`), `t` (`Timestamp(ms, "Europe/Paris")`), `n` (`Int32`)
/// and `s` (`d` written as `%d.%m.%Y`) over `days` and `counts`.
fn frame(s: &Session, days: &[Option<i32>], counts: &[Option<i32>], nparts: usize) -> DataFrame {
    let n = days.len();
    let text: Vec<Option<String>> = days
        .iter()
        .map(|d| d.map(|d| date_of(d).format("%d.%m.%Y").to_string()))
        .collect();
    let t: Vec<Option<i64>> = days
        .iter()
        .enumerate()
        .map(|(i, d)| instant(*d, i))
        .collect();
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("id", Arc::new(Int64Array::from_iter_values(0..n as i64))),
        ("d", Arc::new(Date32Array::from(days.to_vec()))),
        (
            "t",
            Arc::new(TimestampMillisecondArray::from(t).with_timezone(PARIS)),
        ),
        ("n", Arc::new(Int32Array::from(counts.to_vec()))),
        ("s", Arc::new(StringArray::from(text))),
    ];
    let batch = RecordBatch::try_from_iter(columns).unwrap();
    s.from_batches(batch.schema(), vec![batch], nparts).unwrap()
}

fn session(
    threads: usize,
    memory_limit: Option<usize>,
    spill: Option<&std::path::Path>,
) -> Session {
    let mut b = Session::builder().threads(threads).batch_rows(64);
    if let Some(limit) = memory_limit {
        b = b.memory_limit(limit);
    }
    if let Some(dir) = spill {
        b = b.spill_dir(dir);
    }
    b.build().unwrap()
}

/// Column `i` of the batches, as Arrow's cast writes it.
fn texts(batches: &[RecordBatch], i: usize) -> Vec<Option<String>> {
    batches
        .iter()
        .flat_map(|b| {
            let a = cast(b.column(i), &DataType::Utf8).unwrap();
            let a = a.as_string::<i32>().clone();
            (0..a.len())
                .map(|r| (!a.is_null(r)).then(|| a.value(r).to_owned()))
                .collect::<Vec<_>>()
        })
        .collect()
}

fn ids(batches: &[RecordBatch]) -> Vec<usize> {
    batches
        .iter()
        .flat_map(|b| b.column(0).as_primitive::<Int64Type>().values().to_vec())
        .map(|i| i as usize)
        .collect()
}

/// One row, as the reference sees it.
struct Row {
    d: Option<NaiveDate>,
    t: Option<DateTime<Tz>>,
    n: Option<i64>,
    s: Option<String>,
}

/// `d` plus `n` months, counted by hand: the day clamped to the new month's last.
fn add_months(d: NaiveDate, n: i64) -> NaiveDate {
    let k = i64::from(d.year()) * 12 + i64::from(d.month0()) + n;
    let (y, m) = (k.div_euclid(12) as i32, k.rem_euclid(12) as u32 + 1);
    let end = month_end(y, m);
    end.with_day(d.day().min(end.day())).unwrap()
}

fn midnight(d: NaiveDate) -> NaiveDateTime {
    d.and_time(NaiveTime::MIN)
}

type Reference = Box<dyn Fn(&Row) -> Option<String>>;

/// Every function of the family, and what it gives for one row.
fn cases() -> Vec<(Expr, Reference)> {
    let on_d = |f: fn(NaiveDate) -> String| -> Reference { Box::new(move |r| r.d.map(f)) };
    let on_t =
        |f: fn(&DateTime<Tz>) -> String| -> Reference { Box::new(move |r| r.t.as_ref().map(f)) };
    let with_n = |f: fn(NaiveDate, i64) -> NaiveDate| -> Reference {
        Box::new(move |r| Some(f(r.d?, r.n?).to_string()))
    };
    let d = || col("d").dt();
    let t = || col("t").dt();
    let y2k = NaiveDate::from_ymd_opt(2000, 3, 1).unwrap();
    vec![
        (d().year(), on_d(|d| d.year().to_string())),
        (d().quarter(), on_d(|d| (d.month0() / 3 + 1).to_string())),
        (d().month(), on_d(|d| d.month().to_string())),
        (d().day(), on_d(|d| d.day().to_string())),
        (
            d().weekday(),
            on_d(|d| d.weekday().number_from_monday().to_string()),
        ),
        (d().ordinal_day(), on_d(|d| d.ordinal().to_string())),
        (d().hour(), on_d(|_| "0".into())),
        (t().hour(), on_t(|t| t.hour().to_string())),
        (t().minute(), on_t(|t| t.minute().to_string())),
        (t().day(), on_t(|t| t.day().to_string())),
        (
            t().weekday(),
            on_t(|t| t.weekday().number_from_monday().to_string()),
        ),
        (
            d().truncate(CalendarUnit::Year),
            on_d(|d| d.with_ordinal(1).unwrap().to_string()),
        ),
        (
            d().truncate(CalendarUnit::Quarter),
            on_d(|d| {
                let m = d.month0() / 3 * 3 + 1;
                NaiveDate::from_ymd_opt(d.year(), m, 1).unwrap().to_string()
            }),
        ),
        (
            d().truncate(CalendarUnit::Month),
            on_d(|d| d.with_day(1).unwrap().to_string()),
        ),
        (
            d().truncate(CalendarUnit::Week),
            on_d(|d| {
                let back = d.weekday().num_days_from_monday();
                (d - Days::new(back.into())).to_string()
            }),
        ),
        (d().add_months(col("n")), with_n(add_months)),
        (
            d().add_years(col("n")),
            with_n(|d, n| add_months(d, 12 * n)),
        ),
        (
            d().add_days(col("n")),
            with_n(|d, n| date_of(days_of(d) + n as i32)),
        ),
        (
            days_between(lit(y2k), col("d")),
            Box::new(move |r| Some((days_of(r.d?) - days_of(y2k)).to_string())),
        ),
        (
            days_between(col("d"), col("t")),
            Box::new(|r| {
                let local = r.t.as_ref()?.naive_local().date();
                Some((days_of(local) - days_of(r.d?)).to_string())
            }),
        ),
        (
            d().strftime("%Y/%m/%d %a %H"),
            on_d(|d| midnight(d).format("%Y/%m/%d %a %H").to_string()),
        ),
        (
            t().strftime("%Y-%m-%d %H:%M:%S%.3f %:z"),
            on_t(|t| t.format("%Y-%m-%d %H:%M:%S%.3f %:z").to_string()),
        ),
        (
            col("s").str().to_date("%d.%m.%Y"),
            Box::new(|r| {
                let s = r.s.as_deref()?;
                Some(
                    NaiveDate::parse_from_str(s, "%d.%m.%Y")
                        .unwrap()
                        .to_string(),
                )
            }),
        ),
        (
            col("s").str().to_datetime("%d.%m.%Y"),
            Box::new(|r| {
                let d = NaiveDate::parse_from_str(r.s.as_deref()?, "%d.%m.%Y").unwrap();
                Some(midnight(d).format("%Y-%m-%dT%H:%M:%S").to_string())
            }),
        ),
    ]
}

/// Runs every case over a frame of `days` and `counts` and checks each row against chrono.
fn check_family(days: &[Option<i32>], counts: &[Option<i32>], nparts: usize, threads: usize) {
    let s = session(threads, None, None);
    let cases = cases();
    let mut select = vec![col("id")];
    select.extend(
        cases
            .iter()
            .enumerate()
            .map(|(i, (e, _))| e.clone().alias(format!("f{i}"))),
    );
    let out = frame(&s, days, counts, nparts)
        .select(select)
        .unwrap()
        .collect()
        .unwrap();
    let rows = ids(&out);
    assert_eq!(rows.len(), days.len());
    let paris: Tz = PARIS.parse().unwrap();
    for (c, (e, reference)) in cases.iter().enumerate() {
        let got = texts(&out, c + 1);
        for (row, &id) in rows.iter().enumerate() {
            let d = days[id].map(date_of);
            let r = Row {
                d,
                t: instant(days[id], id).map(|ms| paris.timestamp_millis_opt(ms).unwrap()),
                n: counts[id].map(i64::from),
                s: d.map(|d| d.format("%d.%m.%Y").to_string()),
            };
            assert_eq!(got[row], reference(&r), "{e} on row {id}: {d:?} {:?}", r.t);
        }
    }
}

#[test]
fn date_functions_match_chrono_over_empty_one_and_many_partitions_and_threads() {
    for (n, nparts) in [(0, 1), (0, 4), (1, 1), (700, 1), (700, 7), (700, 64)] {
        for threads in [1, 3] {
            let days: Vec<_> = (0..n).map(day).collect();
            let counts: Vec<_> = (0..n).map(count).collect();
            check_family(&days, &counts, nparts, threads);
        }
    }
}

#[test]
fn date_keys_filter_select_group_aggregate_and_sort_and_spill_under_a_tiny_memory_limit() {
    const N: usize = 20_000;
    let days: Vec<_> = (0..N).map(day).collect();
    let counts: Vec<_> = (0..N).map(count).collect();
    let spill = tempfile::tempdir().unwrap();
    let s = session(2, Some(64 << 10), Some(spill.path()));
    let df = frame(&s, &days, &counts, 8)
        .with_column(col("d").dt().add_years(1).alias("next"))
        .unwrap();

    // Filter: the 20th century, by year and by comparison with a date literal.
    let modern = col("d")
        .dt()
        .year()
        .gt_eq(1900)
        .and(col("next").lt(lit(date(2001, 1, 1).unwrap())));
    let want = days
        .iter()
        .filter(|d| d.is_some_and(|d| (1900..2000).contains(&date_of(d).year())))
        .count();
    assert_eq!(df.filter(modern).unwrap().count_rows().unwrap(), want);

    // Group by month start: rows, the latest date and the earliest day of the month.
    let (out, stats) = df
        .group_by([col("d").dt().truncate(CalendarUnit::Month).alias("month")])
        .agg([
            col("id").count().alias("rows"),
            col("d").max().alias("last"),
            col("d").dt().day().min().alias("first_day"),
        ])
        .unwrap()
        .collect_with_stats()
        .unwrap();
    assert!(stats.spilled_bytes > 0, "{stats:?}");
    let mut want: BTreeMap<Option<i32>, (u64, Option<i32>, Option<i32>)> = BTreeMap::new();
    for d in days.iter().map(|d| d.map(date_of)) {
        let key = d.map(|d| days_of(d.with_day(1).unwrap()));
        let e = want.entry(key).or_insert((0, None, None));
        e.0 += 1;
        if let Some(d) = d {
            e.1 = e.1.max(Some(days_of(d)));
            e.2 = Some(e.2.map_or(d.day() as i32, |m| m.min(d.day() as i32)));
        }
    }
    let mut got = BTreeMap::new();
    for b in &out {
        let month = b.column(0).as_primitive::<Date32Type>();
        let rows = b.column(1).as_primitive::<UInt64Type>();
        let last = b.column(2).as_primitive::<Date32Type>();
        let first = b.column(3).as_primitive::<Int32Type>();
        for i in 0..b.num_rows() {
            let at = |a: &PrimitiveArray<Date32Type>| (!a.is_null(i)).then(|| a.value(i));
            let first = (!first.is_null(i)).then(|| first.value(i));
            got.insert(at(month), (rows.value(i), at(last), first));
        }
    }
    assert_eq!(got, want);

    // Sort by weekday (Sunday first), then day of the year, then id.
    let (out, stats) = df
        .sort([
            col("d").dt().weekday().desc().nulls_last(),
            col("d").dt().ordinal_day().asc(),
            col("id").asc(),
        ])
        .unwrap()
        .collect_with_stats()
        .unwrap();
    assert!(stats.spilled_bytes > 0, "{stats:?}");
    let mut want: Vec<usize> = (0..N).collect();
    want.sort_by_key(|&i| {
        let d = days[i].map(date_of);
        let weekday = d.map(|d| d.weekday().number_from_monday());
        (
            weekday.is_none(),
            std::cmp::Reverse(weekday),
            d.map(|d| d.ordinal()),
            i,
        )
    });
    assert_eq!(ids(&out), want);
    assert_eq!(std::fs::read_dir(spill.path()).unwrap().count(), 0);
    assert_eq!(s.memory().used(), 0);
}

#[test]
fn dates_and_zoned_timestamps_compare_with_literals_in_memory_and_in_parquet() {
    const N: usize = 3_000;
    let days: Vec<_> = (0..N).map(day).collect();
    let counts: Vec<_> = (0..N).map(count).collect();
    let s = session(2, None, None);
    let cutoff = NaiveDate::from_ymd_opt(1994, 1, 1).unwrap();
    let before = |d: &Option<i32>| d.is_some_and(|d| date_of(d) < cutoff);
    let want_days = days.iter().filter(|d| before(d)).count();
    // Paris midnight on 1994-01-01 is 23:00 UTC the day before.
    let instant_cutoff = (i64::from(days_of(cutoff)) * 86_400 - 3_600) * 1000;
    let want_instants = (0..N)
        .filter(|&i| instant(days[i], i).is_some_and(|t| t < instant_cutoff))
        .count();
    let dir = tempfile::tempdir().unwrap();
    frame(&s, &days, &counts, 4)
        .with_column(col("d").cast(DataType::Date64).alias("d64"))
        .unwrap()
        .write_parquet(dir.path().join("t"))
        .unwrap();
    let from_parquet = s
        .read_parquet(dir.path().join("t/*.parquet").to_string_lossy())
        .unwrap();
    let in_memory = frame(&s, &days, &counts, 4)
        .with_column(col("d").cast(DataType::Date64).alias("d64"))
        .unwrap();
    let utc = ScalarValue::timestamp(instant_cutoff / 1000, TimeUnit::Second, Some("UTC")).unwrap();
    let paris_ns = ScalarValue::timestamp(
        instant_cutoff * 1_000_000,
        TimeUnit::Nanosecond,
        Some(PARIS),
    )
    .unwrap();
    for df in [in_memory, from_parquet] {
        let count = |p: Expr| df.filter(p).unwrap().count_rows().unwrap();
        assert_eq!(
            count(col("d").lt(lit(date(1994, 1, 1).unwrap()))),
            want_days
        );
        assert_eq!(count(col("d").lt(lit(cutoff))), want_days);
        assert_eq!(count(col("d64").lt(lit(cutoff))), want_days);
        assert_eq!(count(lit(cutoff).gt(col("d64"))), want_days);
        assert_eq!(count(col("d").lt("1994-01-01")), want_days);
        assert_eq!(count(col("t").lt(lit(utc.clone()))), want_instants);
        assert_eq!(count(col("t").lt(lit(paris_ns.clone()))), want_instants);
        // A string is read in the column's zone: Paris midnight.
        assert_eq!(count(col("t").lt("1994-01-01T00:00:00")), want_instants);
        let err = df.filter(col("t").lt(lit(cutoff))).unwrap_err();
        assert!(
            err.to_string().contains("only one has a time zone"),
            "{err}"
        );
    }
}

#[test]
fn closures_take_and_return_dates() {
    let s = session(2, None, None);
    let days: Vec<NaiveDate> = (0..50).filter_map(day).map(date_of).collect();
    let series = s.from_vec("d", days.clone(), 3).unwrap();
    let next = series.apply(|d: NaiveDate| d.succ_opt()).unwrap();
    let latest: NaiveDate = next.max().compute().unwrap();
    assert_eq!(latest, days.iter().max().unwrap().succ_opt().unwrap());
    let years: i64 = series
        .apply(|d: NaiveDate| i64::from(d.year()))
        .unwrap()
        .sum()
        .compute()
        .unwrap();
    assert_eq!(years, days.iter().map(|d| i64::from(d.year())).sum::<i64>());
    // A closure's dates go on through the family.
    let df = series
        .into_frame()
        .select([col("d")
            .apply(|d: NaiveDate| d.with_day(1).unwrap())
            .dt()
            .day()
            .alias("one")])
        .unwrap();
    let ones: i64 = df.column("one").unwrap().sum().compute().unwrap();
    assert_eq!(ones, days.len() as i64);
}

#[test]
fn bad_arguments_and_formats_are_type_errors_naming_the_column_when_the_plan_is_built() {
    let s = session(2, None, None);
    let df = frame(&s, &[Some(0)], &[Some(1)], 1);
    let cases = [
        (
            df.select([col("id").dt().year()]).unwrap_err(),
            "year(id)",
            "year takes a date or timestamp (Date32, Date64 or Timestamp) but its argument 'id' is Int64",
        ),
        (
            df.filter(col("s").dt().month().eq(1)).unwrap_err(),
            "month(s)",
            "argument 's' is Utf8",
        ),
        (
            df.with_column(col("d").dt().add_months(col("s")).alias("x"))
                .unwrap_err(),
            "add_months(d, s)",
            "takes a whole number of months (an integer) but its argument 's' is Utf8",
        ),
        (
            df.select([col("d").str().to_date("%Y")]).unwrap_err(),
            "to_date(d, '%Y')",
            "takes a string",
        ),
        (
            df.select([col("s").str().to_date("%Y-%Q")]).unwrap_err(),
            "to_date(s, '%Y-%Q')",
            "invalid format '%Y-%Q'",
        ),
        (
            df.select([col("d").dt().strftime("%F %z")]).unwrap_err(),
            "strftime(d, '%F %z')",
            "writes a time zone, but 'd' is Date32",
        ),
        (
            df.group_by([days_between(col("d"), col("n"))])
                .agg([col("id").count()])
                .unwrap_err(),
            "days_between(d, n)",
            "argument 'n' is Int32",
        ),
    ];
    for (err, context, message) in cases {
        match &err {
            Error::Type {
                context: c,
                message: m,
            } => {
                assert_eq!(c, context, "{err}");
                assert!(m.contains(message), "{err}");
            }
            other => panic!("wrong error: {other}"),
        }
    }
}

#[test]
fn an_unparsable_string_is_an_error_naming_it_its_row_and_its_partition_unless_lenient() {
    let s = session(2, None, None);
    let text = [
        "2024-02-29",
        "2023-02-29",
        "1969-12-31",
        "31/12/1969",
        "",
        "0001-01-01",
    ];
    let series = s
        .from_vec("s", text.iter().map(|t| t.to_string()).collect(), 3)
        .unwrap();
    let err = series
        .map(col("s").str().to_date("%Y-%m-%d"))
        .unwrap()
        .collect()
        .unwrap_err();
    match &err {
        Error::Task {
            partition, source, ..
        } => {
            assert_eq!(*partition, 0, "{err}");
            assert!(
                matches!(source.as_ref(), Error::Compute { context, .. } if context == "to_date(s, '%Y-%m-%d')"),
                "{err}"
            );
            let m = source.to_string();
            assert!(
                m.contains(
                    "'2023-02-29' (row 1 of the batch) does not match the format '%Y-%m-%d'"
                ),
                "{m}"
            );
        }
        other => panic!("wrong error: {other}"),
    }
    let lenient = series
        .map(col("s").str().to_date_or_null("%Y-%m-%d"))
        .unwrap()
        .collect()
        .unwrap();
    let got = cast(&lenient, &DataType::Utf8).unwrap();
    let got: Vec<_> = got.as_string::<i32>().iter().collect();
    assert_eq!(
        got,
        [
            Some("2024-02-29"),
            None,
            Some("1969-12-31"),
            None,
            None,
            Some("0001-01-01")
        ]
    );
}

fn edge_day() -> impl Strategy<Value = i32> {
    // Month ends (leap days among them), the days around 1970, and any day of ±4,000 years.
    prop_oneof![
        (-1000_i32..3000, 1_u32..=12).prop_map(|(y, m)| days_of(month_end(y, m))),
        -800_i32..800,
        -2_190_000_i32..740_000,
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn the_family_agrees_with_chrono_row_by_row(
        rows in proptest::collection::vec(
            (proptest::option::weighted(0.9, edge_day()), proptest::option::weighted(0.9, -1300_i32..1300)),
            0..60,
        ),
        nparts in 1_usize..=8,
        threads in 1_usize..=3,
    ) {
        let (days, counts): (Vec<_>, Vec<_>) = rows.into_iter().unzip();
        check_family(&days, &counts, nparts, threads);
    }
}

#[test]
fn date64_and_naive_timestamps_read_as_dates_do() {
    let s = session(1, None, None);
    let days: Vec<Option<i32>> = (0..200).map(day).collect();
    let ms: Vec<Option<i64>> = days
        .iter()
        .map(|d| d.map(|d| i64::from(d) * 86_400_000))
        .collect();
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("d32", Arc::new(Date32Array::from(days.clone()))),
        ("d64", Arc::new(Date64Array::from(ms.clone()))),
        ("ts", Arc::new(TimestampMillisecondArray::from(ms))),
    ];
    let batch = RecordBatch::try_from_iter(columns).unwrap();
    let df = s.from_batches(batch.schema(), vec![batch], 3).unwrap();
    let exprs = |c: &str| {
        let d = || col(c).dt();
        [
            d().year(),
            d().weekday(),
            d().ordinal_day(),
            d().truncate(CalendarUnit::Week).dt().strftime("%F"),
            d().add_months(-13).dt().strftime("%F"),
            days_between(lit(date(1970, 1, 1).unwrap()), col(c)),
        ]
    };
    let out = df
        .select(
            ["d32", "d64", "ts"]
                .iter()
                .flat_map(|c| exprs(c))
                .enumerate()
                .map(|(i, e)| e.alias(format!("f{i}"))),
        )
        .unwrap()
        .collect()
        .unwrap();
    for i in 0..6 {
        assert_eq!(texts(&out, i), texts(&out, i + 6), "Date64, function {i}");
        assert_eq!(
            texts(&out, i),
            texts(&out, i + 12),
            "Timestamp, function {i}"
        );
    }
}
