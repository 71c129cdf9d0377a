// SPDX-License-Identifier: GPL-2.0

//! Regular files: opening a union file opens the real file (upper if it exists, else
//! lower) as a backing file, and all I/O goes straight to it (see `vfs::file_ops`).
//!
//! Opening for write (`O_WRONLY`, `O_RDWR`) or with `O_TRUNC` copies the file up first
//! (for write with `O_TRUNC`, without its data), or the data of a metadata-only copy.
//! Opening a metadata-only copy for read opens the lower file, which holds its data.  A
//! descriptor opened read-only on the lower file switches to the upper file for reads,
//! seeks, new mappings and advice once the data has been copied up, so it sees later
//! writes (shared mappings made before the copy-up keep the lower pages).

use crate::{
    copy_up,
    inode::InodeExt,
    params::Which,
    superblock::{
        SuperBlockExt,
        Union, //
    },
    vfs::{
        self,
        Dentry,
        FileOperations,
        Inode,
        RangeEnd, //
    },
};
use kernel::{
    bindings,
    cred::Credential,
    fs::File,
    prelude::*,
    sync::aref::ARef, //
};

/// The real file behind an open union file (`private_data`).
pub(crate) struct RealFile {
    file: ARef<File>,
    layer: Which,
    inode: ARef<Inode>,
    /// The upper file, opened after a copy-up made by someone else.
    reopened: vfs::OnceFile,
}

impl RealFile {
    /// The real file opened at `open` time.
    pub(crate) fn file(&self) -> &File {
        &self.file
    }

    /// Whether the real file is on upper.
    pub(crate) fn is_upper(&self) -> bool {
        self.layer == Which::Upper
    }

    /// The file to read from now: the upper file once the object's data has been copied
    /// up.
    pub(crate) fn current(&self, user_file: &File) -> Result<&File> {
        if self.is_upper() {
            return Ok(&self.file);
        }
        if let Some(f) = self.reopened.get() {
            return Ok(f);
        }
        let info = self.inode.union_info();
        let Some(upper) = info.upper().filter(|_| info.data_on_upper()) else {
            return Ok(&self.file);
        };
        let fs = self.inode.sb().union_fs();
        let flags = user_file.flags() & !(bindings::O_CREAT | bindings::O_EXCL | bindings::O_TRUNC);
        let f = vfs::open_backing(user_file, flags, fs.upper().mnt(), upper, fs.creator_cred())?;
        // Losing the race to another reader is fine: both opened the same upper file.
        Ok(self.reopened.get_or_set(f))
    }
}

