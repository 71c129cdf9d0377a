// SPDX-License-Identifier: GPL-2.0

//! The `file_operations` of regular files, built from the [`FileOperations`] trait: files
//! backed by a real file on another filesystem (`fs/backing-file.c`, as overlayfs'
//! `ovl_file_operations`): reads, writes, splice and mmap go to the real file with the
//! filesystem's credentials; the trait says which real file and what follows a change.
//!
//! C headers: [`include/linux/fs.h`](srctree/include/linux/fs.h),
//! [`include/linux/backing-file.h`](srctree/include/linux/backing-file.h).

use super::{
    fs_context::FileSystem,
    sys,
    Dentry,
    Inode,
    RangeOp,
    REMAP_FILE_ADVISORY,
    REMAP_FILE_DEDUP, //
};
use core::{
    ffi::{
        c_int,
        c_uint, //
    },
    marker::PhantomData,
    mem::MaybeUninit, //
};
use kernel::{
    bindings,
    cred::Credential,
    error::from_result,
    fs::File,
    prelude::*, //
};

/// Operations on open regular files backed by real files.
#[vtable]
pub(crate) trait FileOperations: Sized + 'static {
    /// The filesystem of the files.
    type Fs: FileSystem;
    /// What an open file keeps (`private_data`): its real file(s).
    type Data: Send + Sync;

    /// `open`: the real file of `file`, being opened at `dentry` of `inode`.
    fn open(inode: &Inode, dentry: &Dentry, file: &File) -> Result<KBox<Self::Data>>;

    /// The real file opened with the file: writes go to it.
    fn opened_file(data: &Self::Data) -> &File;

    /// The real file reads, splice reads, seeks, mappings and advice of the open `file` go
    /// to now.
    fn read_file<'a>(data: &'a Self::Data, file: &File) -> Result<&'a File>;

    /// The credentials the real-layer I/O of `inode`'s files runs with.
    fn creds(inode: &Inode) -> &Credential;

    /// Called after a read or write of `inode` reached the real file, and before a write
    /// (with the inode locked): the inode's attributes follow the real object's.
    fn sync_attr(inode: &Inode);

    /// `fsync`/`fdatasync` (`datasync`) of the byte range `start..=end` of the open `file`.
    fn fsync(_data: &Self::Data, _file: &File, _start: i64, _end: i64, _datasync: bool) -> Result {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// `fallocate`.
    fn fallocate(_data: &Self::Data, _file: &File, _mode: i32, _offset: i64, _len: i64) -> Result {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// `copy_file_range`, `FICLONE*`, `FIDEDUPERANGE` between two open files of ours.
    fn range_op(
        _src: RangeEnd<'_, Self::Data>,
        _dst: RangeEnd<'_, Self::Data>,
        _len: u64,
        _op: RangeOp,
    ) -> Result<i64> {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }
}

/// One side of a [`FileOperations::range_op`]: an open file, its data and the position.
pub(crate) struct RangeEnd<'a, D> {
    /// The open file's data.
    pub(crate) data: &'a D,
    /// The open file.
    pub(crate) file: &'a File,
    /// The position in it.
    pub(crate) pos: i64,
}

/// The regular-file `file_operations` of `T`.
pub(crate) struct FileVtable<T: FileOperations>(PhantomData<T>);

impl<T: FileOperations> FileVtable<T> {
    const OPS: bindings::file_operations = bindings::file_operations {
        open: Some(open::<T>),
        release: Some(release::<T>),
        read_iter: Some(read_iter::<T>),
        write_iter: Some(write_iter::<T>),
        splice_read: Some(splice_read::<T>),
        splice_write: Some(splice_write::<T>),
        fsync: if T::HAS_FSYNC { Some(fsync::<T>) } else { None },
        fallocate: if T::HAS_FALLOCATE {
            Some(fallocate::<T>)
        } else {
            None
        },
        mmap: Some(mmap::<T>),
        llseek: Some(llseek::<T>),
        fadvise: Some(fadvise::<T>),
        copy_file_range: if T::HAS_RANGE_OP {
            Some(copy_file_range::<T>)
        } else {
            None
        },
        remap_file_range: if T::HAS_RANGE_OP {
            Some(remap_file_range::<T>)
        } else {
            None
        },
        // SAFETY: All-zero is a valid `file_operations` (all callbacks `None`).
        ..unsafe { MaybeUninit::zeroed().assume_init() }
    };

    /// The static table.
    pub(crate) const fn build() -> &'static bindings::file_operations {
        &Self::OPS
    }
}

