// SPDX-License-Identifier: GPL-2.0

//! C vtables of the union filesystem and their `extern "C"` trampolines.
//!
//! Each trampoline turns the raw pointers the VFS hands over into the safe wrappers of
//! [`super`] and calls the union logic, which is safe Rust.  Nothing here decides union
//! semantics.

use super::upper::NewObject;
use super::{
    sys,
    Dentry,
    Inode,
    SuperBlock, //
};
use crate::{
    file::RealFile,
    inode::UnionInode,
    params::MountConfig,
    readdir::DirCache,
    superblock::UnionFs, //
};
use core::{
    ffi::{
        c_int,
        c_uint,
        c_void,
        CStr, //
    },
    mem::MaybeUninit,
    ptr, //
};
use kernel::{
    bindings,
    error::{
        from_result,
        to_result, //
    },
    ffi::c_char,
    fs::File,
    prelude::*,
    sync::aref::ARef,
    types::Opaque, //
};

/// Magic number of union superblocks ("UNIO").
const UNION_SUPER_MAGIC: usize = 0x554e_494f;

/// `struct file_system_type` that must live in static memory.
pub(crate) struct FsType(Opaque<bindings::file_system_type>);

// SAFETY: Written once before `register_filesystem`, then only read by the VFS.
unsafe impl Sync for FsType {}

impl FsType {
    /// The raw pointer.
    pub(crate) fn get(&self) -> *mut bindings::file_system_type {
        self.0.get()
    }
}

/// The registered filesystem type.
pub(crate) static UNION_FS_TYPE: FsType = FsType(Opaque::uninit());

/// Registration of the `union` filesystem type; unregisters on drop.
pub(crate) struct Registration;

impl Registration {
    /// Registers the `union` filesystem type.
    pub(crate) fn new(module: &'static ThisModule) -> Result<Self> {
        let fst = UNION_FS_TYPE.get();
        // SAFETY: The static is not registered yet, so nobody else reads it; all-zero is a
        // valid `file_system_type` and we fill the fields the VFS needs.
        unsafe {
            fst.write(MaybeUninit::zeroed().assume_init());
            (*fst).name = c"union".as_char_ptr();
            (*fst).owner = module.as_ptr();
            (*fst).init_fs_context = Some(init_fs_context);
            (*fst).parameters = sys::union_fs_parameters.as_ptr().cast();
            (*fst).kill_sb = Some(kill_sb);
        }
        // SAFETY: `fst` is fully initialised and static.
        to_result(unsafe { bindings::register_filesystem(fst) })?;
        Ok(Self)
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        // SAFETY: Registered in `new`.  The module cannot be unloaded while a union is
        // mounted (`owner` pins it), so no superblock uses the type any more.
        unsafe { bindings::unregister_filesystem(UNION_FS_TYPE.get()) };
    }
}

// ---------------------------------------------------------------------------------------------
// fs_context.

/// A `struct fs_context` being set up by `fsopen`/`mount`.
#[repr(transparent)]
pub(crate) struct FsContext(Opaque<sys::fs_context>);

impl FsContext {
    /// # Safety
    ///
    /// `ptr` must be a valid fs_context of the union type for `'a`, used by one task.
    unsafe fn from_raw<'a>(ptr: *mut bindings::fs_context) -> &'a FsContext {
        // SAFETY: Transparent wrapper; validity promised by the caller.
        unsafe { &*ptr.cast() }
    }

    fn as_ptr(&self) -> *mut sys::fs_context {
        self.0.get()
    }

    /// Logs `msg` as an error in the fs_context log and the kernel log.
    pub(crate) fn error(&self, msg: &CStr) {
        // SAFETY: Valid fs_context and NUL-terminated message.
        unsafe { sys::union_fc_error(self.as_ptr(), msg.as_char_ptr()) };
    }

    /// Whether this context reconfigures an existing mount (remount).
    pub(crate) fn is_reconfigure(&self) -> bool {
        // SAFETY: Valid fs_context.
        unsafe { sys::union_fc_purpose_is_reconfigure(self.as_ptr()) != 0 }
    }

    /// Whether the superblock is to be read-only (`mount -o ro`, `remount,ro`).
    pub(crate) fn wants_rdonly(&self) -> bool {
        // SAFETY: Valid fs_context.
        unsafe { sys::union_fc_wants_rdonly(self.as_ptr()) }
    }

    /// The union being reconfigured (remount), if any.
    pub(crate) fn root_union_fs(&self) -> Option<&UnionFs> {
        // SAFETY: Valid fs_context; during reconfiguration `fc->root` pins the superblock.
        let sb = unsafe { sys::union_fc_root_sb(self.as_ptr()) };
        if sb.is_null() {
            return None;
        }
        // SAFETY: See above.
        let sb = unsafe { SuperBlock::from_raw(sb.cast()) };
        sb.try_union_fs()
    }

    /// The mount configuration being built.
    ///
    /// The fs_context is used by one task at a time (the VFS serialises `fsconfig` on
    /// `uapi_mutex`), so handing out a mutable reference from `&self` is sound as long as
    /// callers do not hold two; they only ever hold one, inside one callback.
    #[expect(clippy::mut_from_ref)]
    pub(crate) fn config(&self) -> Option<&mut MountConfig> {
        // SAFETY: `fs_private` is null or the `KBox<MountConfig>` set by `init_fs_context`.
        let p = unsafe { sys::union_fc_fs_private(self.as_ptr()) }.cast::<MountConfig>();
        // SAFETY: See above; exclusive per the serialisation described above.
        unsafe { p.as_mut() }
    }
}

static CONTEXT_OPS: sys::fs_context_operations = sys::fs_context_operations {
    free: Some(fc_free),
    dup: None,
    parse_param: Some(fc_parse_param),
    parse_monolithic: None,
    get_tree: Some(fc_get_tree),
    // Layer options are checked as they are parsed (`params::check_unchanged`), and the
    // VFS applies the flags; a remount read-write makes the union writable.
    reconfigure: Some(fc_reconfigure),
};

/// # Safety
///
/// Called by the VFS for a remount, with `s_umount` held and a parsed fs_context.
unsafe extern "C" fn fc_reconfigure(fc: *mut sys::fs_context) -> c_int {
    from_result(|| {
        // SAFETY: `fc` is valid per the VFS contract.
        let ctx = unsafe { FsContext::from_raw(fc.cast()) };
        crate::superblock::reconfigure(ctx)?;
        Ok(0)
    })
}

/// # Safety
///
/// Called by the VFS with a new fs_context of our type.
unsafe extern "C" fn init_fs_context(fc: *mut bindings::fs_context) -> c_int {
    from_result(|| {
        // SAFETY: `fc` is valid per the VFS contract.
        let ctx = unsafe { FsContext::from_raw(fc) };
        let config = KBox::new(MountConfig::default(), GFP_KERNEL)?;
        // SAFETY: `fc` is valid; ownership of the box moves into `fs_private` and is taken
        // back in `fc_free` (or `fill_super`).
        unsafe {
            sys::union_fc_set_fs_private(ctx.as_ptr(), KBox::into_raw(config).cast());
            sys::union_fc_set_ops(ctx.as_ptr(), &CONTEXT_OPS);
        }
        Ok(0)
    })
}

/// # Safety
///
/// Called by the VFS once, when the fs_context is freed.
unsafe extern "C" fn fc_free(fc: *mut sys::fs_context) {
    // SAFETY: `fc` is valid.
    let p = unsafe { sys::union_fc_fs_private(fc) }.cast::<MountConfig>();
    if !p.is_null() {
        // SAFETY: `p` came from `KBox::into_raw` in `init_fs_context`; reclaimed once.
        drop(unsafe { KBox::from_raw(p) });
        // SAFETY: `fc` is valid.
        unsafe { sys::union_fc_set_fs_private(fc, ptr::null_mut()) };
    }
}

