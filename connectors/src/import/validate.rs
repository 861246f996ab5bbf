//! Row validation against the catalog: a row's raw values become the typed
//! parameters of one `UNWIND` row, or a reason the row is rejected.
//!
//! Checks: required (non-null) fields present; `Int`, `Boolean`, enum values
//! and `Date`s in the mapping's formats; and the structure the catalog's
//! `@segment`s declare — fixed length, digit segments, date segments, and a
//! check character (ISO 7064 MOD 11-2, as GB 11643 ID numbers carry). Reasons
//! never repeat the rejected value (it may be sensitive); they name the column,
//! the field and what is wrong.

use chrono::NaiveDate;
use mandate_schema::{Field, ScalarKind, SegmentKind};
use serde_json::{Map, Value};

use super::mapping::{Column, Plan};

/// A value as a reader found it.
#[derive(Debug, Clone, PartialEq)]
pub enum RawValue {
    /// Text (CSV cells, JSON strings, xlsx text).
    Text(String),
    /// A number, written canonically (an integer without `.0`).
    Number(String),
    /// A boolean (JSON, xlsx).
    Bool(bool),
    /// A calendar date (an xlsx date cell).
    Date(NaiveDate),
    /// A cell the reader could not take (an xlsx error cell, a JSON array).
    Invalid(String),
}

/// Converts one row (values in the plan's column order, `None` = empty) into
/// the statement's row parameters, `line` included.
///
/// # Errors
/// The reason the row is rejected.
pub fn convert(plan: &Plan, line: u64, values: Vec<Option<RawValue>>) -> Result<Value, String> {
    let mut row = Map::with_capacity(plan.columns.len() + 1);
    row.insert("line".into(), Value::from(line));
    for (column, value) in plan.columns.iter().zip(values) {
        let v = convert_value(column, value)
            .map_err(|why| format!("{} ({}): {why}", column.column, column.field.name))?;
        row.insert(column.field.name.clone(), v);
    }
    Ok(Value::Object(row))
}

fn convert_value(column: &Column, value: Option<RawValue>) -> Result<Value, String> {
    let field = &column.field;
    let value = match value {
        Some(RawValue::Text(t)) if t.trim().is_empty() => None,
        Some(RawValue::Text(t)) => {
            let t = t.trim();
            Some(match column.codes.get(t) {
                Some(code) => RawValue::Text(code.clone()),
                None => RawValue::Text(t.to_string()),
            })
        }
        Some(RawValue::Number(n)) => Some(match column.codes.get(&n) {
            Some(code) => RawValue::Text(code.clone()),
            None => RawValue::Number(n),
        }),
        other => other,
    };
    let Some(value) = value else {
        return if field.nullable {
            Ok(Value::Null)
        } else {
            Err("required, but empty".to_string())
        };
    };
    if let RawValue::Invalid(why) = value {
        return Err(why);
    }
    match &field.kind {
        ScalarKind::Id | ScalarKind::String => {
            let text = match value {
                RawValue::Text(t) | RawValue::Number(t) => t,
                RawValue::Bool(_) => return Err("expected text, found a boolean".into()),
                RawValue::Date(_) => return Err("expected text, found a date".into()),
                RawValue::Invalid(why) => return Err(why),
            };
            let text = check_structure(field, text)?;
            Ok(Value::String(text))
        }
        ScalarKind::Int => {
            let text = match value {
                RawValue::Text(t) | RawValue::Number(t) => t,
                _ => return Err("expected an integer".into()),
            };
            text.parse::<i64>()
                .map(Value::from)
                .map_err(|_| "expected an integer".to_string())
        }
        ScalarKind::Boolean => match value {
            RawValue::Bool(b) => Ok(Value::Bool(b)),
            RawValue::Text(t) | RawValue::Number(t) => match t.to_ascii_lowercase().as_str() {
                "true" => Ok(Value::Bool(true)),
                "false" => Ok(Value::Bool(false)),
                _ => Err("expected true or false (add a [codes] table for other spellings)".into()),
            },
            _ => Err("expected true or false".into()),
        },
        ScalarKind::Date => match value {
            RawValue::Date(d) => Ok(Value::String(d.format("%Y-%m-%d").to_string())),
            RawValue::Text(t) => column
                .formats
                .iter()
                .find_map(|f| NaiveDate::parse_from_str(&t, f).ok())
                .map(|d| Value::String(d.format("%Y-%m-%d").to_string()))
                .ok_or_else(|| format!("not a date in the formats {}", column.formats.join(" | "))),
            _ => Err(format!(
                "not a date in the formats {}",
                column.formats.join(" | ")
            )),
        },
        ScalarKind::Enum(name) => match value {
            RawValue::Text(t) | RawValue::Number(t) if column.enum_values.contains(&t) => {
                Ok(Value::String(t))
            }
            _ => Err(format!(
                "not a {name} value ({}); add a [codes] table to map the file's values",
                column.enum_values.join(", ")
            )),
        },
    }
}