/// The data of an open file of ours.
///
/// # Safety
///
/// `file` must be an open regular file of `T` (opened by `open::<T>`, not yet released)
/// that stays open for `'a`.
unsafe fn data_of<'a, T: FileOperations>(file: *mut bindings::file) -> &'a T::Data {
    // SAFETY: `private_data` holds the box set by `open::<T>` (or the `tmpfile` helper)
    // until `release::<T>`, which cannot run while the file is open.
    unsafe { &*(sys::union_file_private(file).cast::<T::Data>()) }
}

/// The inode of an open file.
///
/// # Safety
///
/// `file` must be an open file that stays open for `'a` (it holds its inode).
unsafe fn inode_of<'a>(file: *mut bindings::file) -> &'a Inode {
    // SAFETY: An open file holds a reference to its inode (promised by the caller).
    unsafe { Inode::from_raw(sys::union_file_inode(file)) }
}

/// # Safety
///
/// Called by the VFS (`do_dentry_open`) for a regular file of ours with the file being
/// opened, whose path it holds and whose `private_data` is ours until `release`.
unsafe extern "C" fn open<T: FileOperations>(
    inode: *mut bindings::inode,
    file: *mut bindings::file,
) -> c_int {
    from_result(|| {
        // SAFETY: `do_dentry_open` holds the inode and the file's path (and so its dentry) for
        // the call.
        let (inode, f, d) = unsafe {
            (
                Inode::from_raw(inode),
                File::from_raw_file(file),
                Dentry::from_raw((*file).__bindgen_anon_1.f_path.dentry),
            )
        };
        let data = T::open(inode, d, f)?;
        // SAFETY: Both files are valid; the file is still being opened, so its flags are
        // ours to set.
        unsafe { sys::union_file_inherit_odirect(file, T::opened_file(&data).as_ptr()) };
        // SAFETY: `file` is being opened and its `private_data` is ours; `release::<T>`
        // frees it with `drop_file_private::<T::Data>`.
        unsafe { super::set_file_private(file, data) };
        Ok(0)
    })
}

/// # Safety
///
/// Called once by the VFS (`__fput`) when the last reference to an open file of ours goes.
unsafe extern "C" fn release<T: FileOperations>(
    _inode: *mut bindings::inode,
    file: *mut bindings::file,
) -> c_int {
    // SAFETY: `private_data` is null or the `T::Data` box set by `open::<T>` (or the
    // `tmpfile` helper); nobody uses the file any more.
    unsafe { super::drop_file_private::<T::Data>(file) };
    0
}

/// The backing-file context of `file`: real-layer I/O runs with the filesystem's
/// credentials, and the inode's attributes follow the real file's after it.
///
/// # Safety
///
/// `file` must be an open file of ours that stays open while the context is used.
unsafe fn backing_ctx<T: FileOperations>(file: *mut bindings::file) -> sys::backing_file_ctx {
    // SAFETY: `file` is open while the context is used (the caller's promise), and it
    // holds its inode.
    let inode = unsafe { inode_of(file) };
    sys::backing_file_ctx {
        cred: T::creds(inode).as_ptr(),
        accessed: Some(accessed::<T>),
        end_write: Some(end_write::<T>),
    }
}

/// # Safety
///
/// Called by the backing-file helpers with an open file of ours after a read.
unsafe extern "C" fn accessed<T: FileOperations>(file: *mut bindings::file) {
    // SAFETY: The helpers run inside a VFS call on the open file, which holds it.
    T::sync_attr(unsafe { inode_of(file) });
}

/// # Safety
///
/// Called by the backing-file helpers after a write to an open file of ours.
unsafe extern "C" fn end_write<T: FileOperations>(iocb: *mut bindings::kiocb, _ret: isize) {
    // SAFETY: The kiocb of the running write holds an open file of ours.
    T::sync_attr(unsafe { inode_of((*iocb).ki_filp) });
}

/// The real file reads, seeks, mappings and advice of the open `file` go to now
/// ([`FileOperations::read_file`]).
///
/// # Safety
///
/// `file` must be an open file of ours, held for the call; the real file returned stays
/// open while `file` is.
unsafe fn read_real<T: FileOperations>(file: *mut bindings::file) -> Result<*mut bindings::file> {
    // SAFETY: `file` is an open file of ours (the caller's promise); its data lives while it
    // is open.
    let (data, f) = unsafe { (data_of::<T>(file), File::from_raw_file(file)) };
    Ok(T::read_file(data, f)?.as_ptr())
}

