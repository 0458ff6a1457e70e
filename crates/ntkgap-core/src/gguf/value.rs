//! GGUF metadata values: the twelve scalar/string value types and (nested) arrays.
//!
//! Arrays are stored typed (`Vec<u32>`, `Vec<String>`, …), never as a vector of boxed values, so
//! the memory an array takes stays proportional to the bytes it occupies in the file.

/// The value-type ids of the GGUF format (`enum gguf_type`).
pub(crate) mod type_id {
    pub const U8: u32 = 0;
    pub const I8: u32 = 1;
    pub const U16: u32 = 2;
    pub const I16: u32 = 3;
    pub const U32: u32 = 4;
    pub const I32: u32 = 5;
    pub const F32: u32 = 6;
    pub const BOOL: u32 = 7;
    pub const STRING: u32 = 8;
    pub const ARRAY: u32 = 9;
    pub const U64: u32 = 10;
    pub const I64: u32 = 11;
    pub const F64: u32 = 12;
}

/// One metadata value.
#[derive(Debug, Clone, PartialEq)]
pub enum MetadataValue {
    /// `UINT8`.
    U8(u8),
    /// `INT8`.
    I8(i8),
    /// `UINT16`.
    U16(u16),
    /// `INT16`.
    I16(i16),
    /// `UINT32`.
    U32(u32),
    /// `INT32`.
    I32(i32),
    /// `FLOAT32`.
    F32(f32),
    /// `BOOL` (one byte, 0 or 1).
    Bool(bool),
    /// `STRING` (UTF-8).
    Str(String),
    /// `ARRAY`.
    Array(MetadataArray),
    /// `UINT64`.
    U64(u64),
    /// `INT64`.
    I64(i64),
    /// `FLOAT64`.
    F64(f64),
}

/// A metadata array, typed by its element type.
#[derive(Debug, Clone, PartialEq)]
pub enum MetadataArray {
    /// `UINT8` elements.
    U8(Vec<u8>),
    /// `INT8` elements.
    I8(Vec<i8>),
    /// `UINT16` elements.
    U16(Vec<u16>),
    /// `INT16` elements.
    I16(Vec<i16>),
    /// `UINT32` elements.
    U32(Vec<u32>),
    /// `INT32` elements.
    I32(Vec<i32>),
    /// `FLOAT32` elements.
    F32(Vec<f32>),
    /// `BOOL` elements.
    Bool(Vec<bool>),
    /// `STRING` elements.
    Str(Vec<String>),
    /// `ARRAY` elements (arrays of arrays).
    Array(Vec<MetadataArray>),
    /// `UINT64` elements.
    U64(Vec<u64>),
    /// `INT64` elements.
    I64(Vec<i64>),
    /// `FLOAT64` elements.
    F64(Vec<f64>),
}

impl MetadataValue {
    /// The GGUF type name (`u32`, `string`, `array of string`, …), for messages.
    pub fn type_name(&self) -> String {
        match self {
            MetadataValue::U8(_) => "u8".into(),
            MetadataValue::I8(_) => "i8".into(),
            MetadataValue::U16(_) => "u16".into(),
            MetadataValue::I16(_) => "i16".into(),
            MetadataValue::U32(_) => "u32".into(),
            MetadataValue::I32(_) => "i32".into(),
            MetadataValue::F32(_) => "f32".into(),
            MetadataValue::Bool(_) => "bool".into(),
            MetadataValue::Str(_) => "string".into(),
            MetadataValue::Array(a) => format!("array of {}", a.element_type_name()),
            MetadataValue::U64(_) => "u64".into(),
            MetadataValue::I64(_) => "i64".into(),
            MetadataValue::F64(_) => "f64".into(),
        }
    }

    /// The value as an integer when it is one of the eight integer types.
    pub fn as_i128(&self) -> Option<i128> {
        Some(match *self {
            MetadataValue::U8(v) => v.into(),
            MetadataValue::I8(v) => v.into(),
            MetadataValue::U16(v) => v.into(),
            MetadataValue::I16(v) => v.into(),
            MetadataValue::U32(v) => v.into(),
            MetadataValue::I32(v) => v.into(),
            MetadataValue::U64(v) => v.into(),
            MetadataValue::I64(v) => v.into(),
            _ => return None,
        })
    }