/// Checks a text value against the field's `@segment`s; returns it with a
/// check character normalized to upper case (`x` → `X`).
fn check_structure(field: &Field, text: String) -> Result<String, String> {
    if field.segments.is_empty() {
        return Ok(text);
    }
    let mut chars: Vec<char> = text.chars().collect();
    if let Some(len) = field.fixed_length() {
        if chars.len() != len {
            return Err(format!("must be {len} characters, found {}", chars.len()));
        }
    }
    for segment in &field.segments {
        let from = segment.from.saturating_sub(1);
        let to = segment.to.unwrap_or(chars.len()).min(chars.len());
        if from >= to {
            return Err(format!("has no {}", segment.name));
        }
        match segment.kind {
            SegmentKind::Chars
                if segment.values == 10 && !chars[from..to].iter().all(char::is_ascii_digit) =>
            {
                return Err(format!("the {} must be digits", segment.name));
            }
            SegmentKind::Date => {
                let s: String = chars[from..to].iter().collect();
                let ok = match s.len() {
                    8 => NaiveDate::parse_from_str(&s, "%Y%m%d").is_ok(),
                    10 => NaiveDate::parse_from_str(&s, "%Y-%m-%d").is_ok(),
                    _ => false,
                };
                if !ok {
                    return Err(format!("the {} is not a valid date", segment.name));
                }
            }
            SegmentKind::Check if segment.values == 11 && to - from == 1 => {
                chars[from] = chars[from].to_ascii_uppercase();
                let expected = mod11_2(&chars[..from]).ok_or_else(|| {
                    format!("the characters before the {} must be digits", segment.name)
                })?;
                if chars[from] != expected {
                    return Err(format!(
                        "the {} does not match (ISO 7064 MOD 11-2, GB 11643)",
                        segment.name
                    ));
                }
            }
            _ => {}
        }
    }
    Ok(chars.into_iter().collect())
}