/// `copy_file_range` and `remap_file_range` (clone, dedupe) between two union files of
/// this union: passed to the real files, so that the
/// upper filesystem's own copy or reflink is used where it has one.  A copy the real
/// files cannot make themselves (across the layers' filesystems) is spliced through the
/// page cache, as the VFS does between two files of one filesystem.  A dedupe needs both
/// files' data on upper (`EPERM`: it would have to copy up what it is asked to share).
/// Takes the destination's inode lock (as overlayfs does).
pub(crate) fn range_op(
    src: RangeEnd<'_, RealFile>,
    dst: RangeEnd<'_, RealFile>,
    len: u64,
    op: vfs::RangeOp,
) -> Result<i64> {
    let (rin, rout) = (src.data, dst.data);
    if !core::ptr::eq(rin.inode.sb(), rout.inode.sb()) {
        // Another union mount: as before this operation existed here.
        return Err(EXDEV);
    }
    // Checks that need no change first, so that a refused or impossible operation
    // removes no privileges.  The union inode holds the protection flags, not the upper
    // one the real filesystem checks (`generic_remap_file_range_prep`); copy_file_range
    // was checked on the union inodes by the VFS.
    if !matches!(op, vfs::RangeOp::Copy(_))
        && rout.inode.prot_flags() & crate::fileattr::S_IMMUTABLE != 0
    {
        return Err(EPERM);
    }
    let (real_in, real_out) = (rin.current(src.file)?, rout.current(dst.file)?);
    // The flags `fcntl(F_SETFL)` changed (a cleared `O_APPEND`: `generic_copy_file_checks`
    // refuses a real destination still appending with `EBADF`).
    vfs::sync_setfl(real_in, src.file)?;
    vfs::sync_setfl(real_out, dst.file)?;
    let (pos_in, pos_out) = (src.pos, dst.pos);
    match op {
        vfs::RangeOp::Clone(_) => vfs::can_remap(real_in, real_out)?,
        vfs::RangeOp::Dedupe(_) => {
            if !rin.inode.union_info().data_on_upper() || !rout.inode.union_info().data_on_upper() {
                return Err(EPERM);
            }
        }
        vfs::RangeOp::Copy(_) => {}
    }
    // The destination changes as by a write; a dedupe changes no data (and removes
    // nothing), under the lock all the same.
    let lock = match op {
        vfs::RangeOp::Dedupe(_) => rout.inode.lock(),
        _ => begin_data_change(&rout.inode, dst.file)?,
    };
    let fs = rout.inode.sb().union_fs();
    let r = {
        let _creds = fs.override_creds();
        match vfs::range_op_real(real_in, pos_in, real_out, pos_out, len, op) {
            Err(e) if e == EXDEV || e == EOPNOTSUPP => match op {
                vfs::RangeOp::Copy(flags) if flags & vfs::COPY_FILE_SPLICE == 0 => {
                    let op = vfs::RangeOp::Copy(flags | vfs::COPY_FILE_SPLICE);
                    vfs::range_op_real(real_in, pos_in, real_out, pos_out, len, op)
                }
                _ => Err(e),
            },
            r => r,
        }
    };
    crate::inode::refresh_attr(&rout.inode);
    drop(lock);
    r
}

/// Starts a change of the data of the union file `file` (of `inode`) that a real file
/// will make with the mounter's credentials: takes the union inode's lock (held until
/// the returned guard drops) and removes setuid/setgid and file capabilities as the
/// caller's credentials decide (the mounter's would keep them), by the real object's
/// current mode.
fn begin_data_change<'a>(inode: &'a Inode, file: &File) -> Result<vfs::InodeLock<'a>> {
    let lock = inode.lock();
    crate::inode::refresh_attr(inode);
    vfs::remove_privs(file, &lock)?;
    Ok(lock)
}

/// `fallocate` of an open union file (opened for write, so on upper): as a write (see
/// [`begin_data_change`]); the real file is changed with the mounter's credentials (as
/// overlayfs does).
pub(crate) fn fallocate(real: &RealFile, file: &File, mode: i32, offset: i64, len: i64) -> Result {
    let inode = &real.inode;
    let _lock = begin_data_change(inode, file)?;
    let fs = inode.sb().union_fs();
    let r = {
        let _creds = fs.override_creds();
        vfs::fallocate(real.file(), mode, offset, len)
    };
    crate::inode::refresh_attr(inode);
    r
}

/// The real file of an `O_TMPFILE` open of the union: `file`, the upper temporary file
/// already open, for the union inode `inode`.
pub(crate) fn tmpfile(file: ARef<File>, inode: &Inode) -> Result<KBox<RealFile>> {
    Ok(KBox::new(
        RealFile {
            file,
            layer: Which::Upper,
            inode: inode.into(),
            reopened: vfs::OnceFile::new(),
        },
        GFP_KERNEL,
    )?)
}

/// Whether open flags need the file on upper: write access or `O_TRUNC`.  `O_APPEND`
/// alone (with `O_RDONLY`) asks for no write and reads the lower file.
fn needs_copy_up(flags: u32) -> bool {
    flags & (bindings::O_WRONLY | bindings::O_RDWR | bindings::O_TRUNC) != 0
}