    /// The value as f64 when it is `f32` or `f64`.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            MetadataValue::F32(v) => Some(v.into()),
            MetadataValue::F64(v) => Some(v),
            _ => None,
        }
    }

    /// A JSON rendering (arrays in full), for reports and debugging.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::json;
        match self {
            MetadataValue::Str(s) => json!(s),
            MetadataValue::Bool(b) => json!(b),
            MetadataValue::Array(a) => a.to_json(),
            v => match (v.as_i128(), v.as_f64()) {
                (Some(i), _) => i64::try_from(i).map_or_else(|_| json!(i as u64), |i| json!(i)),
                (_, Some(f)) => json!(f),
                _ => serde_json::Value::Null,
            },
        }
    }
}

impl MetadataArray {
    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            MetadataArray::U8(v) => v.len(),
            MetadataArray::I8(v) => v.len(),
            MetadataArray::U16(v) => v.len(),
            MetadataArray::I16(v) => v.len(),
            MetadataArray::U32(v) => v.len(),
            MetadataArray::I32(v) => v.len(),
            MetadataArray::F32(v) => v.len(),
            MetadataArray::Bool(v) => v.len(),
            MetadataArray::Str(v) => v.len(),
            MetadataArray::Array(v) => v.len(),
            MetadataArray::U64(v) => v.len(),
            MetadataArray::I64(v) => v.len(),
            MetadataArray::F64(v) => v.len(),
        }
    }

    /// True when the array has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The element type name (`string`, `i32`, `array`), for messages.
    pub fn element_type_name(&self) -> &'static str {
        match self {
            MetadataArray::U8(_) => "u8",
            MetadataArray::I8(_) => "i8",
            MetadataArray::U16(_) => "u16",
            MetadataArray::I16(_) => "i16",
            MetadataArray::U32(_) => "u32",
            MetadataArray::I32(_) => "i32",
            MetadataArray::F32(_) => "f32",
            MetadataArray::Bool(_) => "bool",
            MetadataArray::Str(_) => "string",
            MetadataArray::Array(_) => "array",
            MetadataArray::U64(_) => "u64",
            MetadataArray::I64(_) => "i64",
            MetadataArray::F64(_) => "f64",
        }
    }

    /// The strings of a string array.
    pub fn as_strs(&self) -> Option<&[String]> {
        match self {
            MetadataArray::Str(v) => Some(v),
            _ => None,
        }
    }

    /// The elements of an integer array, widened to i128.
    pub fn to_ints(&self) -> Option<Vec<i128>> {
        fn widen<T: Copy + Into<i128>>(v: &[T]) -> Vec<i128> {
            v.iter().map(|&x| x.into()).collect()
        }
        Some(match self {
            MetadataArray::U8(v) => widen(v),
            MetadataArray::I8(v) => widen(v),
            MetadataArray::U16(v) => widen(v),
            MetadataArray::I16(v) => widen(v),
            MetadataArray::U32(v) => widen(v),
            MetadataArray::I32(v) => widen(v),
            MetadataArray::U64(v) => widen(v),
            MetadataArray::I64(v) => widen(v),
            _ => return None,
        })
    }

    /// A JSON rendering of every element.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::json;
        match self {
            MetadataArray::U8(v) => json!(v),
            MetadataArray::I8(v) => json!(v),
            MetadataArray::U16(v) => json!(v),
            MetadataArray::I16(v) => json!(v),
            MetadataArray::U32(v) => json!(v),
            MetadataArray::I32(v) => json!(v),
            MetadataArray::F32(v) => json!(v),
            MetadataArray::Bool(v) => json!(v),
            MetadataArray::Str(v) => json!(v),
            MetadataArray::Array(v) => serde_json::Value::Array(v.iter().map(MetadataArray::to_json).collect()),
            MetadataArray::U64(v) => json!(v),
            MetadataArray::I64(v) => json!(v),
            MetadataArray::F64(v) => json!(v),
        }
    }
}
