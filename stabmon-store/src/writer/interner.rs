//! A row group's string dictionaries.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::types::Int32Type;
use arrow_array::{ArrayRef, DictionaryArray, Int32Array, StringArray};

/// Interns strings of one row group: a column's dictionary. Each string is held once, shared by the map and the
/// list (a real hour in which ~1,700 processes passed through the lists held 766 distinct command lines).
#[derive(Default)]
pub(super) struct Interner {
    pub(super) ids: HashMap<Arc<str>, i32>,
    pub(super) values: Vec<Arc<str>>,
    /// The strings' bytes.
    pub(super) bytes: usize,
}

impl Interner {
    pub(super) fn id(&mut self, s: &str) -> i32 {
        if let Some(&id) = self.ids.get(s) {
            return id;
        }
        let id = i32::try_from(self.values.len()).unwrap_or(i32::MAX);
        let s: Arc<str> = Arc::from(s);
        self.bytes += s.len();
        self.ids.insert(Arc::clone(&s), id);
        self.values.push(s);
        id
    }

    pub(super) fn opt(&mut self, s: Option<&str>) -> Option<i32> {
        s.map(|s| self.id(s))
    }

    pub(super) fn array(
        &mut self,
        keys: Vec<Option<i32>>,
    ) -> Result<ArrayRef, arrow_schema::ArrowError> {
        self.ids = HashMap::new();
        self.bytes = 0;
        let values = StringArray::from_iter_values(std::mem::take(&mut self.values).iter());
        let dict = DictionaryArray::<Int32Type>::try_new(Int32Array::from(keys), Arc::new(values))?;
        Ok(Arc::new(dict))
    }
}