/// # Safety
///
/// Called by the VFS with a valid fs_context and parameter.
unsafe extern "C" fn fc_parse_param(
    fc: *mut sys::fs_context,
    param: *mut sys::fs_parameter,
) -> c_int {
    from_result(|| {
        // SAFETY: `fc` is valid per the VFS contract.
        let ctx = unsafe { FsContext::from_raw(fc.cast()) };
        let mut result = MaybeUninit::<sys::fs_parse_result>::zeroed();
        // SAFETY: Valid pointers; `fs_parse` logs unknown or malformed parameters itself.
        let opt = unsafe { sys::union_fs_parse(fc, param, result.as_mut_ptr()) };
        if opt < 0 {
            return Err(Error::from_errno(opt));
        }
        // SAFETY: `param` is valid; key and string are NUL-terminated when non-null.
        let (key, value) = unsafe {
            let k = sys::union_param_key(param);
            let v = sys::union_param_string(param);
            (
                CStr::from_char_ptr(k),
                (!v.is_null()).then(|| CStr::from_char_ptr(v)),
            )
        };
        crate::params::parse_param(ctx, opt as u32, key, value)?;
        Ok(0)
    })
}

/// # Safety
///
/// Called by the VFS with a valid, fully parsed fs_context.
unsafe extern "C" fn fc_get_tree(fc: *mut sys::fs_context) -> c_int {
    // SAFETY: `fc` is valid; `fill_super` matches the callback type.
    unsafe { sys::union_get_tree_nodev(fc, Some(fill_super)) }
}

/// # Safety
///
/// Called by `get_tree_nodev` with a new superblock.
unsafe extern "C" fn fill_super(sb: *mut bindings::super_block, fc: *mut sys::fs_context) -> c_int {
    from_result(|| {
        // SAFETY: `fc` is valid for the call.
        let ctx = unsafe { FsContext::from_raw(fc.cast()) };
        // SAFETY: `sb` is a new superblock we own until `fill_super` returns.
        let sbw = unsafe { SuperBlock::from_raw(sb) };
        let config = ctx.config().ok_or(EINVAL)?;
        let fs = crate::superblock::UnionFs::new(ctx, config)?;
        let depth = fs.stack_depth();
        // SAFETY: The superblock is ours to set up; the union fs box is leaked into
        // `s_fs_info` and reclaimed in `kill_sb`.
        unsafe {
            (*sb).s_magic = UNION_SUPER_MAGIC;
            (*sb).s_op = &SUPER_OPS;
            (*sb).s_xattr = XATTR_HANDLERS.0.as_ptr().cast();
            (*sb).s_time_gran = 1;
            (*sb).s_stack_depth = depth;
            sys::union_sb_setup(sb);
            (*sb).s_fs_info = KBox::into_raw(fs).cast();
        }
        let root = crate::inode::root_inode(sbw)?;
        // SAFETY: `d_make_root` consumes the inode reference (also on failure).
        let root_dentry = unsafe { bindings::d_make_root(ARef::into_raw(root).as_ptr().cast()) };
        if root_dentry.is_null() {
            return Err(ENOMEM);
        }
        // SAFETY: Setting the root of our new superblock.
        unsafe { (*sb).s_root = root_dentry };
        Ok(0)
    })
}

/// # Safety
///
/// Called by the VFS when the last reference to a union superblock goes.
unsafe extern "C" fn kill_sb(sb: *mut bindings::super_block) {
    // SAFETY: `sb` is valid; read before `kill_anon_super` tears it down.
    let fs = unsafe { (*sb).s_fs_info }.cast::<UnionFs>();
    // SAFETY: Evicts all inodes (dropping their real-layer references) and frees the
    // anonymous device.
    unsafe { bindings::kill_anon_super(sb) };
    if !fs.is_null() {
        // SAFETY: Leaked in `fill_super`; no inode or dentry refers to it any more.
        drop(unsafe { KBox::from_raw(fs) });
    }
}

// ---------------------------------------------------------------------------------------------
// super_operations.

const SUPER_OPS: bindings::super_operations = bindings::super_operations {
    statfs: Some(sop_statfs),
    show_options: Some(sop_show_options),
    evict_inode: Some(sop_evict_inode),
    drop_inode: Some(bindings::inode_just_drop),
    sync_fs: Some(sop_sync_fs),
    // SAFETY: All-zero is a valid `super_operations` (all callbacks `None`).
    ..unsafe { MaybeUninit::zeroed().assume_init() }
};

/// # Safety
///
/// Called by the VFS with a dentry of a union superblock.
unsafe extern "C" fn sop_statfs(
    dentry: *mut bindings::dentry,
    buf: *mut bindings::kstatfs,
) -> c_int {
    let buf = buf.cast::<sys::kstatfs>();
    from_result(|| {
        // SAFETY: Valid for the call.
        let (d, buf) = unsafe { (Dentry::from_raw(dentry), &mut *buf) };
        crate::superblock::statfs(d.sb().union_fs(), buf)?;
        Ok(0)
    })
}

/// # Safety
///
/// Called by the VFS (sync, syncfs) with `s_umount` held.
unsafe extern "C" fn sop_sync_fs(sb: *mut bindings::super_block, wait: c_int) -> c_int {
    from_result(|| {
        // SAFETY: Valid for the call.
        let sb = unsafe { SuperBlock::from_raw(sb) };
        crate::superblock::sync_fs(sb.union_fs(), wait != 0)?;
        Ok(0)
    })
}

/// Writes to a `seq_file` for `show_options`.
pub(crate) struct SeqFile(*mut bindings::seq_file);

impl SeqFile {
    /// Writes `,name=value` with the value escaped as /proc/mounts needs.
    pub(crate) fn show_option(&self, name: &CStr, value: &CStr) {
        // SAFETY: `self.0` is the valid seq_file of the running `show_options` call.
        unsafe {
            sys::union_seq_show_option(self.0.cast(), name.as_char_ptr(), value.as_char_ptr())
        };
    }
}

/// # Safety
///
/// Called by the VFS with a seq_file and the root of a union mount.
unsafe extern "C" fn sop_show_options(
    m: *mut bindings::seq_file,
    root: *mut bindings::dentry,
) -> c_int {
    // SAFETY: Valid for the call.
    let d = unsafe { Dentry::from_raw(root) };
    crate::superblock::show_options(d.sb().union_fs(), &SeqFile(m));
    0
}

