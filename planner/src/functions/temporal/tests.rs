//! The family's types, checks and names, without the engine.

use arrow::datatypes::{Field, Schema};

use super::*;
use crate::expr::{col, null};
use crate::scalar::date;

fn schema() -> Schema {
    use DataType::*;
    let ts = |unit, tz: Option<&str>| Timestamp(unit, tz.map(Into::into));
    Schema::new(vec![
        Field::new("d32", Date32, true),
        Field::new("d64", Date64, true),
        Field::new("ts", ts(TimeUnit::Second, None), true),
        Field::new(
            "paris",
            ts(TimeUnit::Nanosecond, Some("Europe/Paris")),
            true,
        ),
        Field::new("plus2", ts(TimeUnit::Millisecond, Some("+02:00")), true),
        Field::new(
            "mars",
            ts(TimeUnit::Microsecond, Some("Mars/Olympus")),
            true,
        ),
        Field::new("n", Int16, true),
        Field::new("f", Float64, true),
        Field::new("s", Utf8View, true),
        Field::new(
            "dict",
            Dictionary(Box::new(Int32), Box::new(LargeUtf8)),
            true,
        ),
    ])
}

fn type_of(e: &Expr) -> Result<DataType> {
    e.data_type(&schema())
}

#[test]
fn types_follow_the_table() {
    use DataType::*;
    let s = schema();
    for c in ["d32", "d64", "ts", "paris", "plus2"] {
        let t = s.field_with_name(c).unwrap().data_type().clone();
        let dt = || col(c).dt();
        let parts = [
            dt().year(),
            dt().quarter(),
            dt().month(),
            dt().day(),
            dt().weekday(),
            dt().ordinal_day(),
            dt().hour(),
            dt().minute(),
            dt().second(),
        ];
        for e in parts {
            assert_eq!(type_of(&e).unwrap(), Int32, "{e}");
        }
        for unit in CalendarUnit::ALL {
            assert_eq!(type_of(&dt().truncate(unit)).unwrap(), t, "{c} {unit}");
        }
        assert_eq!(type_of(&dt().add_days(col("n"))).unwrap(), t);
        assert_eq!(type_of(&dt().add_months(3)).unwrap(), t);
        assert_eq!(type_of(&dt().add_years(-2i64)).unwrap(), t);
        assert_eq!(type_of(&dt().strftime("%Y")).unwrap(), Utf8View);
        assert_eq!(type_of(&days_between(col(c), col("d32"))).unwrap(), Int64);
    }
    assert_eq!(
        type_of(&col("paris").dt().strftime("%H%z")).unwrap(),
        Utf8View
    );
    for c in ["s", "dict"] {
        assert_eq!(type_of(&col(c).str().to_date("%Y")).unwrap(), Date32);
        let naive = Timestamp(TimeUnit::Microsecond, None);
        assert_eq!(type_of(&col(c).str().to_datetime("%Y")).unwrap(), naive);
        let utc = Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
        assert_eq!(type_of(&col(c).str().to_datetime("%+")).unwrap(), utc);
    }
    // Nulls: a null argument types as the function's result.
    let d = lit(date(2024, 2, 29).unwrap());
    assert_eq!(type_of(&null(&Null).dt().year()).unwrap(), Int32);
    assert_eq!(
        type_of(&d.clone().dt().add_days(null(&Null))).unwrap(),
        Date32
    );
    assert_eq!(type_of(&null(&Null).str().to_date("%Y")).unwrap(), Date32);
    // Nullable: only the lenient parsers add nulls of their own.
    let field = |e: Expr| e.to_field(&Schema::empty()).unwrap().is_nullable();
    assert!(!field(d.clone().dt().year()));
    assert!(!field(lit("x").str().to_date("%Y")));
    assert!(field(lit("x").str().to_date_or_null("%Y")));
}

#[test]
fn errors_name_the_function_the_argument_and_its_type() {
    let message = |e: Expr| match type_of(&e) {
        Err(Error::Type { context, message }) => {
            assert_eq!(context, e.to_string());
            message
        }
        other => panic!("{e}: {other:?}"),
    };
    let m = message(col("n").dt().year());
    assert_eq!(
        m,
        "year takes a date or timestamp (Date32, Date64 or Timestamp) but its argument 'n' \
         is Int16"
    );
    assert!(message(col("s").dt().truncate(CalendarUnit::Day)).contains("'s' is Utf8View"));
    let m = message(col("d32").dt().add_months(col("f")));
    assert!(
        m.contains("add_months takes a whole number of months"),
        "{m}"
    );
    assert!(m.contains("'f' is Float64"), "{m}");
    assert!(message(days_between(col("d32"), col("s"))).contains("'s' is Utf8View"));
    let m = message(col("d32").str().to_date("%Y"));
    assert!(m.contains("to_date takes a string"), "{m}");
    assert!(m.contains("'d32' is Date32"), "{m}");
    let m = message(col("s").str().to_datetime("%Y-%Q"));
    assert!(m.contains("invalid format '%Y-%Q'"), "{m}");
    let m = message(col("d32").dt().strftime("%"));
    assert!(m.contains("strftime has an invalid format"), "{m}");
    let m = message(col("ts").dt().strftime("%H %Z"));
    assert!(m.contains("writes a time zone"), "{m}");
    let m = message(col("mars").dt().hour());
    assert!(m.contains("hour cannot read 'mars'"), "{m}");
    assert!(m.contains("Mars/Olympus"), "{m}");
    let format = Expr::call(TemporalFunction::Strftime, vec![col("d32"), col("s")]);
    assert!(message(format).contains("takes its format as a literal string"));
    let arity = Expr::call(TemporalFunction::AddDays, vec![col("d32")]);
    assert!(message(arity).contains("add_days takes 2 arguments, got 1"));
}

#[test]
fn names_units_and_display() {
    assert_eq!(
        col("t").dt().truncate(CalendarUnit::Quarter).to_string(),
        "truncate(t, 'quarter')"
    );
    for unit in CalendarUnit::ALL {
        assert_eq!(unit.name().parse::<CalendarUnit>().unwrap(), unit);
    }
    let e = "days".parse::<CalendarUnit>().unwrap_err();
    assert!(e.to_string().contains("year, quarter, month, week"), "{e}");
    assert_eq!(col("s").str().to_date("%Y").to_string(), "to_date(s, '%Y')");
    assert_eq!(col("d").dt().weekday().output_name(), "d");
    let items = format_items("%Y-%m-%d %H:%M:%S%.f %z").unwrap();
    assert!(items.iter().any(is_time) && items.iter().any(is_offset));
    assert!(!format_items("%d/%m/%Y").unwrap().iter().any(is_time));
}
