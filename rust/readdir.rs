// SPDX-License-Identifier: GPL-2.0

//! readdir of union directories (union-mounts.txt, "Directory copyup").
//!
//! The first readdir of a directory that has a lower part copies the visible lower
//! entries up as fallthrus and marks it opaque ([`copy_up::copy_up_dir_entries`]).  From
//! then on the listing is the upper directory's own, read through the upper filesystem,
//! so offsets are the upper filesystem's: stable across close/reopen, `telldir`/`seekdir`
//! and concurrent changes.  Entries are translated on the way: whiteouts are skipped,
//! fallthrus show the lower entry (its `d_type` from the marker, its `d_ino` from the
//! lower inode), `d_ino` follows the inode number rule of [`crate::inode`], and the
//! private work directory is hidden.

use crate::{
    copy_up,
    inode::union_ino,
    namei::{
        classify_upper_inode,
        UpperKind, //
    },
    superblock::UnionFs,
    vfs::{
        self,
        dtype,
        ops::DirEmitter,
        upper,
        Dentry,
        Inode, //
    },
    xattr,
};
use kernel::{
    fs::File,
    prelude::*,
    sync::aref::ARef, //
};

/// Entries read from the upper directory per batch.
const BATCH: usize = 128;

/// State of an open union directory: the upper directory, opened on first read.
pub(crate) struct DirCache {
    real: Option<ARef<File>>,
}

impl DirCache {
    /// An empty state; the first `iterate` fills it.
    pub(crate) fn new() -> Result<KBox<Self>> {
        Ok(KBox::new(Self { real: None }, GFP_KERNEL)?)
    }
}

/// One upper entry and the position that resumes at it.
struct Raw {
    name: KVec<u8>,
    ino: u64,
    d_type: u8,
    pos: i64,
}

/// Translates an upper entry into what the union shows; `None` hides it.
fn translate(
    fs: &UnionFs,
    inode: &Inode,
    updir: &Dentry,
    impure: bool,
    parent_ino: u64,
    e: &Raw,
) -> Result<Option<(u64, u8)>> {
    let info = inode.union_info();
    match &e.name[..] {
        b"." => return Ok(Some((inode.ino(), dtype::DIR))),
        b".." => return Ok(Some((parent_ino, dtype::DIR))),
        n if n == crate::superblock::WORK_DIR_NAME && fs.is_root_upper(updir) => return Ok(None),
        _ => {}
    }
    let plain = e.d_type != dtype::DIR && e.d_type != dtype::CHR && e.d_type != dtype::UNKNOWN;
    if plain && !impure {
        return Ok(Some((union_ino(Some(e.ino), None), e.d_type)));
    }
    let u = vfs::lookup_real(fs.upper().mnt(), updir, &e.name)?;
    let Some(ui) = u.inode() else {
        return Ok(None);
    };
    let lower = |want_dir: bool| -> Result<Option<u64>> {
        let Some(lodir) = info.lower.as_ref() else {
            return Ok(None);
        };
        let l = vfs::lookup_real(fs.lower().mnt(), lodir, &e.name)?;
        Ok(match l.inode() {
            Some(li) if !l.is_whiteout() && (!want_dir || li.is_dir()) => Some(li.ino()),
            _ => None,
        })
    };
    Ok(match classify_upper_inode(ui) {
        UpperKind::Whiteout => None,
        UpperKind::Fallthru(t) => lower(false)?.map(|l| (union_ino(None, Some(l)), t)),
        UpperKind::Object if ui.is_dir() => {
            let merges = !info.is_opaque() || xattr::has_flag(fs, &u, xattr::FALLTHRU);
            let l = if merges { lower(true)? } else { None };
            Some((union_ino(Some(ui.ino()), l), dtype::DIR))
        }
        UpperKind::Object => Some((
            union_ino(Some(ui.ino()), xattr::origin(fs, &u)),
            vfs::dtype_of_mode(ui.mode()),
        )),
    })
}

/// `iterate_shared` of a union directory.
pub(crate) fn iterate(
    inode: &Inode,
    dentry: &Dentry,
    cache: &mut DirCache,
    ctx: &mut DirEmitter,
) -> Result {
    let fs = inode.sb().union_fs();
    if cache.real.is_none() {
        copy_up::copy_up_dir_entries(dentry)?;
        let updir = copy_up::copy_up(dentry)?;
        let flags = kernel::bindings::O_RDONLY
            | kernel::bindings::O_DIRECTORY
            | kernel::bindings::O_LARGEFILE
            | kernel::bindings::O_NOATIME;
        cache.real = Some(upper::open(
            fs.upper().mnt(),
            &updir,
            flags,
            fs.creator_cred(),
        )?);
    }
    let real = cache.real.as_ref().ok_or(EINVAL)?;
    let updir = upper::file_dentry(real);
    let _creds = fs.override_creds();
    // Only directories holding copied-up files need a lookup per plain entry.
    let impure = xattr::has_flag(fs, updir, xattr::IMPURE);
    loop {
        let mut batch: KVec<Raw> = KVec::new();
        let end = vfs::read_dir_batch(real, ctx.pos(), &mut |name, ino, d_type, pos| {
            if batch.len() >= BATCH {
                return Ok(false);
            }
            let mut n = KVec::with_capacity(name.len(), GFP_KERNEL)?;
            n.extend_from_slice(name, GFP_KERNEL)?;
            batch.push(
                Raw {
                    name: n,
                    ino,
                    d_type,
                    pos,
                },
                GFP_KERNEL,
            )?;
            Ok(true)
        })?;
        if batch.is_empty() {
            ctx.set_pos(end);
            return Ok(());
        }
        for e in batch.iter() {
            let Some((ino, t)) = translate(fs, inode, updir, impure, ctx.parent_ino(), e)? else {
                continue;
            };
            ctx.set_pos(e.pos);
            if !ctx.emit(&e.name, ino, t) {
                return Ok(());
            }
        }
        ctx.set_pos(end);
    }
}
