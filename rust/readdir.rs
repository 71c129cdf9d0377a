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
    format::{
        self,
        classify_upper_inode,
        UpperKind, //
    },
    inode::union_ino,
    inode::InodeExt,
    stats::{
        self,
        Stat, //
    },
    superblock::SuperBlockExt,
    superblock::UnionFs,
    vfs::{
        self,
        dtype,
        upper,
        Dentry,
        DirEmitter,
        DirOperations,
        Inode, //
    },
    xattr,
};
use kernel::{
    fs::File,
    prelude::*,
    sync::{
        aref::ARef,
        Arc, //
    }, //
};

/// Entries read from the upper directory per batch.
const BATCH: usize = 128;

/// State of an open union directory: the upper directory, opened on first read.
pub(crate) struct DirCache {
    real: Option<ARef<File>>,
    /// Index in the cached listing where the last `iterate` stopped.
    next: usize,
    /// A read-only union's listing of a directory that was never copied up, merged in
    /// memory on the first read of this open directory (positions are indices).
    merged: Option<Entries>,
}

impl DirCache {
    /// An empty state; the first `iterate` fills it.
    pub(crate) fn new() -> Result<KBox<Self>> {
        Ok(KBox::new(
            Self {
                real: None,
                next: 0,
                merged: None,
            },
            GFP_KERNEL,
        )?)
    }
}

/// One directory entry of [`Entries`]: the position that resumes at it, its inode number
/// and type, and where its name is in the names buffer.
#[derive(Clone, Copy)]
struct Item {
    pos: i64,
    ino: u64,
    name: u32,
    len: u16,
    d_type: u8,
}

/// Directory entries with their names in one buffer: two allocations for a whole
/// directory instead of one per name, and both may be virtually contiguous (`KVVec`),
/// so that a directory of any size can be listed (a physically contiguous array of a
/// few hundred thousand entries is more than `kmalloc` gives).
struct Entries {
    items: KVVec<Item>,
    names: KVVec<u8>,
}

impl Entries {
    fn new() -> Self {
        Self {
            items: KVVec::new(),
            names: KVVec::new(),
        }
    }

    fn with_capacity(items: usize, name_bytes: usize) -> Result<Self> {
        Ok(Self {
            items: KVVec::with_capacity(items, GFP_KERNEL)?,
            names: KVVec::with_capacity(name_bytes, GFP_KERNEL)?,
        })
    }

    fn push(&mut self, pos: i64, name: &[u8], ino: u64, d_type: u8) -> Result {
        let item = Item {
            pos,
            ino,
            name: u32::try_from(self.names.len()).map_err(|_| ENOMEM)?,
            len: u16::try_from(name.len()).map_err(|_| ENAMETOOLONG)?,
            d_type,
        };
        self.names.extend_from_slice(name, GFP_KERNEL)?;
        self.items.push(item, GFP_KERNEL)?;
        Ok(())
    }

    fn name(&self, it: &Item) -> &[u8] {
        let start = it.name as usize;
        self.names
            .get(start..start + usize::from(it.len))
            .unwrap_or_default()
    }

    fn len(&self) -> usize {
        self.items.len()
    }

    /// The memory the two buffers hold.
    fn bytes(&self) -> usize {
        self.items.capacity() * core::mem::size_of::<Item>() + self.names.capacity()
    }
}

/// Reads up to `limit` entries of the open upper directory from position `pos` (each
/// item's `pos` the position that resumes at it); returns them and the position after
/// them.
fn read_raw(real: &File, pos: i64, limit: usize) -> Result<(Entries, i64)> {
    let mut raw = Entries::new();
    let end = vfs::read_dir_batch(real, pos, &mut |name, ino, d_type, pos| {
        if raw.len() >= limit {
            return Ok(false);
        }
        raw.push(pos, name, ino, d_type)?;
        Ok(true)
    })?;
    Ok((raw, end))
}

/// The entries of a lower directory by name, read with one pass over it: a listing
/// resolves its fallthrus here instead of with one lower lookup each.  The lower
/// directory's `d_ino` is the lower inode number on the filesystems union stacks over
/// (the one `stat` reports through the union).  Character devices and entries of unknown
/// type are not in it: whether they are markers (which count as absent) needs their inode.
struct LowerIndex(KVVec<(KVec<u8>, u64, u8)>);