/// The ISO 7064 MOD 11-2 check character of `digits` (GB 11643 uses it over an
/// ID number's first 17 digits): the digit at position i from the right (the
/// check character being position 1) weighs 2^(i-1) mod 11; the check value is
/// (12 − sum mod 11) mod 11, written `X` for 10. `None` unless all are digits.
pub fn mod11_2(digits: &[char]) -> Option<char> {
    let mut sum = 0u32;
    let mut weight = 2u32; // position 2 from the right
    for c in digits.iter().rev() {
        sum += c.to_digit(10)? * weight;
        weight = weight * 2 % 11;
    }
    let check = (12 - sum % 11) % 11;
    Some(if check == 10 {
        'X'
    } else {
        char::from_digit(check, 10)?
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::mapping::{Mapping, Plan};

    fn check(s: &str) -> Option<char> {
        mod11_2(&s.chars().collect::<Vec<_>>())
    }

    #[test]
    fn mod11_2_matches_known_id_numbers() {
        // GB 11643's own example and a reference computation with the standard weights.
        assert_eq!(check("11010519491231002"), Some('X'));
        assert_eq!(check("44052418800101001"), Some('4'));
        assert_eq!(check("1101051949123100a"), None);
        let weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
        let map = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];
        let mut x: u64 = 12345;
        for _ in 0..1000 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let s = format!("{:017}", x % 100_000_000_000_000_000);
            let sum: u32 = s
                .chars()
                .zip(weights)
                .map(|(c, w)| c.to_digit(10).unwrap_or(0) * w)
                .sum();
            assert_eq!(check(&s), Some(map[(sum % 11) as usize]), "{s}");
        }
    }

    fn plan() -> Plan {
        let m = Mapping::parse(
            r#"type = "Resident"
key = "id"
[columns]
id = "id"
idNumber = "idNumber"
birthDate = "birthDate"
sex = "sex"
name = "name"
hukouType = "hukouType"
ethnicity = "ethnicity"
[dates]
birthDate = ["%Y-%m-%d", "%Y年%m月%d日"]
[codes.sex]
"男" = "MALE"
"女" = "FEMALE"
"#,
        )
        .unwrap_or_else(|e| unreachable!("{e}"));
        let catalog = mandate_schema::hub_catalog().unwrap_or_else(|e| unreachable!("{e}"));
        Plan::compile(&m, &catalog, "PUBLIC_SECURITY").unwrap_or_else(|e| unreachable!("{e}"))
    }

    fn row(values: [&str; 5]) -> Result<Value, String> {
        // By column name; every row is a local Han resident.
        let p = plan();
        let by_name = |n: &str| match n {
            "birthDate" => values[0],
            "id" => values[1],
            "idNumber" => values[2],
            "name" => values[3],
            "hukouType" => "LOCAL",
            "ethnicity" => "汉族",
            _ => values[4],
        };
        let raw = p
            .columns
            .iter()
            .map(|c| Some(RawValue::Text(by_name(&c.column).to_string())))
            .collect();
        convert(&p, 7, raw)
    }

    #[test]
    fn a_good_row_converts_with_codes_and_dates() {
        let r = row(["1949年12月31日", "R1", "11010519491231002x", "王芳", "女"]);
        let r = r.unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(r["birthDate"], "1949-12-31");
        assert_eq!(r["idNumber"], "11010519491231002X");
        assert_eq!(r["sex"], "FEMALE");
        assert_eq!(r["line"], 7);
    }

    #[test]
    fn bad_rows_are_rejected_with_a_reason_that_hides_the_value() {
        let cases = [
            (
                ["1949-12-31", "R1", "110105194912310021", "王芳", "女"],
                "check character does not match",
            ),
            (
                ["1949-12-31", "R1", "1101051949123100", "王芳", "女"],
                "must be 18 characters",
            ),
            (
                ["1949-12-31", "R1", "11010519491331002X", "王芳", "女"],
                "birth date is not a valid date",
            ),
            (
                ["1949-12-31", "R1", "1101051949123100AX", "王芳", "女"],
                "must be digits",
            ),
            (
                ["31/12/1949", "R1", "11010519491231002X", "王芳", "女"],
                "not a date in the formats",
            ),
            (
                ["1949-12-31", "R1", "11010519491231002X", "王芳", "未知"],
                "not a Sex value",
            ),
            (
                ["1949-12-31", "", "11010519491231002X", "王芳", "女"],
                "required, but empty",
            ),
        ];
        for (values, expected) in cases {
            let e = row(values).err().unwrap_or_default();
            assert!(e.contains(expected), "{values:?}: {e}");
            for v in values {
                if v.len() > 4 {
                    assert!(!e.contains(v), "reason repeats the value: {e}");
                }
            }
        }
    }
}