/// `open` of a union regular file.
pub(crate) fn open(inode: &Inode, dentry: &Dentry, user_file: &File) -> Result<KBox<RealFile>> {
    let fs = inode.sb().union_fs();
    let flags = user_file.flags();
    if needs_copy_up(flags) {
        // Without the data only if the truncate is sure to follow: an open for write has
        // its write access before `open`, one for read gets it after, in the truncate,
        // which then fails on a running program (`ETXTBSY`) with the file left whole.
        let write = flags & (bindings::O_WRONLY | bindings::O_RDWR) != 0;
        let limit = (write && flags & bindings::O_TRUNC != 0).then_some(0);
        copy_up::copy_up_limited(dentry, limit)?;
    }
    let (real, layer) = inode.union_info().data()?;
    let file = vfs::open_backing(
        user_file,
        flags,
        fs.layer(layer).mnt(),
        real,
        fs.creator_cred(),
    )?;
    Ok(KBox::new(
        RealFile {
            file,
            layer,
            inode: inode.into(),
            reopened: vfs::OnceFile::new(),
        },
        GFP_KERNEL,
    )?)
}

/// `fsync`/`fdatasync` of an open union file: of its upper object, whatever the
/// descriptor was opened on (the lower layer is never written, so there is nothing to
/// sync there), as `ovl_fsync`: the real file if it is on upper; for a descriptor opened
/// on the lower file before a copy-up, the upper file it reads now; for a metadata-only
/// copy (its data still the lower file's), the upper object's metadata (`fsync`, not
/// `fdatasync`).
pub(crate) fn fsync(
    real: &RealFile,
    user_file: &File,
    start: i64,
    end: i64,
    datasync: bool,
) -> Result {
    if real.is_upper() {
        return vfs::upper::fsync_range(real.file(), start, end, datasync);
    }
    let info = real.inode.union_info();
    let Some(upper) = info.upper() else {
        return Ok(());
    };
    if info.data_on_upper() {
        let f = real.current(user_file)?;
        return vfs::upper::fsync_range(f, start, end, datasync);
    }
    if datasync {
        return Ok(());
    }
    let fs = real.inode.sb().union_fs();
    let flags = bindings::O_RDONLY | bindings::O_LARGEFILE | bindings::O_NOATIME;
    let f = vfs::upper::open(fs.upper().mnt(), upper, flags, fs.creator_cred())?;
    vfs::upper::fsync_range(&f, start, end, false)
}

/// The file operations of union regular files.
pub(crate) struct FileOps;

#[vtable]
impl FileOperations for FileOps {
    type Fs = Union;
    type Data = RealFile;

    fn open(inode: &Inode, dentry: &Dentry, file: &File) -> Result<KBox<RealFile>> {
        open(inode, dentry, file)
    }

    fn opened_file(data: &RealFile) -> &File {
        data.file()
    }

    fn read_file<'a>(data: &'a RealFile, file: &File) -> Result<&'a File> {
        data.current(file)
    }

    fn creds(inode: &Inode) -> &Credential {
        inode.sb().union_fs().creator_cred()
    }

    /// The attributes follow the object users see now (upper once copied up), never the
    /// layer a descriptor happened to read from: a read through a descriptor opened on
    /// the lower file before a chmod's copy-up must not bring the lower mode back.
    fn sync_attr(inode: &Inode) {
        crate::inode::refresh_attr(inode);
    }

    fn fsync(data: &RealFile, file: &File, start: i64, end: i64, datasync: bool) -> Result {
        fsync(data, file, start, end, datasync)
    }

    fn fallocate(data: &RealFile, file: &File, mode: i32, offset: i64, len: i64) -> Result {
        fallocate(data, file, mode, offset, len)
    }

    fn range_op(
        src: RangeEnd<'_, RealFile>,
        dst: RangeEnd<'_, RealFile>,
        len: u64,
        op: vfs::RangeOp,
    ) -> Result<i64> {
        range_op(src, dst, len, op)
    }
}