impl LowerIndex {
    fn read(fs: &UnionFs, lodir: &Dentry) -> Result<Self> {
        Ok(Self(copy_up::sorted_lower_entries(fs, lodir)?))
    }

    /// The index of entries a directory copy-up read already (sorted by name; the
    /// lower layer does not change under the union).
    fn from_sorted(v: copy_up::LowerEntries) -> Self {
        Self(v)
    }

    /// `Some(Some((ino, d_type)))` for a visible lower entry, `Some(None)` if there is
    /// none, `None` if only a lookup can tell.
    fn find(&self, name: &[u8]) -> Option<Option<(u64, u8)>> {
        match self.0.binary_search_by(|e| e.0[..].cmp(name)) {
            Ok(i) => {
                let (_, ino, t) = &self.0[i];
                (*t != dtype::CHR && *t != dtype::UNKNOWN).then_some(Some((*ino, *t)))
            }
            Err(_) => Some(None),
        }
    }
}

/// The upper directory a listing is read from.
struct UpperDir<'a> {
    dentry: &'a Dentry,
    /// It holds copied-up files (`format::IMPURE`): only then does a plain entry need a
    /// lookup to be translated.
    impure: bool,
}

impl<'a> UpperDir<'a> {
    fn of(fs: &UnionFs, dentry: &'a Dentry) -> Self {
        Self {
            dentry,
            impure: xattr::has_flag(fs, dentry, format::IMPURE),
        }
    }
}

/// Translates an upper entry into what the union shows; `None` hides it.  With `index`,
/// lower entries are found in the lower directory's [`LowerIndex`], read on first need
/// (for a whole listing); without, by lookup.
fn translate(
    fs: &UnionFs,
    inode: &Inode,
    dir: &UpperDir<'_>,
    parent_ino: u64,
    name: &[u8],
    e: &Item,
    mut index: Option<&mut Option<LowerIndex>>,
) -> Result<Option<(u64, u8)>> {
    let (updir, impure) = (dir.dentry, dir.impure);
    let info = inode.union_info();
    match name {
        b"." => return Ok(Some((inode.ino(), dtype::DIR))),
        b".." => return Ok(Some((parent_ino, dtype::DIR))),
        n if n == format::WORK_DIR_NAME && fs.is_root_upper(updir) => return Ok(None),
        _ => {}
    }
    let plain = e.d_type != dtype::DIR && e.d_type != dtype::CHR && e.d_type != dtype::UNKNOWN;
    if plain && !impure {
        return Ok(Some((union_ino(Some(e.ino), None), e.d_type)));
    }
    let mut lower = |want_dir: bool| -> Result<Option<u64>> {
        let Some(lodir) = info.lower() else {
            return Ok(None);
        };
        if let Some(index) = index.as_deref_mut() {
            if index.is_none() {
                *index = Some(LowerIndex::read(fs, lodir)?);
            }
            if let Some(found) = index.as_ref().and_then(|i| i.find(name)) {
                return Ok(found
                    .filter(|(_, t)| !want_dir || *t == dtype::DIR)
                    .map(|(ino, _)| ino));
            }
        }
        let l = vfs::lookup_real(fs.lower().mnt(), lodir, name)?;
        Ok(match l.inode() {
            Some(li) if !format::is_lower_marker(&l) && (!want_dir || li.is_dir()) => {
                Some(li.ino())
            }
            _ => None,
        })
    };
    // A link of a shared fallthru marker or of the shared whiteout is known by its inode
    // number: no lookup.
    if e.d_type == dtype::CHR {
        if fs.is_shared_whiteout(e.ino) {
            return Ok(None);
        }
        if let Some(t) = fs.shared_marker_type(e.ino) {
            return Ok(lower(false)?.map(|l| (union_ino(None, Some(l)), t)));
        }
    }
    let u = vfs::lookup_real(fs.upper().mnt(), updir, name)?;
    let Some(ui) = u.inode() else {
        return Ok(None);
    };
    Ok(match classify_upper_inode(ui) {
        UpperKind::Whiteout => None,
        UpperKind::Fallthru(t) => lower(false)?.map(|l| (union_ino(None, Some(l)), t)),
        UpperKind::Object if ui.is_dir() => {
            let merges = crate::namei::upper_dir_merges(fs, &u, info.is_opaque())?;
            let l = if merges { lower(true)? } else { None };
            Some((union_ino(Some(ui.ino()), l), dtype::DIR))
        }
        UpperKind::Object => {
            // The inode number `stat` shows (see `namei::lookup`).
            let origin = match xattr::origin(fs, &u) {
                Some(ino) => match crate::namei::linked_copy(fs, &u, ino)? {
                    crate::namei::LinkedCopy::Lost => None,
                    _ => Some(ino),
                },
                None => None,
            };
            Some((
                union_ino(Some(ui.ino()), origin),
                vfs::dtype_of_mode(ui.mode()),
            ))
        }
    })
}