/// Copies the status flags `fcntl(F_SETFL)` set on our `file` (`O_APPEND`, `O_NONBLOCK`,
/// `O_DIRECT`, `O_NOATIME`) to its real file `real`, before an operation on it, as
/// overlayfs does on every path to its real file.
///
/// # Safety
///
/// `real` and `file` must be open files, held for the call.
pub(super) unsafe fn sync_flags(real: *mut bindings::file, file: *const bindings::file) -> Result {
    // SAFETY: Both files are open (the caller's promise); the helper changes the real
    // file's flags under its `f_lock`.
    kernel::error::to_result(unsafe { sys::union_sync_setfl(real, file) })
}

/// # Safety
///
/// Called by the VFS (`vfs_read`, `vfs_iter_read`, ...) with a kiocb whose `ki_filp` is an
/// open file of ours, held for the call, and the caller's iterator.
unsafe extern "C" fn read_iter<T: FileOperations>(
    iocb: *mut bindings::kiocb,
    iter: *mut bindings::iov_iter,
) -> isize {
    // SAFETY: The VFS holds `ki_filp`, an open file of ours, for the call; the real file
    // stays open while it is, which covers the whole call.
    let (file, real) = unsafe {
        let file = (*iocb).ki_filp;
        match read_real::<T>(file).and_then(|real| sync_flags(real, file).map(|()| real)) {
            Ok(real) => (file, real),
            Err(e) => return e.to_errno() as isize,
        }
    };
    // SAFETY: Both files are open for the call; the helper reads the real file with the
    // context's credentials at the kiocb's position, as `ovl_read_iter`.
    unsafe {
        let mut ctx = backing_ctx::<T>(file);
        sys::backing_file_read_iter(real, iter, iocb, (*iocb).ki_flags, &mut ctx)
    }
}

/// # Safety
///
/// Called by the VFS (`vfs_write`, `vfs_iter_write`, ...) with a kiocb whose `ki_filp` is
/// an open file of ours (opened for write), held for the call, and the caller's iterator.
unsafe extern "C" fn write_iter<T: FileOperations>(
    iocb: *mut bindings::kiocb,
    iter: *mut bindings::iov_iter,
) -> isize {
    // SAFETY: The VFS holds `ki_filp`, an open file of ours, for the call, and the file holds
    // its inode.
    let (file, inode) = unsafe {
        let file = (*iocb).ki_filp;
        (file, inode_of(file))
    };
    // Under the inode's lock, as overlayfs writes: `backing_file_write_iter` removes the
    // setuid bits of our file (`notify_change` needs the lock), by the mode of the real
    // file.
    let _lock = inode.lock();
    T::sync_attr(inode);
    // SAFETY: The file is open for the call; the data and the real file it holds live
    // while it is.
    let real = unsafe { T::opened_file(data_of::<T>(file)).as_ptr() };
    // SAFETY: Both files are open for the call; `fcntl(F_SETFL)` changed our file's flags
    // only, so they are copied to the real file first; the helper writes the real file
    // with the context's credentials, as `ovl_write_iter`.
    unsafe {
        if let Err(e) = sync_flags(real, file) {
            return e.to_errno() as isize;
        }
        let mut ctx = backing_ctx::<T>(file);
        sys::backing_file_write_iter(real, iter, iocb, (*iocb).ki_flags, &mut ctx)
    }
}

/// Runs a backing-file splice helper on a kiocb carrying `*ppos` (as overlayfs'
/// `ovl_splice_read` does), then stores the new position back.
///
/// # Safety
///
/// `file` must be an open file of ours and `ppos` valid for reads and writes, both for the
/// call.
unsafe fn splice_at<T: FileOperations>(
    file: *mut bindings::file,
    ppos: *mut i64,
    op: impl FnOnce(*mut bindings::kiocb, &mut sys::backing_file_ctx) -> isize,
) -> isize {
    // SAFETY: `file` is open for the call (promised by the caller).
    let mut ctx = unsafe { backing_ctx::<T>(file) };
    // SAFETY: All-zero is a valid kiocb; we set the file and position.
    let mut iocb = unsafe { MaybeUninit::<bindings::kiocb>::zeroed().assume_init() };
    iocb.ki_filp = file;
    // SAFETY: `ppos` is valid (promised by the caller).
    iocb.ki_pos = unsafe { *ppos };
    let r = op(&mut iocb, &mut ctx);
    // SAFETY: `ppos` is valid for writes (promised by the caller).
    unsafe { *ppos = iocb.ki_pos };
    r
}

