//! Walking Postgres `List`s of nodes.

use pgrx::pg_sys;

/// The pointer elements of `list` (NIL is empty).
///
/// # Safety
/// `list` is NIL or a valid pointer `List` that outlives the iterator.
pub(super) unsafe fn nodes(list: *mut pg_sys::List) -> impl Iterator<Item = *mut pg_sys::Node> {
    unsafe {
        let len = if list.is_null() { 0 } else { (*list).length as usize };
        (0..len).map(move |i| (*(*list).elements.add(i)).ptr_value as *mut pg_sys::Node)
    }
}