/// A translated listing of an upper directory, cached in the union inode: what a readdir
/// shows, with the upper filesystem's positions, in their order.  Valid while the upper
/// directory's ctime and size are unchanged (every change to the directory, its entries
/// or its markers changes its ctime).
pub(crate) struct Listing {
    stamp: Stamp,
    entries: Entries,
    end: i64,
}

impl Listing {
    fn new(stamp: Stamp, entries: Entries, end: i64) -> Self {
        stats::add(Stat::Listings, 1);
        stats::add(Stat::ListingBytes, stats::bytes(entries.bytes()));
        Self {
            stamp,
            entries,
            end,
        }
    }
}

impl Drop for Listing {
    fn drop(&mut self) {
        stats::add(Stat::Listings, -1);
        stats::add(Stat::ListingBytes, -stats::bytes(self.entries.bytes()));
    }
}

#[derive(PartialEq, Eq, Clone, Copy)]
struct Stamp(i64, i64, i64);

/// What identifies the current state of an upper directory: its inode's ctime and size,
/// read from the inode (a `getattr` of the upper directory on every `getdents` of a
/// cached listing cost more than serving the listing).
fn stamp_of(updir: &Dentry) -> Stamp {
    let (sec, nsec, size) = upper::ctime_and_size_of(updir);
    Stamp(sec, nsec, size)
}

/// Reads and translates the whole upper directory.  `None` if its positions do not
/// increase (then the listing cannot be searched by position and is not cached).
fn build_listing(
    fs: &UnionFs,
    inode: &Inode,
    real: &File,
    stamp: Stamp,
    mut index: Option<LowerIndex>,
) -> Result<Option<Listing>> {
    let dir = UpperDir::of(fs, upper::file_dentry(real));
    let (raw, end) = read_raw(real, 0, usize::MAX)?;
    let mut positions = KVVec::with_capacity(raw.len(), GFP_KERNEL)?;
    for e in raw.items.iter() {
        positions.push(e.pos, GFP_KERNEL)?;
    }
    positions.sort_unstable();
    if positions.windows(2).any(|w| w[0] == w[1]) {
        return Ok(None);
    }
    drop(positions);
    let mut shown = KVVec::with_capacity(raw.len(), GFP_KERNEL)?;
    let mut name_bytes = 0;
    for e in raw.items.iter() {
        let name = raw.name(e);
        let Some((ino, d_type)) = translate(fs, inode, &dir, 0, name, e, Some(&mut index))? else {
            continue;
        };
        name_bytes += name.len();
        shown.push(Item { ino, d_type, ..*e }, GFP_KERNEL)?;
    }
    // Served in the order of the positions (see `iterate`); they are distinct (above).
    shown.sort_unstable_by_key(|e| e.pos);
    // Kept with exactly the room it needs: it lives as long as the directory's inode.
    let mut entries = Entries::with_capacity(shown.len(), name_bytes)?;
    for e in shown.iter() {
        entries.push(e.pos, raw.name(e), e.ino, e.d_type)?;
    }
    Ok(Some(Listing::new(stamp, entries, end)))
}

/// Emits one listing entry at its position (`.` and `..` get the union directory's and
/// its parent's inode numbers); `false` when the caller's buffer is full.
fn emit_entry(inode: &Inode, ctx: &mut DirEmitter<'_>, entries: &Entries, e: &Item) -> bool {
    let name = entries.name(e);
    let (ino, d_type) = match name {
        b"." => (inode.ino(), dtype::DIR),
        b".." => (ctx.parent_ino(), dtype::DIR),
        _ => (e.ino, e.d_type),
    };
    ctx.set_pos(e.pos);
    ctx.emit(name, ino, d_type)
}

/// Opens an upper directory for reading its entries, with the mounter's credentials.
fn open_upper_dir(fs: &UnionFs, updir: &Dentry) -> Result<ARef<File>> {
    let flags = kernel::bindings::O_RDONLY
        | kernel::bindings::O_DIRECTORY
        | kernel::bindings::O_LARGEFILE
        | kernel::bindings::O_NOATIME;
    upper::open(fs.upper().mnt(), updir, flags, fs.creator_cred())
}