/// # Safety
///
/// Called by the VFS (`do_splice_read`) with an open file of ours, held for the call, the
/// caller's position and pipe.
unsafe extern "C" fn splice_read<T: FileOperations>(
    file: *mut bindings::file,
    ppos: *mut i64,
    pipe: *mut bindings::pipe_inode_info,
    len: usize,
    flags: c_uint,
) -> isize {
    // SAFETY: The VFS holds `file`, an open file of ours, for the call.  `fcntl(F_SETFL)`
    // changed our file's flags only: they are copied to the real file first (as
    // `read_iter`).
    let real = match unsafe { read_real::<T>(file).and_then(|r| sync_flags(r, file).map(|()| r)) } {
        Ok(r) => r,
        Err(e) => return e.to_errno() as isize,
    };
    // SAFETY: `file` is open for the call and `ppos` valid (the VFS's contract, which is
    // `splice_at`'s); the real file stays open while `file` is.
    unsafe {
        splice_at::<T>(file, ppos, |iocb, ctx| {
            sys::backing_file_splice_read(real, iocb, pipe, len, flags, ctx)
        })
    }
}

/// # Safety
///
/// Called by the VFS (`do_splice_from`) with an open file of ours (opened for write), held
/// for the call, the caller's pipe and position.
unsafe extern "C" fn splice_write<T: FileOperations>(
    pipe: *mut bindings::pipe_inode_info,
    file: *mut bindings::file,
    ppos: *mut i64,
    len: usize,
    flags: c_uint,
) -> isize {
    // SAFETY: The VFS holds `file`, an open file of ours, for the call, and the file holds its
    // inode.
    let inode = unsafe { inode_of(file) };
    // As for `write_iter`.
    let _lock = inode.lock();
    T::sync_attr(inode);
    // SAFETY: The VFS holds a reference to `file`, an open file of ours, until this returns;
    // its private data (set at open, dropped at release) and the real file it holds live
    // as long.
    let real = unsafe { T::opened_file(data_of::<T>(file)).as_ptr() };
    // SAFETY: Both files are open files of ours, held for the call (the VFS's contract,
    // which is `range_op`'s); the flags as in `write_iter` (a cleared `O_APPEND` must
    // not leave the real file appending).
    unsafe {
        if let Err(e) = sync_flags(real, file) {
            return e.to_errno() as isize;
        }
        splice_at::<T>(file, ppos, |iocb, ctx| {
            sys::backing_file_splice_write(pipe, real, iocb, len, flags, ctx)
        })
    }
}

/// # Safety
///
/// Called by the VFS (`vfs_mmap`) with an open file of ours, held for the call, and the new
/// VMA.
unsafe extern "C" fn mmap<T: FileOperations>(
    file: *mut bindings::file,
    vma: *mut bindings::vm_area_struct,
) -> c_int {
    // The file reads go to now: a read-only descriptor opened before a copy-up maps the
    // copy, as it reads it (a writable shared mapping needs a descriptor open for write,
    // whose file is on upper from the start).
    // SAFETY: The VFS holds `file`, an open file of ours, for the call.
    let real = match unsafe { read_real::<T>(file) } {
        Ok(r) => r,
        Err(e) => return e.to_errno(),
    };
    // SAFETY: The helper installs the real file (which lives while ours is open, and gets a
    // reference of the VMA's) in the VMA with the context's credentials.
    unsafe {
        let mut ctx = backing_ctx::<T>(file);
        sys::backing_file_mmap(real, vma, &mut ctx)
    }
}

/// # Safety
///
/// Called by the VFS (`vfs_llseek`) with an open file of ours, held for the call, and
/// `f_pos_lock` held where the file position is shared.
unsafe extern "C" fn llseek<T: FileOperations>(
    file: *mut bindings::file,
    offset: i64,
    whence: c_int,
) -> i64 {
    // SAFETY: The VFS holds `file`, an open file of ours, for the call.
    let real = match unsafe { read_real::<T>(file) } {
        Ok(r) => r,
        Err(e) => return i64::from(e.to_errno()),
    };
    // SAFETY: Both files are open.  Like `ovl_llseek`: sync the real file position, seek it
    // (SEEK_DATA/SEEK_HOLE need the real filesystem), copy the result back; the real
    // file's position is only used by us, under our file's `f_pos_lock`.
    unsafe {
        sys::union_set_pos(real, sys::union_file_pos(file));
        let r = bindings::vfs_llseek(real, offset, whence);
        sys::union_set_pos(file, sys::union_file_pos(real));
        r
    }
}

