// SPDX-License-Identifier: GPL-2.0

//! A read-only file in `/proc` whose text a Rust function writes on each read.
//!
//! C header: [`include/linux/proc_fs.h`](srctree/include/linux/proc_fs.h).

use super::sys;
use core::{
    ffi::{
        c_int,
        c_void,
        CStr, //
    },
    marker::PhantomData,
    ptr::NonNull,
};
use kernel::{
    bindings,
    prelude::*,
    seq_file::SeqFile, //
};

/// What a [`ProcFile`] shows.
pub(crate) trait ProcShow {
    /// Writes the whole text of the file (called for each read from its start).
    fn show(m: &SeqFile);
}

/// `/proc/DIR/NAME`, shown by `T::show`; removed on drop.
///
/// # Invariants
///
/// `dir` is the `proc_dir_entry` of `/proc/DIR` made by `union_proc_create` with `show::<T>`
/// as the show function of its one file, not removed yet.
pub(crate) struct ProcFile<T: ProcShow> {
    dir: NonNull<c_void>,
    _show: PhantomData<T>,
}

// SAFETY: The entry is only removed (by `drop`), which procfs allows from any task.
unsafe impl<T: ProcShow> Send for ProcFile<T> {}
// SAFETY: A shared `ProcFile` gives no access to the entry.
unsafe impl<T: ProcShow> Sync for ProcFile<T> {}

impl<T: ProcShow> ProcFile<T> {
    /// Makes `/proc/DIR/NAME` (`dir` may have one level of parent, e.g. `fs/union`);
    /// `ENOMEM` if procfs cannot (also when the name exists already).
    pub(crate) fn new(dir: &'static CStr, name: &'static CStr) -> Result<Self> {
        // SAFETY: Both names are NUL-terminated and static (procfs keeps pointers to
        // neither: it copies names); `show::<T>` has the signature of a seq_file show
        // function and stays valid while the entry exists (it is module code, and the
        // entry is removed in `drop` before the module goes).
        let d = unsafe {
            sys::union_proc_create(dir.as_char_ptr(), name.as_char_ptr(), Some(show::<T>))
        };
        let dir = NonNull::new(d).ok_or(ENOMEM)?;
        // INVARIANT: Made just now with `show::<T>`.
        Ok(Self {
            dir,
            _show: PhantomData,
        })
    }
}

impl<T: ProcShow> Drop for ProcFile<T> {
    fn drop(&mut self) {
        // SAFETY: The entry is ours and not removed yet (type invariant); removing it waits
        // for reads running `show::<T>`, so none runs once this returns.
        unsafe { sys::union_proc_remove(self.dir.as_ptr()) };
    }
}

/// # Safety
///
/// Called by `seq_read` of a [`ProcFile<T>`]'s file with its seq_file, which the calling
/// task owns for the call.
unsafe extern "C" fn show<T: ProcShow>(m: *mut bindings::seq_file, _v: *mut c_void) -> c_int {
    // SAFETY: `m` is valid and used by this task alone for the call, which the returned
    // reference does not outlive.
    T::show(unsafe { SeqFile::from_raw(m) });
    0
}
