// SPDX-License-Identifier: GPL-2.0

//! readdir of union directories.
//!
//! The listing is merged in memory when a directory file is first read and kept with the
//! open file: `.` and `..`, then the visible upper entries (fallthrus shown as the lower
//! entries they stand for, whiteouts never), then the lower entries no upper entry covers
//! (none if the directory is opaque).  Offsets are positions in that list, stable for the
//! life of the open file.  Each entry's `d_ino` follows the inode number rule of
//! [`crate::inode`].

use crate::{
    inode::{
        union_ino,
        UnionInode, //
    },
    namei::{
        classify_upper_inode,
        fallthru_dtype,
        UpperKind, //
    },
    superblock::UnionFs,
    vfs::{
        self,
        dtype,
        ops::DirEmitter,
        Inode, //
    },
    xattr,
};
use kernel::{
    fs::File,
    prelude::*, //
};

/// One merged directory entry.
struct Entry {
    name: KVec<u8>,
    ino: u64,
    d_type: u8,
}

/// The merged listing of an open union directory.
pub(crate) struct DirCache {
    entries: Option<KVec<Entry>>,
}

impl DirCache {
    /// An empty cache; filled by the first `iterate`.
    pub(crate) fn new() -> Result<KBox<Self>> {
        Ok(KBox::new(Self { entries: None }, GFP_KERNEL)?)
    }
}

/// Raw entries of one real directory.
fn read_real(fs: &UnionFs, lower: bool, dir: &vfs::Dentry) -> Result<KVec<Entry>> {
    let mut out = KVec::new();
    let layer = if lower { fs.lower() } else { fs.upper() };
    vfs::read_dir_real(
        layer.mnt(),
        dir,
        fs.creator_cred(),
        &mut |name, ino, d_type| {
            if name == b"." || name == b".." {
                return Ok(());
            }
            let mut n = KVec::with_capacity(name.len(), GFP_KERNEL)?;
            n.extend_from_slice(name, GFP_KERNEL)?;
            out.push(
                Entry {
                    name: n,
                    ino,
                    d_type,
                },
                GFP_KERNEL,
            )?;
            Ok(())
        },
    )?;
    Ok(out)
}

/// The inode number the lower entry `name` of `info` has in the union, if it is visible.
fn lower_ino(fs: &UnionFs, info: &UnionInode, name: &[u8], want_dir: bool) -> Result<Option<u64>> {
    let Some(lodir) = &info.lower else {
        return Ok(None);
    };
    let d = vfs::lookup_real(fs.lower().mnt(), lodir, name)?;
    Ok(match d.inode() {
        Some(i) if !d.is_whiteout() && (!want_dir || i.is_dir()) => {
            Some(union_ino(None, Some(i.ino())))
        }
        _ => None,
    })
}

fn build(inode: &Inode) -> Result<KVec<Entry>> {
    let fs = inode.sb().union_fs();
    let info = inode.union_info();
    let _creds = fs.override_creds();

    // Upper entries; `covered` collects every upper name (whiteouts included), sorted, to
    // hide the lower entries of the same name.
    let mut merged = KVec::new();
    let mut covered: KVec<KVec<u8>> = KVec::new();
    if let Some(updir) = &info.upper {
        for e in read_real(fs, false, updir)? {
            let mut e = e;
            if e.d_type == dtype::CHR || e.d_type == dtype::DIR {
                let d = vfs::lookup_real(fs.upper().mnt(), updir, &e.name)?;
                match d.inode().map(classify_upper_inode) {
                    None | Some(UpperKind::Whiteout) => {
                        covered.push(e.name, GFP_KERNEL)?;
                        continue;
                    }
                    Some(UpperKind::Fallthru(t)) => match lower_ino(fs, info, &e.name, false)? {
                        Some(ino) => {
                            e.ino = ino;
                            e.d_type = fallthru_dtype(t);
                        }
                        None => {
                            // Dangling fallthru: the lower entry is gone.
                            covered.push(e.name, GFP_KERNEL)?;
                            continue;
                        }
                    },
                    Some(UpperKind::Object) => {
                        let merges = e.d_type == dtype::DIR
                            && (!info.opaque || xattr::has_flag(fs, &d, xattr::FALLTHRU));
                        if merges {
                            if let Some(ino) = lower_ino(fs, info, &e.name, true)? {
                                e.ino = ino;
                            }
                        }
                    }
                }
            }
            let mut name = KVec::with_capacity(e.name.len(), GFP_KERNEL)?;
            name.extend_from_slice(&e.name, GFP_KERNEL)?;
            covered.push(name, GFP_KERNEL)?;
            merged.push(e, GFP_KERNEL)?;
        }
    }
    covered.sort_unstable_by(|a, b| a[..].cmp(&b[..]));

    if let (Some(lodir), false) = (&info.lower, info.opaque) {
        for mut e in read_real(fs, true, lodir)? {
            if covered.binary_search_by(|c| c[..].cmp(&e.name[..])).is_ok() {
                continue;
            }
            if e.d_type == dtype::CHR {
                let d = vfs::lookup_real(fs.lower().mnt(), lodir, &e.name)?;
                if d.is_whiteout() {
                    continue;
                }
            }
            e.ino = union_ino(None, Some(e.ino));
            merged.push(e, GFP_KERNEL)?;
        }
    }
    Ok(merged)
}

/// `iterate_shared`: serves the merged listing from position `ctx.pos()`.
pub(crate) fn iterate(
    inode: &Inode,
    file: &File,
    cache: &mut DirCache,
    ctx: &mut DirEmitter,
) -> Result {
    let _ = file;
    if cache.entries.is_none() || ctx.pos() == 0 {
        cache.entries = Some(build(inode)?);
    }
    let entries = cache.entries.as_ref().ok_or(EINVAL)?;
    loop {
        let pos = ctx.pos();
        let ok = match pos {
            0 => ctx.emit(b".", inode.ino(), dtype::DIR),
            1 => ctx.emit(b"..", ctx.parent_ino(), dtype::DIR),
            p => match entries.get((p - 2) as usize) {
                Some(e) => ctx.emit(&e.name, e.ino, e.d_type),
                None => return Ok(()),
            },
        };
        if !ok {
            return Ok(());
        }
        ctx.set_pos(pos + 1);
    }
}