/// `iterate_shared` of a union directory.
pub(crate) fn iterate(
    inode: &Inode,
    dentry: &Dentry,
    cache: &mut DirCache,
    ctx: &mut DirEmitter<'_>,
) -> Result {
    let fs = inode.sb().union_fs();
    if cache.merged.is_some() || (cache.real.is_none() && needs_merge(inode)) {
        return iterate_merged(fs, inode, cache, ctx);
    }
    let mut index = None;
    if cache.real.is_none() {
        index = copy_up::copy_up_dir_entries(dentry)?.map(LowerIndex::from_sorted);
        let updir = copy_up::copy_up(dentry)?;
        cache.real = Some(open_upper_dir(fs, &updir)?);
    }
    let real = cache.real.as_ref().ok_or(EINVAL)?;
    let updir = upper::file_dentry(real);
    let _creds = fs.override_creds();
    let info = inode.union_info();
    let stamp = stamp_of(updir);
    let cached = info
        .listing
        .lock()
        .as_ref()
        .filter(|l| l.stamp == stamp)
        .cloned();
    let listing = match cached {
        Some(l) => l,
        None => match build_listing(fs, inode, real, stamp, index)? {
            Some(l) => {
                let l = Arc::new(l, GFP_KERNEL)?;
                *info.listing.lock() = Some(l.clone());
                l
            }
            None => return iterate_live(fs, inode, real, ctx),
        },
    };
    // Serve from the listing (no lock held while copying to the caller), from the entry
    // at the caller's position: usually where the previous call on this file stopped.
    if ctx.pos() == listing.end {
        return Ok(());
    }
    // The listing is in the order of its positions, so a position it does not have (its
    // entry was removed, or became a hidden whiteout) resumes at the next entry in that
    // order -- not at wherever the upper filesystem would resume: tmpfs lists a
    // directory in the order of its dentry list, to the head of which a rename moves an
    // entry while its position stays (every copy-up and whiteout over a fallthru is
    // such a rename), so its own resumption would list entries twice or skip some.
    let entries = &listing.entries;
    let from = match entries.items.get(cache.next) {
        Some(e) if e.pos == ctx.pos() => cache.next,
        _ => entries.items.partition_point(|e| e.pos < ctx.pos()),
    };
    for (i, e) in entries.items.iter().enumerate().skip(from) {
        cache.next = i;
        if !emit_entry(inode, ctx, entries, e) {
            return Ok(());
        }
    }
    cache.next = entries.len();
    ctx.set_pos(listing.end);
    Ok(())
}

/// Whether a readdir of `inode` must merge the layers in memory: the union is read-only
/// (it never writes either layer, so no directory copy-up) and the directory still shows
/// lower entries that have no fallthru on upper (it has a lower part and was never copied
/// up, i.e. it is not opaque).  A union remounted read-write copies the directory up at
/// its next first readdir, as usual.
fn needs_merge(inode: &Inode) -> bool {
    let info = inode.union_info();
    inode.sb().is_rdonly()
        && info.lower().is_some()
        && !(info.is_opaque() && info.upper().is_some())
}