/// # Safety
///
/// Called by the VFS once per inode of a union superblock as it dies.
unsafe extern "C" fn sop_evict_inode(inode: *mut bindings::inode) {
    // SAFETY: `inode` is valid and being evicted.
    unsafe {
        bindings::truncate_inode_pages_final(&mut (*inode).i_data);
        bindings::clear_inode(inode);
        let info = (*inode).i_private.cast::<UnionInode>();
        (*inode).i_private = ptr::null_mut();
        if !info.is_null() {
            // SAFETY: Leaked from a pinned box by `get_union_inode`; this is the only place
            // it is reclaimed.
            drop(Pin::new_unchecked(KBox::from_raw(info)));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Inodes.

/// What the union logic decided an inode looks like.
pub(crate) struct NewInode {
    /// Mode (file type and permission bits).
    pub(crate) mode: u32,
    /// Device number for device nodes.
    pub(crate) rdev: u32,
    /// Union inode number.
    pub(crate) ino: u64,
    /// Link count to report (`None`: the real inode's).
    pub(crate) nlink: Option<u32>,
    /// Whether the inode is found again by its real inode (`iget5_locked`); a lower file
    /// with several hard links gets one union inode per name instead.
    pub(crate) hashed: bool,
    /// Called once for a new inode, before anyone else sees it: the protection flags
    /// (`S_APPEND`, `S_IMMUTABLE`) it has beyond its real inode's.
    pub(crate) prot: fn(&Inode) -> u32,
}

struct IgetData {
    key: usize,
    info: *mut UnionInode,
}

/// # Safety
///
/// Called by `iget5_locked` under `inode_hash_lock` with our `IgetData`.
unsafe extern "C" fn iget_test(inode: *mut bindings::inode, data: *mut c_void) -> c_int {
    // SAFETY: `data` is the `IgetData` on the caller's stack, whose `info` is the caller's
    // valid (not yet shared) `UnionInode`; hashed union inodes always have `i_private` set
    // (by `iget_set` or `get_union_inode`, before they are hashed) until `evict_inode`.
    unsafe {
        let info = (*inode).i_private as *const UnionInode;
        let data = &*data.cast::<IgetData>();
        c_int::from(
            !info.is_null() && (*info).key() == data.key && (*info).same_layers(&*data.info),
        )
    }
}

/// # Safety
///
/// Called by `iget5_locked` under `inode_hash_lock` for a new inode.
unsafe extern "C" fn iget_set(inode: *mut bindings::inode, data: *mut c_void) -> c_int {
    // SAFETY: `inode` is new and locked; store our data before it becomes visible.
    unsafe { (*inode).i_private = (*data.cast::<IgetData>()).info.cast() };
    0
}

/// Finds or creates the union inode for `info` (keyed by its real inode, like overlayfs'
/// `ovl_get_inode`), so hard links on a layer share one union inode.
pub(crate) fn get_union_inode(
    sb: &SuperBlock,
    info: Pin<KBox<UnionInode>>,
    new: NewInode,
) -> Result<ARef<Inode>> {
    let key = info.key();
    // SAFETY: The box is only moved as a pointer; it is never unpinned (we rebuild the
    // `Pin` before dropping it).
    let raw = KBox::into_raw(unsafe { Pin::into_inner_unchecked(info) });
    let mut data = IgetData { key, info: raw };
    let inode = if new.hashed {
        // SAFETY: Valid superblock and callbacks; `data` outlives the call.
        unsafe {
            bindings::iget5_locked(
                sb.as_ptr(),
                key as u64,
                Some(iget_test),
                Some(iget_set),
                ptr::from_mut(&mut data).cast(),
            )
        }
    } else {
        // SAFETY: Valid superblock; the new inode is ours until we hand it out.
        unsafe {
            let i = bindings::new_inode(sb.as_ptr());
            if !i.is_null() {
                (*i).i_private = raw.cast();
            }
            i
        }
    };
    if inode.is_null() {
        // SAFETY: `raw` was not consumed; it came from a pinned box.
        drop(unsafe { Pin::new_unchecked(KBox::from_raw(raw)) });
        return Err(ENOMEM);
    }
    // SAFETY: `iget5_locked` returned a referenced inode.
    let is_new = unsafe { (*inode).i_private } == raw.cast();
    if is_new {
        // SAFETY: A new, locked inode: set it up, then unlock it.
        unsafe {
            let (iop, fop) = ops_for_mode(new.mode);
            sys::union_inode_init(
                inode,
                new.mode as u16,
                new.rdev,
                new.ino,
                iop,
                fop,
                raw.cast(),
            );
            if matches!(
                new.mode & super::S_IFMT,
                0o020000 | 0o060000 | 0o010000 | 0o140000
            ) {
                bindings::init_special_inode(inode, new.mode as u16, new.rdev);
                (*inode).i_op = &SPECIAL_IOPS;
            }
        }
        // SAFETY: `inode` is valid and referenced.
        let w = unsafe { Inode::from_raw(inode) };
        if let Some(real) = w.union_info().real_inode() {
            w.copy_attr_from(real);
            w.copy_flags_from(real, (new.prot)(w));
            w.set_nlink(new.nlink.unwrap_or_else(|| real_nlink(real)));
        }
        if new.hashed {
            // SAFETY: The inode is fully set up.
            unsafe { bindings::unlock_new_inode(inode) };
        }
    } else {
        // SAFETY: `raw` was not stored; reclaim it (it came from a pinned box).
        drop(unsafe { Pin::new_unchecked(KBox::from_raw(raw)) });
    }
    // SAFETY: We own the reference returned by `iget5_locked`.
    Ok(unsafe { ARef::from_raw(ptr::NonNull::new_unchecked(inode.cast())) })
}

fn real_nlink(real: &Inode) -> u32 {
    // SAFETY: Reading `__i_nlink` of a valid inode (racy but only reported to users).
    unsafe { (*real.as_ptr()).__bindgen_anon_1.i_nlink }
}

fn ops_for_mode(
    mode: u32,
) -> (
    *const bindings::inode_operations,
    *const bindings::file_operations,
) {
    match mode & super::S_IFMT {
        super::S_IFDIR => (&DIR_IOPS, &DIR_FOPS),
        super::S_IFREG => (&FILE_IOPS, &FILE_FOPS),
        super::S_IFLNK => (&SYMLINK_IOPS, ptr::null()),
        _ => (&SPECIAL_IOPS, ptr::null()),
    }
}

const DIR_IOPS: bindings::inode_operations = bindings::inode_operations {
    lookup: Some(iop_lookup),
    create: Some(iop_create),
    mkdir: Some(iop_mkdir),
    mknod: Some(iop_mknod),
    symlink: Some(iop_symlink),
    link: Some(iop_link),
    unlink: Some(iop_unlink),
    rmdir: Some(iop_rmdir),
    rename: Some(iop_rename),
    setattr: Some(iop_setattr),
    getattr: Some(iop_getattr),
    permission: Some(iop_permission),
    get_inode_acl: Some(iop_get_inode_acl),
    get_acl: Some(iop_get_acl),
    set_acl: Some(iop_set_acl),
    listxattr: Some(iop_listxattr),
    tmpfile: Some(iop_tmpfile),
    fileattr_get: Some(iop_fileattr_get),
    fileattr_set: Some(iop_fileattr_set),
    // SAFETY: All-zero is a valid `inode_operations`.
    ..unsafe { MaybeUninit::zeroed().assume_init() }
};

const FILE_IOPS: bindings::inode_operations = bindings::inode_operations {
    setattr: Some(iop_setattr),
    getattr: Some(iop_getattr),
    permission: Some(iop_permission),
    get_inode_acl: Some(iop_get_inode_acl),
    get_acl: Some(iop_get_acl),
    set_acl: Some(iop_set_acl),
    listxattr: Some(iop_listxattr),
    fiemap: Some(iop_fiemap),
    fileattr_get: Some(iop_fileattr_get),
    fileattr_set: Some(iop_fileattr_set),
    // SAFETY: All-zero is a valid `inode_operations`.
    ..unsafe { MaybeUninit::zeroed().assume_init() }
};

const SYMLINK_IOPS: bindings::inode_operations = bindings::inode_operations {
    setattr: Some(iop_setattr),
    get_link: Some(iop_get_link),
    getattr: Some(iop_getattr),
    listxattr: Some(iop_listxattr),
    // SAFETY: All-zero is a valid `inode_operations`.
    ..unsafe { MaybeUninit::zeroed().assume_init() }
};

const SPECIAL_IOPS: bindings::inode_operations = bindings::inode_operations {
    setattr: Some(iop_setattr),
    getattr: Some(iop_getattr),
    permission: Some(iop_permission),
    get_inode_acl: Some(iop_get_inode_acl),
    get_acl: Some(iop_get_acl),
    set_acl: Some(iop_set_acl),
    listxattr: Some(iop_listxattr),
    // SAFETY: All-zero is a valid `inode_operations`.
    ..unsafe { MaybeUninit::zeroed().assume_init() }
};

/// # Safety
///
/// Called by the VFS with the parent directory locked (shared) and a new dentry.
unsafe extern "C" fn iop_lookup(
    dir: *mut bindings::inode,
    dentry: *mut bindings::dentry,
    _flags: c_uint,
) -> *mut bindings::dentry {
    // SAFETY: Valid for the call.
    // The name of a dentry being looked up is stable: the parent is locked.
    let (dir, name) = unsafe {
        let mut len = 0;
        let p = sys::union_d_name(dentry, &mut len);
        (
            Inode::from_raw(dir),
            core::slice::from_raw_parts(p, len as usize),
        )
    };
    match crate::namei::lookup(dir, name) {
        Ok(inode) => {
            let raw = inode.map_or(ptr::null_mut(), |i| ARef::into_raw(i).as_ptr().cast());
            // SAFETY: `d_splice_alias` consumes the inode reference.
            unsafe { bindings::d_splice_alias(raw, dentry) }
        }
        Err(e) => e.to_ptr(),
    }
}

/// # Safety
///
/// Called by the VFS with a valid path and stat buffer.
unsafe extern "C" fn iop_getattr(
    _idmap: *mut bindings::mnt_idmap,
    path: *const bindings::path,
    stat: *mut bindings::kstat,
    request_mask: u32,
    flags: c_uint,
) -> c_int {
    from_result(|| {
        // SAFETY: Valid for the call.
        let (d, stat) = unsafe { (Dentry::from_raw((*path).dentry), &mut *stat) };
        crate::inode::getattr(d, stat, request_mask, flags)?;
        Ok(0)
    })
}

/// # Safety
///
/// Called by the VFS with a valid inode.
unsafe extern "C" fn iop_permission(
    idmap: *mut bindings::mnt_idmap,
    inode: *mut bindings::inode,
    mask: c_int,
) -> c_int {
    // SAFETY: Valid for the call; the inode (and its union state) stays alive for it, also
    // in RCU walk mode (`MAY_NOT_BLOCK`), where the union state's references pin the real
    // objects.
    let (inode, idmap) = unsafe { (Inode::from_raw(inode), idmap) };
    match crate::inode::permission(inode, mask, |i, m| {
        // SAFETY: `i` is the union inode, valid for the call.
        to_result(unsafe { bindings::generic_permission(idmap, i.as_ptr(), m) })
    }) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// # Safety
///
/// Called by the VFS for permission checks with a valid union inode; with `rcu`, in RCU
/// walk mode (the union state's references pin the real inode).
unsafe extern "C" fn iop_get_inode_acl(
    inode: *mut bindings::inode,
    type_: c_int,
    rcu: bool,
) -> *mut bindings::posix_acl {
    // SAFETY: The VFS passes a union inode it holds a reference to for the whole call (in
    // RCU walk mode, the RCU read lock keeps it from being freed), so the borrow does not
    // outlive it.
    let inode = unsafe { Inode::from_raw(inode) };
    let Some(real) = crate::acl::real_for_permission(inode) else {
        return ECHILD.to_ptr();
    };
    if rcu {
        // SAFETY: `real` is a valid inode; RCU mode returns the cached ACL unreferenced,
        // as `->get_inode_acl` with `rcu` must.
        return unsafe { sys::union_real_get_inode_acl(real.as_ptr(), type_, true) };
    }
    let _creds = inode.sb().union_fs().override_creds();
    // SAFETY: `real` is a valid inode; returns a referenced ACL, NULL or an error pointer,
    // which the caller owns.
    unsafe { sys::union_real_get_inode_acl(real.as_ptr(), type_, false) }
}

/// # Safety
///
/// Called by the VFS (`vfs_get_acl`) with a valid positive union dentry.
unsafe extern "C" fn iop_get_acl(
    _idmap: *mut bindings::mnt_idmap,
    dentry: *mut bindings::dentry,
    type_: c_int,
) -> *mut bindings::posix_acl {
    // SAFETY: `vfs_get_acl` holds a reference to the positive union dentry for the call.
    let d = unsafe { Dentry::from_raw(dentry) };
    // SAFETY: Valid idmap and real dentry; the result (a referenced ACL, NULL or an error
    // pointer) is handed to the caller.
    match crate::acl::get(d, |mnt, real| unsafe {
        sys::union_real_get_acl(mnt.idmap(), real.as_ptr(), type_)
    }) {
        Ok(acl) => acl,
        Err(e) => e.to_ptr(),
    }
}

/// # Safety
///
/// Called by the VFS (`vfs_set_acl`/`vfs_remove_acl`) with a valid positive union dentry,
/// its inode locked, and `acl` valid or NULL for the call.
unsafe extern "C" fn iop_set_acl(
    _idmap: *mut bindings::mnt_idmap,
    dentry: *mut bindings::dentry,
    acl: *mut bindings::posix_acl,
    type_: c_int,
) -> c_int {
    from_result(|| {
        // SAFETY: `vfs_set_acl`/`vfs_remove_acl` hold a reference to the positive union
        // dentry (and its inode lock) for the call.
        let d = unsafe { Dentry::from_raw(dentry) };
        crate::acl::set(d, |mnt, upper| {
            // SAFETY: Valid idmap and upper dentry (not locked by us: the upper inode is
            // another inode than the locked union one); `acl` is valid for the call.
            to_result(unsafe { sys::union_real_set_acl(mnt.idmap(), upper.as_ptr(), type_, acl) })
        })?;
        Ok(0)
    })
}

/// # Safety
///
/// Called by the VFS with a valid dentry; `buf` is null or writable for `size` bytes.
unsafe extern "C" fn iop_listxattr(
    dentry: *mut bindings::dentry,
    buf: *mut c_char,
    size: usize,
) -> isize {
    // SAFETY: Valid for the call.
    let d = unsafe { Dentry::from_raw(dentry) };
    let out = if buf.is_null() || size == 0 {
        None
    } else {
        // SAFETY: `buf` is writable for `size` bytes per the VFS contract.
        Some(unsafe { core::slice::from_raw_parts_mut(buf.cast::<u8>(), size) })
    };
    match crate::xattr::listxattr(d, out) {
        Ok(n) => n as isize,
        Err(e) => e.to_errno() as isize,
    }
}

/// # Safety
///
/// Called by the VFS for a union symlink; `dentry` is null in RCU walk.
unsafe extern "C" fn iop_get_link(
    dentry: *mut bindings::dentry,
    _inode: *mut bindings::inode,
    done: *mut bindings::delayed_call,
) -> *const c_char {
    if dentry.is_null() {
        return ECHILD.to_ptr();
    }
    // SAFETY: Valid for the call.
    let d = unsafe { Dentry::from_raw(dentry) };
    match crate::inode::get_link(d) {
        Ok(target) => {
            let p = KBox::into_raw(target);
            // SAFETY: `done` is valid; `free_link` reclaims the box after the VFS is done.
            unsafe {
                (*done).fn_ = Some(free_link);
                (*done).arg = p.cast();
                (**p).as_char_ptr()
            }
        }
        Err(e) => e.to_ptr(),
    }
}

/// # Safety
///
/// Called once by the VFS with the `arg` set in `iop_get_link`.
unsafe extern "C" fn free_link(arg: *mut c_void) {
    // SAFETY: `arg` is the leaked box from `iop_get_link`.
    drop(unsafe { KBox::from_raw(arg.cast::<kernel::str::CString>()) });
}

// ---------------------------------------------------------------------------------------------
// xattr handlers.

struct XattrHandlers([*const bindings::xattr_handler; 2]);
// SAFETY: Immutable static data pointing to immutable static data.
unsafe impl Sync for XattrHandlers {}

const OTHER_XATTR_HANDLER: bindings::xattr_handler = bindings::xattr_handler {
    name: ptr::null(),
    prefix: c"".to_bytes_with_nul().as_ptr(),
    flags: 0,
    list: None,
    get: Some(xattr_get),
    set: Some(xattr_set),
};

static XATTR_HANDLERS: XattrHandlers = XattrHandlers([&OTHER_XATTR_HANDLER, ptr::null()]);

/// # Safety
///
/// Called by the VFS with valid pointers; `buffer` is null or writable for `size` bytes.
unsafe extern "C" fn xattr_get(
    _handler: *const bindings::xattr_handler,
    dentry: *mut bindings::dentry,
    _inode: *mut bindings::inode,
    name: *const c_char,
    buffer: *mut c_void,
    size: usize,
) -> c_int {
    // SAFETY: Valid for the call.
    let (d, name) = unsafe { (Dentry::from_raw(dentry), CStr::from_char_ptr(name)) };
    let mut empty = [0u8; 0];
    let buf = if buffer.is_null() || size == 0 {
        &mut empty[..]
    } else {
        // SAFETY: Writable for `size` bytes per the VFS contract.
        unsafe { core::slice::from_raw_parts_mut(buffer.cast::<u8>(), size) }
    };
    match crate::xattr::getxattr(d, name, buf) {
        Ok(n) => n as c_int,
        Err(e) => e.to_errno(),
    }
}

/// # Safety
///
/// Called by the VFS with valid pointers.
unsafe extern "C" fn xattr_set(
    _handler: *const bindings::xattr_handler,
    _idmap: *mut bindings::mnt_idmap,
    dentry: *mut bindings::dentry,
    _inode: *mut bindings::inode,
    name: *const c_char,
    buffer: *const c_void,
    size: usize,
    flags: c_int,
) -> c_int {
    from_result(|| {
        // SAFETY: Valid for the call; `buffer` is null (remove) or readable for `size`.
        let (d, name, value) = unsafe {
            (
                Dentry::from_raw(dentry),
                CStr::from_char_ptr(name),
                (!buffer.is_null()).then(|| core::slice::from_raw_parts(buffer.cast::<u8>(), size)),
            )
        };
        crate::xattr::setxattr(d, name, value, flags)?;
        Ok(0)
    })
}

// ---------------------------------------------------------------------------------------------
// Directories.

const DIR_FOPS: bindings::file_operations = bindings::file_operations {
    open: Some(dir_open),
    release: Some(dir_release),
    iterate_shared: Some(dir_iterate),
    llseek: Some(bindings::generic_file_llseek),
    read: Some(bindings::generic_read_dir),
    fsync: Some(dir_fsync),
    // SAFETY: All-zero is a valid `file_operations`.
    ..unsafe { MaybeUninit::zeroed().assume_init() }
};

/// # Safety
///
/// Called by the VFS when a union directory is opened.
unsafe extern "C" fn dir_open(_inode: *mut bindings::inode, file: *mut bindings::file) -> c_int {
    from_result(|| {
        let cache = DirCache::new()?;
        // SAFETY: `file` is being opened; we own `private_data` until `dir_release`.
        unsafe { sys::union_file_set_private(file, KBox::into_raw(cache).cast()) };
        Ok(0)
    })
}

/// # Safety
///
/// Called by the VFS for fsync/fdatasync on an open union directory.
unsafe extern "C" fn dir_fsync(
    file: *mut bindings::file,
    start: i64,
    end: i64,
    datasync: c_int,
) -> c_int {
    from_result(|| {
        // SAFETY: An open file pins its inode.
        let inode = unsafe { Inode::from_raw(sys::union_file_inode(file)) };
        crate::readdir::fsync(inode, start, end, datasync != 0)?;
        Ok(0)
    })
}

/// # Safety
///
/// Called once by the VFS when the last reference to the file goes.
unsafe extern "C" fn dir_release(_inode: *mut bindings::inode, file: *mut bindings::file) -> c_int {
    // SAFETY: `private_data` is the box from `dir_open`.
    unsafe {
        let p = sys::union_file_private(file).cast::<DirCache>();
        if !p.is_null() {
            drop(KBox::from_raw(p));
        }
    }
    0
}

/// Emits directory entries to a `getdents` caller.
pub(crate) struct DirEmitter(*mut bindings::dir_context, u64);

impl DirEmitter {
    /// The position the caller wants to read from.
    pub(crate) fn pos(&self) -> i64 {
        // SAFETY: Valid for the running `iterate_shared` call.
        unsafe { (*self.0).pos }
    }

    /// Sets the position for the next call.
    pub(crate) fn set_pos(&mut self, pos: i64) {
        // SAFETY: Valid for the running `iterate_shared` call.
        unsafe { (*self.0).pos = pos };
    }

    /// The inode number of the parent of the directory being read (for `..`).
    pub(crate) fn parent_ino(&self) -> u64 {
        self.1
    }

    /// Emits one entry; returns false when the caller's buffer is full.
    pub(crate) fn emit(&mut self, name: &[u8], ino: u64, d_type: u8) -> bool {
        // SAFETY: Valid context; `name` is valid for its length.
        unsafe {
            sys::union_dir_emit(
                self.0,
                name.as_ptr(),
                name.len() as c_int,
                ino,
                c_uint::from(d_type),
            )
        }
    }
}

/// # Safety
///
/// Called by the VFS with the directory inode locked shared and `f_pos_lock` held.
unsafe extern "C" fn dir_iterate(
    file: *mut bindings::file,
    ctx: *mut bindings::dir_context,
) -> c_int {
    from_result(|| {
        // SAFETY: Valid for the call; the cache box lives until `dir_release`, and getdents
        // on one open file is serialised by `f_pos_lock`.
        let (inode, cache) = unsafe {
            (
                Inode::from_raw(sys::union_file_inode(file)),
                &mut *sys::union_file_private(file).cast::<DirCache>(),
            )
        };
        // SAFETY: An open file pins its dentry, and a dentry pins its parent.
        let (dentry, parent_ino) = unsafe {
            let d = (*file).__bindgen_anon_1.f_path.dentry;
            (
                Dentry::from_raw(d),
                Inode::from_raw((*(*d).d_parent).d_inode).ino(),
            )
        };
        crate::readdir::iterate(inode, dentry, cache, &mut DirEmitter(ctx, parent_ino))?;
        Ok(0)
    })
}

/// Callback for every entry: name, inode number, `d_type`.
pub(crate) type EmitAll<'a> = &'a mut dyn FnMut(&[u8], u64, u8) -> Result;
/// Callback with the entry's position; `Ok(false)` stops before the entry.
pub(crate) type EmitPositioned<'a> = &'a mut dyn FnMut(&[u8], u64, u8, i64) -> Result<bool>;

/// What a [`ReadDirCtx`] does with each entry.
enum Emit<'a> {
    /// Every entry, until an error.
    All(EmitAll<'a>),
    /// With the entry's position; `Ok(false)` stops before the entry.
    Positioned(EmitPositioned<'a>),
}

/// The `dir_context` used to read a real directory.
#[repr(C)]
pub(crate) struct ReadDirCtx<'a> {
    ctx: bindings::dir_context,
    emit: Emit<'a>,
    pub(crate) count: usize,
    pub(crate) stopped: bool,
    err: Option<Error>,
}

impl<'a> ReadDirCtx<'a> {
    fn with(emit: Emit<'a>) -> Self {
        Self {
            ctx: bindings::dir_context {
                actor: Some(Self::actor),
                pos: 0,
                count: c_int::MAX,
                dt_flags_mask: 0,
            },
            emit,
            count: 0,
            stopped: false,
            err: None,
        }
    }

    /// A context passing every entry to `emit`.
    pub(crate) fn new(emit: EmitAll<'a>) -> Self {
        Self::with(Emit::All(emit))
    }

    /// A context passing entries and their positions to `emit`, which may stop early.
    pub(crate) fn new_positioned(emit: EmitPositioned<'a>) -> Self {
        Self::with(Emit::Positioned(emit))
    }

    pub(crate) fn as_dir_context(&mut self) -> *mut bindings::dir_context {
        &mut self.ctx
    }

    pub(crate) fn take_error(&mut self) -> Result {
        self.err.take().map_or(Ok(()), Err)
    }

    /// # Safety
    ///
    /// Called by `iterate_dir` with the `dir_context` embedded first in a `ReadDirCtx`.
    unsafe extern "C" fn actor(
        ctx: *mut bindings::dir_context,
        name: *const c_char,
        namelen: c_int,
        offset: i64,
        ino: u64,
        d_type: c_uint,
    ) -> bool {
        // SAFETY: `ctx` is the first field of a `#[repr(C)] ReadDirCtx` (see `with`).
        let this = unsafe { &mut *ctx.cast::<ReadDirCtx<'_>>() };
        // SAFETY: `name` is valid for `namelen` bytes during the callback.
        let name = unsafe { core::slice::from_raw_parts(name.cast::<u8>(), namelen as usize) };
        let r = match &mut this.emit {
            Emit::All(f) => f(name, ino, d_type as u8).map(|()| true),
            Emit::Positioned(f) => f(name, ino, d_type as u8, offset),
        };
        match r {
            Ok(true) => {
                this.count += 1;
                true
            }
            Ok(false) => {
                this.stopped = true;
                false
            }
            Err(e) => {
                this.err = Some(e);
                false
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Regular files.

const FILE_FOPS: bindings::file_operations = bindings::file_operations {
    open: Some(file_open),
    release: Some(file_release),
    read_iter: Some(file_read_iter),
    write_iter: Some(file_write_iter),
    splice_read: Some(file_splice_read),
    splice_write: Some(file_splice_write),
    fsync: Some(file_fsync),
    fallocate: Some(file_fallocate),
    mmap: Some(file_mmap),
    llseek: Some(file_llseek),
    fadvise: Some(file_fadvise),
    copy_file_range: Some(file_copy_file_range),
    remap_file_range: Some(file_remap_file_range),
    // SAFETY: All-zero is a valid `file_operations`.
    ..unsafe { MaybeUninit::zeroed().assume_init() }
};

impl RealFile {
    /// The real file behind an open union file.
    ///
    /// # Safety
    ///
    /// `file` must be an open union regular file (opened by `file_open`).
    unsafe fn of<'a>(file: *mut bindings::file) -> &'a RealFile {
        // SAFETY: `private_data` holds the box set by `file_open` until `file_release`.
        unsafe { &*(sys::union_file_private(file).cast::<RealFile>()) }
    }
}

/// # Safety
///
/// Called by the VFS when a union regular file is opened.
unsafe extern "C" fn file_open(inode: *mut bindings::inode, file: *mut bindings::file) -> c_int {
    from_result(|| {
        // SAFETY: Valid for the call; an opening file pins its dentry.
        let (inode, f, d) = unsafe {
            (
                Inode::from_raw(inode),
                File::from_raw_file(file),
                Dentry::from_raw((*file).__bindgen_anon_1.f_path.dentry),
            )
        };
        let real = crate::file::open(inode, d, f)?;
        // SAFETY: Both files are valid; the union file is still being opened.
        unsafe { sys::union_file_inherit_odirect(file, real.file().as_ptr()) };
        // SAFETY: We own `private_data` until `file_release`.
        unsafe { sys::union_file_set_private(file, KBox::into_raw(real).cast()) };
        Ok(0)
    })
}

/// # Safety
///
/// Called once when the last reference to the union file goes.
unsafe extern "C" fn file_release(
    _inode: *mut bindings::inode,
    file: *mut bindings::file,
) -> c_int {
    // SAFETY: Reclaims the box set by `file_open`.
    unsafe {
        let p = sys::union_file_private(file).cast::<RealFile>();
        if !p.is_null() {
            drop(KBox::from_raw(p));
        }
    }
    0
}

/// Backing-file context: real-layer I/O runs with the mounter's credentials.
fn backing_ctx(file: *mut bindings::file) -> sys::backing_file_ctx {
    // SAFETY: `file` is an open union file, so its superblock (and `UnionFs`) are alive.
    let inode = unsafe { Inode::from_raw(sys::union_file_inode(file)) };
    sys::backing_file_ctx {
        cred: inode.sb().union_fs().creator_cred().as_ptr(),
        accessed: Some(file_accessed),
        end_write: Some(file_end_write),
    }
}

/// # Safety
///
/// Called by the backing-file helpers with the union file after a read.
unsafe extern "C" fn file_accessed(file: *mut bindings::file) {
    // SAFETY: `file` is an open union file, so its inode is valid.
    let inode = unsafe { Inode::from_raw(sys::union_file_inode(file)) };
    // The attributes follow the object users see now (upper once copied up), never the
    // layer this descriptor happened to read from: a read through a descriptor opened on
    // the lower file before a chmod's copy-up must not bring the lower mode back.
    crate::inode::refresh_attr(inode);
}

/// # Safety
///
/// Called by the VFS for reads on an open union file.
unsafe extern "C" fn file_read_iter(
    iocb: *mut bindings::kiocb,
    iter: *mut bindings::iov_iter,
) -> isize {
    // SAFETY: The VFS passes a valid kiocb whose `ki_filp` is an open union regular file
    // for the call; its private data is the `RealFile` `file_open` set, whose real files
    // stay open while the union file is, so `real` is a valid open file for the helpers.
    unsafe {
        let file = (*iocb).ki_filp;
        let real = match RealFile::of(file).current(File::from_raw_file(file)) {
            Ok(r) => r,
            Err(e) => return e.to_errno() as isize,
        };
        let r = sys::union_sync_setfl(real.as_ptr(), file);
        if r != 0 {
            return r as isize;
        }
        let mut ctx = backing_ctx(file);
        sys::backing_file_read_iter(real.as_ptr(), iter, iocb, (*iocb).ki_flags, &mut ctx)
    }
}

/// Runs a backing-file splice helper on a kiocb carrying `*ppos` (as overlayfs'
/// `ovl_splice_read` does), then stores the new position back.
///
/// # Safety
///
/// `file` must be an open union regular file and `ppos` valid for the call.
unsafe fn splice_at(
    file: *mut bindings::file,
    ppos: *mut i64,
    op: impl FnOnce(*mut bindings::kiocb, &mut sys::backing_file_ctx) -> isize,
) -> isize {
    let mut ctx = backing_ctx(file);
    // SAFETY: All-zero is a valid kiocb; we set the file and position.
    let mut iocb = unsafe { MaybeUninit::<bindings::kiocb>::zeroed().assume_init() };
    iocb.ki_filp = file;
    // SAFETY: `ppos` is valid for the call.
    iocb.ki_pos = unsafe { *ppos };
    let r = op(&mut iocb, &mut ctx);
    // SAFETY: As above.
    unsafe { *ppos = iocb.ki_pos };
    r
}

/// # Safety
///
/// Called by the VFS for splice reads on an open union file.
unsafe extern "C" fn file_splice_read(
    file: *mut bindings::file,
    ppos: *mut i64,
    pipe: *mut bindings::pipe_inode_info,
    len: usize,
    flags: c_uint,
) -> isize {
    // SAFETY: Valid for the call: an open union file and its private data.
    let real = match unsafe { RealFile::of(file).current(File::from_raw_file(file)) } {
        Ok(r) => r.as_ptr(),
        Err(e) => return e.to_errno() as isize,
    };
    // SAFETY: Forwarded VFS contract; `real` stays open while `file` is.
    unsafe {
        splice_at(file, ppos, |iocb, ctx| {
            sys::backing_file_splice_read(real, iocb, pipe, len, flags, ctx)
        })
    }
}

/// # Safety
///
/// Called by the VFS to mmap an open union file.
unsafe extern "C" fn file_mmap(
    file: *mut bindings::file,
    vma: *mut bindings::vm_area_struct,
) -> c_int {
    // SAFETY: Valid for the call; the helper installs the real file in the VMA.
    unsafe {
        let real = RealFile::of(file);
        let mut ctx = backing_ctx(file);
        sys::backing_file_mmap(real.file().as_ptr(), vma, &mut ctx)
    }
}

/// # Safety
///
/// Called by the VFS with `f_pos_lock` held where needed.
unsafe extern "C" fn file_llseek(file: *mut bindings::file, offset: i64, whence: c_int) -> i64 {
    // SAFETY: Valid for the call.  Like ovl_llseek: sync the real file position, seek it
    // (SEEK_DATA/SEEK_HOLE need the real filesystem), copy the result back.  The file
    // seeked is the one reads use now (the upper one once the data was copied up).
    unsafe {
        let real = match RealFile::of(file).current(File::from_raw_file(file)) {
            Ok(r) => r.as_ptr(),
            Err(e) => return i64::from(e.to_errno()),
        };
        sys::union_set_pos(real, sys::union_file_pos(file));
        let r = bindings::vfs_llseek(real, offset, whence);
        sys::union_set_pos(file, sys::union_file_pos(real));
        r
    }
}

/// # Safety
///
/// Called by the VFS with two regular files whose `copy_file_range` (or
/// `remap_file_range`) is ours, so both are open union regular files.
unsafe fn range_op(
    file_in: *mut bindings::file,
    pos_in: i64,
    file_out: *mut bindings::file,
    pos_out: i64,
    len: u64,
    op: super::RangeOp,
) -> i64 {
    // SAFETY: Both are open union regular files (see above), with the private data
    // `file_open` set.
    let r = unsafe {
        crate::file::range_op(
            crate::file::RangeEnd {
                real: RealFile::of(file_in),
                file: File::from_raw_file(file_in),
                pos: pos_in,
            },
            crate::file::RangeEnd {
                real: RealFile::of(file_out),
                file: File::from_raw_file(file_out),
                pos: pos_out,
            },
            len,
            op,
        )
    };
    r.unwrap_or_else(|e| i64::from(e.to_errno()))
}

/// # Safety
///
/// Called by `vfs_copy_file_range` only when both files' `copy_file_range` is this one
/// (`generic_copy_file_checks`), so both are open union regular files.
unsafe extern "C" fn file_copy_file_range(
    file_in: *mut bindings::file,
    pos_in: i64,
    file_out: *mut bindings::file,
    pos_out: i64,
    len: usize,
    flags: c_uint,
) -> isize {
    // SAFETY: Forwarded VFS contract.
    unsafe {
        range_op(
            file_in,
            pos_in,
            file_out,
            pos_out,
            len as u64,
            super::RangeOp::Copy(flags),
        ) as isize
    }
}

/// # Safety
///
/// Called by `vfs_clone_file_range`/`vfs_dedupe_file_range_one` with two regular files of
/// the same superblock (theirs checks it), so both are open union regular files.
unsafe extern "C" fn file_remap_file_range(
    file_in: *mut bindings::file,
    pos_in: i64,
    file_out: *mut bindings::file,
    pos_out: i64,
    len: i64,
    flags: c_uint,
) -> i64 {
    if flags & !(super::REMAP_FILE_DEDUP | super::REMAP_FILE_ADVISORY) != 0 {
        return i64::from(EINVAL.to_errno());
    }
    let op = if flags & super::REMAP_FILE_DEDUP != 0 {
        super::RangeOp::Dedupe(flags)
    } else {
        super::RangeOp::Clone(flags)
    };
    // SAFETY: Forwarded VFS contract.
    unsafe { range_op(file_in, pos_in, file_out, pos_out, len as u64, op) }
}

/// # Safety
///
/// Called by the VFS for `posix_fadvise` on an open union file.
unsafe extern "C" fn file_fadvise(
    file: *mut bindings::file,
    offset: i64,
    len: i64,
    advice: c_int,
) -> c_int {
    // SAFETY: Valid for the call; advice applies to the real file's page cache.
    unsafe { bindings::vfs_fadvise(RealFile::of(file).file().as_ptr(), offset, len, advice) }
}

/// # Safety
///
/// Called by the backing-file helpers after a write to the union file.
unsafe extern "C" fn file_end_write(iocb: *mut bindings::kiocb, _ret: isize) {
    // SAFETY: `iocb` and its file are valid for the call.
    unsafe { file_accessed((*iocb).ki_filp) };
}

/// # Safety
///
/// Called by the VFS for writes on an open union file (opened for write, so on upper).
unsafe extern "C" fn file_write_iter(
    iocb: *mut bindings::kiocb,
    iter: *mut bindings::iov_iter,
) -> isize {
    // SAFETY: Valid for the call: an open union file, so its inode is valid.
    let (file, inode) = unsafe {
        let file = (*iocb).ki_filp;
        (file, Inode::from_raw(sys::union_file_inode(file)))
    };
    // Under the union inode's lock, as overlayfs writes: `backing_file_write_iter`
    // removes the setuid bits of the union file (`notify_change` needs the lock), by
    // the mode of the real file.
    let _lock = inode.lock();
    crate::inode::refresh_attr(inode);
    // SAFETY: `file` is the open union regular file of the VFS's kiocb (valid for the
    // call); its private data is the `RealFile` `file_open` set, whose real file stays
    // open while the union file is.
    unsafe {
        let real = RealFile::of(file);
        // fcntl(F_SETFL) changed the union file's flags only.
        let r = sys::union_sync_setfl(real.file().as_ptr(), file);
        if r != 0 {
            return r as isize;
        }
        let mut ctx = backing_ctx(file);
        sys::backing_file_write_iter(real.file().as_ptr(), iter, iocb, (*iocb).ki_flags, &mut ctx)
    }
}

/// # Safety
///
/// Called by the VFS for splice writes on an open union file.
unsafe extern "C" fn file_splice_write(
    pipe: *mut bindings::pipe_inode_info,
    file: *mut bindings::file,
    ppos: *mut i64,
    len: usize,
    flags: c_uint,
) -> isize {
    // SAFETY: Valid for the call: an open union file, so its inode is valid.
    let inode = unsafe { Inode::from_raw(sys::union_file_inode(file)) };
    // As for `file_write_iter`.
    let _lock = inode.lock();
    crate::inode::refresh_attr(inode);
    // SAFETY: Valid for the call: an open union file (opened for write, so on upper).
    unsafe {
        let real = RealFile::of(file).file().as_ptr();
        splice_at(file, ppos, |iocb, ctx| {
            sys::backing_file_splice_write(pipe, real, iocb, len, flags, ctx)
        })
    }
}

/// # Safety
///
/// Called by the VFS for fsync/fdatasync on an open union file.
unsafe extern "C" fn file_fsync(
    file: *mut bindings::file,
    start: i64,
    end: i64,
    datasync: c_int,
) -> c_int {
    // SAFETY: Valid for the call.
    unsafe {
        let real = RealFile::of(file);
        if !real.is_upper() {
            // Nothing to sync: the lower layer is never written.
            return 0;
        }
        bindings::vfs_fsync_range(real.file().as_ptr(), start, end, datasync)
    }
}

/// # Safety
///
/// Called by the VFS for fallocate on an open union file.
unsafe extern "C" fn file_fallocate(
    file: *mut bindings::file,
    mode: c_int,
    offset: i64,
    len: i64,
) -> kernel::ffi::c_long {
    // SAFETY: Valid for the call: an open union file with the private data `file_open`
    // set.
    let (real, f) = unsafe { (RealFile::of(file), File::from_raw_file(file)) };
    let r = crate::file::fallocate(real, f, mode, offset, len);
    r.map_or_else(|e| e.to_errno() as kernel::ffi::c_long, |()| 0)
}

// ---------------------------------------------------------------------------------------------
// Namespace operations.

/// Instantiates `dentry` with a new union inode.
///
/// # Safety
///
/// `dentry` must be the negative dentry of the running create-type operation.
unsafe fn instantiate(dentry: *mut bindings::dentry, inode: ARef<Inode>) {
    // SAFETY: `d_instantiate` consumes the inode reference.
    unsafe { bindings::d_instantiate(dentry, ARef::into_raw(inode).as_ptr().cast()) };
}

/// # Safety
///
/// Called by the VFS with the parent locked and a negative dentry.
unsafe fn do_create(
    dir: *mut bindings::inode,
    dentry: *mut bindings::dentry,
    obj: NewObject<'_>,
) -> c_int {
    from_result(|| {
        // SAFETY: Valid for the call.
        let (d, de) = unsafe { (Inode::from_raw(dir), Dentry::from_raw(dentry)) };
        let inode = crate::dir::create(d, de, obj)?;
        // SAFETY: `dentry` is the negative dentry being created.
        unsafe { instantiate(dentry, inode) };
        Ok(0)
    })
}

/// # Safety
///
/// See [`do_create`].
unsafe extern "C" fn iop_create(
    _idmap: *mut bindings::mnt_idmap,
    dir: *mut bindings::inode,
    dentry: *mut bindings::dentry,
    mode: u16,
) -> c_int {
    // SAFETY: Forwarded VFS contract.
    unsafe { do_create(dir, dentry, NewObject::File(u32::from(mode) & 0o7777)) }
}

/// # Safety
///
/// See [`do_create`].
unsafe extern "C" fn iop_mkdir(
    _idmap: *mut bindings::mnt_idmap,
    dir: *mut bindings::inode,
    dentry: *mut bindings::dentry,
    mode: u16,
) -> *mut bindings::dentry {
    // SAFETY: Forwarded VFS contract.
    match unsafe { do_create(dir, dentry, NewObject::Dir(u32::from(mode) & 0o7777)) } {
        0 => ptr::null_mut(),
        e => Error::from_errno(e).to_ptr(),
    }
}

/// # Safety
///
/// See [`do_create`].
unsafe extern "C" fn iop_mknod(
    _idmap: *mut bindings::mnt_idmap,
    dir: *mut bindings::inode,
    dentry: *mut bindings::dentry,
    mode: u16,
    dev: u32,
) -> c_int {
    // SAFETY: Forwarded VFS contract.
    unsafe { do_create(dir, dentry, NewObject::Node(u32::from(mode), dev)) }
}

/// # Safety
///
/// See [`do_create`]; `target` is a NUL-terminated string.
unsafe extern "C" fn iop_symlink(
    _idmap: *mut bindings::mnt_idmap,
    dir: *mut bindings::inode,
    dentry: *mut bindings::dentry,
    target: *const c_char,
) -> c_int {
    // SAFETY: Forwarded VFS contract.
    unsafe { do_create(dir, dentry, NewObject::Symlink(CStr::from_char_ptr(target))) }
}

/// # Safety
///
/// Called by the VFS with the new parent locked.
unsafe extern "C" fn iop_link(
    old: *mut bindings::dentry,
    dir: *mut bindings::inode,
    new: *mut bindings::dentry,
) -> c_int {
    from_result(|| {
        // SAFETY: Valid for the call.
        let (o, d, n) = unsafe {
            (
                Dentry::from_raw(old),
                Inode::from_raw(dir),
                Dentry::from_raw(new),
            )
        };
        let inode = crate::dir::link(o, d, n)?;
        // SAFETY: `new` is the negative dentry being linked.
        unsafe { instantiate(new, inode) };
        Ok(0)
    })
}

/// # Safety
///
/// Called by the VFS with the parent and the victim locked.
unsafe extern "C" fn iop_unlink(dir: *mut bindings::inode, dentry: *mut bindings::dentry) -> c_int {
    from_result(|| {
        // SAFETY: Valid for the call.
        let (d, de) = unsafe { (Inode::from_raw(dir), Dentry::from_raw(dentry)) };
        crate::dir::remove(d, de, false)?;
        Ok(0)
    })
}

/// # Safety
///
/// Called by the VFS with the parent and the victim locked.
unsafe extern "C" fn iop_rmdir(dir: *mut bindings::inode, dentry: *mut bindings::dentry) -> c_int {
    from_result(|| {
        // SAFETY: Valid for the call.
        let (d, de) = unsafe { (Inode::from_raw(dir), Dentry::from_raw(dentry)) };
        crate::dir::remove(d, de, true)?;
        Ok(0)
    })
}

/// # Safety
///
/// Called by the VFS with both parents locked (`lock_rename`).
unsafe extern "C" fn iop_rename(
    _idmap: *mut bindings::mnt_idmap,
    old_dir: *mut bindings::inode,
    old: *mut bindings::dentry,
    new_dir: *mut bindings::inode,
    new: *mut bindings::dentry,
    flags: c_uint,
) -> c_int {
    from_result(|| {
        // SAFETY: Valid for the call.
        let (od, o, nd, n) = unsafe {
            (
                Inode::from_raw(old_dir),
                Dentry::from_raw(old),
                Inode::from_raw(new_dir),
                Dentry::from_raw(new),
            )
        };
        crate::dir::rename(od, o, nd, n, flags)?;
        Ok(0)
    })
}

/// # Safety
///
/// Called by `vfs_tmpfile` with an unhashed negative dentry in `dir` for the union file
/// `file` being opened (`O_TMPFILE`).
unsafe extern "C" fn iop_tmpfile(
    _idmap: *mut bindings::mnt_idmap,
    dir: *mut bindings::inode,
    file: *mut bindings::file,
    mode: u16,
) -> c_int {
    from_result(|| {
        // SAFETY: Valid for the call; the file being opened holds its dentry.
        let (d, f, de) = unsafe {
            (
                Inode::from_raw(dir),
                File::from_raw_file(file),
                Dentry::from_raw((*file).__bindgen_anon_1.f_path.dentry),
            )
        };
        let (inode, real) = crate::dir::tmpfile(d, de, f, u32::from(mode))?;
        let real_ptr = real.file().as_ptr();
        let private = KBox::into_raw(real);
        let mut owned = false;
        // SAFETY: `file` is the union file being opened at its unhashed negative dentry;
        // the helper hands our inode reference to the dentry, makes `private` (a
        // `RealFile` box, what `file_release` frees) the file's private data and opens
        // the file without running `file_open` (the real file `real_ptr`, which the box
        // holds, is open already).
        let r = unsafe {
            sys::union_finish_open_tmpfile(
                file,
                ARef::into_raw(inode).as_ptr().cast(),
                real_ptr,
                private.cast(),
                &mut owned,
            )
        };
        if !owned {
            // SAFETY: The file did not take `private` (the helper says so and cleared
            // it), so the box made by `into_raw` above is ours again.
            drop(unsafe { KBox::from_raw(private) });
        }
        to_result(r)?;
        Ok(0)
    })
}

/// # Safety
///
/// Called by `vfs_fileattr_get` with a positive union dentry.
unsafe extern "C" fn iop_fileattr_get(
    dentry: *mut bindings::dentry,
    fa: *mut bindings::file_kattr,
) -> c_int {
    from_result(|| {
        // SAFETY: Valid for the call; `fa` is ours to fill.
        let (d, fa) = unsafe { (Dentry::from_raw(dentry), super::FileAttr::from_raw(fa)) };
        crate::fileattr::get(d, fa)?;
        Ok(0)
    })
}

/// # Safety
///
/// Called by `vfs_fileattr_set` with the inode locked, after its permission checks.
unsafe extern "C" fn iop_fileattr_set(
    _idmap: *mut bindings::mnt_idmap,
    dentry: *mut bindings::dentry,
    fa: *mut bindings::file_kattr,
) -> c_int {
    from_result(|| {
        // SAFETY: Valid for the call; `fa` is ours for the call.
        let (d, fa) = unsafe { (Dentry::from_raw(dentry), super::FileAttr::from_raw(fa)) };
        crate::fileattr::set(d, fa)?;
        Ok(0)
    })
}

/// # Safety
///
/// Called by `ioctl_fiemap` for a union regular file.
unsafe extern "C" fn iop_fiemap(
    inode: *mut bindings::inode,
    fi: *mut bindings::fiemap_extent_info,
    start: u64,
    len: u64,
) -> c_int {
    from_result(|| {
        // SAFETY: Valid for the call.
        let (i, fi) = unsafe { (Inode::from_raw(inode), super::Fiemap::from_raw(fi)) };
        crate::inode::fiemap(i, fi, start, len)?;
        Ok(0)
    })
}

/// # Safety
///
/// Called by the VFS (`notify_change`) with the inode locked.
unsafe extern "C" fn iop_setattr(
    idmap: *mut bindings::mnt_idmap,
    dentry: *mut bindings::dentry,
    attr: *mut bindings::iattr,
) -> c_int {
    from_result(|| {
        // SAFETY: Permission checks against the union inode, whose attributes mirror the
        // real object's.
        to_result(unsafe { bindings::setattr_prepare(idmap, dentry, attr) })?;
        // SAFETY: Valid for the call.
        let (d, attr) = unsafe { (Dentry::from_raw(dentry), &mut *attr) };
        crate::inode::setattr(d, attr)?;
        Ok(0)
    })
}
