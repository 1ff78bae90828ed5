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

/// The elements of the integer list `list` (NIL is empty).
///
/// # Safety
/// `list` is NIL or a valid integer `List`.
pub(super) unsafe fn ints(list: *mut pg_sys::List) -> Vec<i32> {
    unsafe {
        let len = if list.is_null() { 0 } else { (*list).length as usize };
        (0..len).map(|i| (*(*list).elements.add(i)).int_value).collect()
    }
}

/// A new integer list of `values`, in the current memory context.
pub(super) fn int_list(values: &[i32]) -> *mut pg_sys::List {
    // SAFETY: lappend_int copies each value into a list it allocates.
    values.iter().fold(std::ptr::null_mut(), |list, &v| unsafe { pg_sys::lappend_int(list, v) })
}

/// A new list of the pointers `nodes`, in the current memory context.
pub(super) fn node_list(nodes: &[*mut pg_sys::Node]) -> *mut pg_sys::List {
    // SAFETY: lappend stores each pointer in a list it allocates.
    nodes.iter().fold(std::ptr::null_mut(), |list, &node| unsafe { pg_sys::lappend(list, node.cast()) })
}