/// # Safety
///
/// Called by the VFS (`vfs_fadvise`) with an open file of ours, held for the call.
unsafe extern "C" fn fadvise<T: FileOperations>(
    file: *mut bindings::file,
    offset: i64,
    len: i64,
    advice: c_int,
) -> c_int {
    // Advice applies to the page cache reads use (as `mmap`).
    // SAFETY: The VFS holds `file`, an open file of ours, for the call.
    let real = match unsafe { read_real::<T>(file) } {
        Ok(r) => r,
        Err(e) => return e.to_errno(),
    };
    // SAFETY: The real file is open while ours is.
    unsafe { bindings::vfs_fadvise(real, offset, len, advice) }
}

/// # Safety
///
/// Called by the VFS (`vfs_fsync_range`) with an open file of ours, held for the call.
unsafe extern "C" fn fsync<T: FileOperations>(
    file: *mut bindings::file,
    start: i64,
    end: i64,
    datasync: c_int,
) -> c_int {
    from_result(|| {
        // SAFETY: The VFS holds `file`, an open file of ours, for the call; its data lives
        // while it is open.
        let (data, f) = unsafe { (data_of::<T>(file), File::from_raw_file(file)) };
        T::fsync(data, f, start, end, datasync != 0)?;
        Ok(0)
    })
}

/// # Safety
///
/// Called by the VFS (`vfs_fallocate`) with an open file of ours, held for the call.
unsafe extern "C" fn fallocate<T: FileOperations>(
    file: *mut bindings::file,
    mode: c_int,
    offset: i64,
    len: i64,
) -> kernel::ffi::c_long {
    // SAFETY: The VFS holds `file`, an open file of ours, for the call; its data lives while it
    // is open.
    let (data, f) = unsafe { (data_of::<T>(file), File::from_raw_file(file)) };
    match T::fallocate(data, f, mode, offset, len) {
        Ok(()) => 0,
        Err(e) => e.to_errno() as kernel::ffi::c_long,
    }
}

/// A range operation between two files whose `copy_file_range`/`remap_file_range` is
/// ours.
///
/// # Safety
///
/// Both files must be open files of ours, held for the call.
unsafe fn range_op<T: FileOperations>(
    file_in: *mut bindings::file,
    pos_in: i64,
    file_out: *mut bindings::file,
    pos_out: i64,
    len: u64,
    op: RangeOp,
) -> i64 {
    // SAFETY: Promised by the caller: both files are open (and so are their data).
    let (src, dst) = unsafe {
        (
            RangeEnd {
                data: data_of::<T>(file_in),
                file: File::from_raw_file(file_in),
                pos: pos_in,
            },
            RangeEnd {
                data: data_of::<T>(file_out),
                file: File::from_raw_file(file_out),
                pos: pos_out,
            },
        )
    };
    T::range_op(src, dst, len, op).unwrap_or_else(|e| i64::from(e.to_errno()))
}

/// # Safety
///
/// Called by `vfs_copy_file_range` only when both files' `copy_file_range` is this one
/// (`generic_copy_file_checks`, with the same `file_operations`), so both are open regular
/// files of ours, held for the call.
unsafe extern "C" fn copy_file_range<T: FileOperations>(
    file_in: *mut bindings::file,
    pos_in: i64,
    file_out: *mut bindings::file,
    pos_out: i64,
    len: usize,
    flags: c_uint,
) -> isize {
    // SAFETY: Both files are open files of ours, held for the call (the VFS's contract,
    // which is `range_op`'s).
    unsafe {
        range_op::<T>(
            file_in,
            pos_in,
            file_out,
            pos_out,
            len as u64,
            RangeOp::Copy(flags),
        ) as isize
    }
}

/// # Safety
///
/// Called by `vfs_clone_file_range`/`vfs_dedupe_file_range_one` with two regular files of
/// the same superblock (they check it), so both are open files of ours, held for the call.
unsafe extern "C" fn remap_file_range<T: FileOperations>(
    file_in: *mut bindings::file,
    pos_in: i64,
    file_out: *mut bindings::file,
    pos_out: i64,
    len: i64,
    flags: c_uint,
) -> i64 {
    if flags & !(REMAP_FILE_DEDUP | REMAP_FILE_ADVISORY) != 0 {
        return i64::from(EINVAL.to_errno());
    }
    let op = if flags & REMAP_FILE_DEDUP != 0 {
        RangeOp::Dedupe(flags)
    } else {
        RangeOp::Clone(flags)
    };
    // SAFETY: Both files are open files of ours, held for the call (the VFS's contract,
    // which is `range_op`'s).
    unsafe { range_op::<T>(file_in, pos_in, file_out, pos_out, len as u64, op) }
}