/// Builds the in-memory merged listing of a read-only union's directory: `.` and `..`,
/// the upper directory's entries translated as always (whiteouts hidden, fallthrus shown
/// as their lower entries), then the lower entries that upper does not name at all (lower
/// whiteouts hidden).  Positions are the entries' indices: stable for as long as the
/// directory is open (`telldir`/`seekdir`), since nothing changes a read-only union.
fn build_merged(fs: &UnionFs, inode: &Inode) -> Result<Entries> {
    let info = inode.union_info();
    let mut entries = Entries::new();
    for dot in [&b"."[..], &b".."[..]] {
        entries.push(0, dot, 0, dtype::DIR)?;
    }
    // The upper directory's entries; `upper_names` borrows their names.
    let raw = match info.upper() {
        Some(updir) => Some(read_raw(&*open_upper_dir(fs, updir)?, 0, usize::MAX)?.0),
        None => None,
    };
    let mut upper_names: KVVec<&[u8]> = KVVec::new();
    let mut index = None;
    if let (Some(updir), Some(raw)) = (info.upper(), raw.as_ref()) {
        let dir = UpperDir::of(fs, updir);
        for e in raw.items.iter() {
            let name = raw.name(e);
            if name == b"." || name == b".." {
                continue;
            }
            let shown = translate(fs, inode, &dir, 0, name, e, Some(&mut index))?;
            upper_names.push(name, GFP_KERNEL)?;
            if let Some((ino, d_type)) = shown {
                entries.push(0, name, ino, d_type)?;
            }
        }
    }
    upper_names.sort_unstable();
    let opaque = info.is_opaque() && info.upper().is_some();
    if let (Some(lodir), false) = (info.lower(), opaque) {
        let is_root = info.upper().is_some_and(|u| fs.is_root_upper(u));
        for (name, _) in vfs::dir_entries(fs.lower().mnt(), lodir, fs.creator_cred())? {
            if upper_names.binary_search(&&name[..]).is_ok()
                || (is_root && name[..] == *format::WORK_DIR_NAME)
            {
                continue;
            }
            let l = vfs::lookup_real(fs.lower().mnt(), lodir, &name)?;
            let Some(li) = l.inode() else {
                continue;
            };
            if format::is_lower_marker(&l) {
                continue;
            }
            let ino = union_ino(None, Some(li.ino()));
            entries.push(0, &name, ino, vfs::dtype_of_mode(li.mode()))?;
        }
    }
    for (i, e) in entries.items.iter_mut().enumerate() {
        e.pos = i as i64;
    }
    Ok(entries)
}

/// readdir from the in-memory merged listing (see [`build_merged`]).
fn iterate_merged(
    fs: &UnionFs,
    inode: &Inode,
    cache: &mut DirCache,
    ctx: &mut DirEmitter<'_>,
) -> Result {
    if cache.merged.is_none() {
        let _creds = fs.override_creds();
        cache.merged = Some(build_merged(fs, inode)?);
    }
    let entries = cache.merged.as_ref().ok_or(EINVAL)?;
    let from = usize::try_from(ctx.pos()).map_err(|_| EINVAL)?;
    for e in entries.items.iter().skip(from) {
        if !emit_entry(inode, ctx, entries, e) {
            return Ok(());
        }
    }
    ctx.set_pos(entries.len() as i64);
    Ok(())
}

/// Reads and translates the upper directory batch by batch, without caching.
fn iterate_live(fs: &UnionFs, inode: &Inode, real: &File, ctx: &mut DirEmitter<'_>) -> Result {
    let dir = UpperDir::of(fs, upper::file_dentry(real));
    loop {
        let (batch, end) = read_raw(real, ctx.pos(), BATCH)?;
        if batch.len() == 0 {
            ctx.set_pos(end);
            return Ok(());
        }
        for e in batch.items.iter() {
            let name = batch.name(e);
            let parent_ino = ctx.parent_ino();
            let Some((ino, t)) = translate(fs, inode, &dir, parent_ino, name, e, None)? else {
                continue;
            };
            ctx.set_pos(e.pos);
            if !ctx.emit(name, ino, t) {
                return Ok(());
            }
        }
        ctx.set_pos(end);
    }
}

/// fsync of a union directory: the upper directory, if there is one (a lower-only
/// directory has nothing written to sync).
pub(crate) fn fsync(inode: &Inode, start: i64, end: i64, datasync: bool) -> Result {
    let Some(updir) = inode.union_info().upper() else {
        return Ok(());
    };
    let fs = inode.sb().union_fs();
    let flags =
        kernel::bindings::O_RDONLY | kernel::bindings::O_DIRECTORY | kernel::bindings::O_NOATIME;
    let f = upper::open(fs.upper().mnt(), updir, flags, fs.creator_cred())?;
    upper::fsync_range(&f, start, end, datasync)
}

/// The file operations of union directories.
pub(crate) struct DirOps;

#[vtable]
impl DirOperations for DirOps {
    type Fs = crate::superblock::Union;
    type Cache = DirCache;

    fn open(_inode: &Inode) -> Result<KBox<DirCache>> {
        DirCache::new()
    }

    fn iterate(
        inode: &Inode,
        dentry: &Dentry,
        cache: &mut DirCache,
        ctx: &mut DirEmitter<'_>,
    ) -> Result {
        iterate(inode, dentry, cache, ctx)
    }

    fn fsync(inode: &Inode, start: i64, end: i64, datasync: bool) -> Result {
        fsync(inode, start, end, datasync)
    }
}
