// SPDX-License-Identifier: GPL-2.0

//! Filesystem types: the [`FileSystem`] trait a filesystem implements, its registration
//! ([`Registration`]), its mount parameters ([`FsParam`]) and the `fs_context_operations`
//! vtable built from it (`fsopen`, `fsconfig`, `mount`, remount).
//!
//! C headers: [`include/linux/fs_context.h`](srctree/include/linux/fs_context.h),
//! [`include/linux/fs_parser.h`](srctree/include/linux/fs_parser.h).

use super::{
    dir_file::DirOperations,
    file_ops::FileOperations,
    iget::InodeKey,
    inode_ops::InodeOperations,
    super_ops,
    sys,
    xattr_handler::XattrHandler,
    Inode,
    SuperBlock, //
};
use core::{
    ffi::{
        c_int,
        CStr, //
    },
    marker::PhantomData,
    mem::MaybeUninit,
    ptr,
    sync::atomic::{
        AtomicBool,
        Ordering, //
    },
};
use kernel::{
    bindings,
    error::{
        from_result,
        to_result, //
    },
    prelude::*,
    sync::aref::ARef,
    types::Opaque, //
};

/// A filesystem type: what its `fs_context`, superblocks and inodes hold, and the
/// operations the VFS calls on them.
///
/// The superblock operations (`statfs`, `sync_fs`, `show_options`) are the optional
/// methods; [`super_ops`] builds `super_operations` from them.
#[vtable]
pub(crate) trait FileSystem: Sized + 'static {
    /// The name of the type (`mount -t NAME`).
    const NAME: &'static CStr;
    /// `s_magic` of its superblocks (statfs' `f_type`).
    const MAGIC: usize;
    /// The mount parameters, ending with [`FsParam::END`].
    const PARAMS: &'static [FsParam];
    /// The mount configuration an `fs_context` builds (`fs_private`); one task may make the
    /// context and another configure or free it.
    type Config: Default + Send;
    /// The state of a superblock (`s_fs_info`).
    type Data: Send + Sync;
    /// The state of an inode (`i_private`).
    type InodeData: InodeKey + Send + Sync;
    /// Inode operations of its inodes.
    type Inodes: InodeOperations<Fs = Self>;
    /// File operations of its regular files.
    type Files: FileOperations<Fs = Self>;
    /// File operations of its directories.
    type Dirs: DirOperations<Fs = Self>;
    /// The xattr handler of every name.
    type Xattrs: XattrHandler;

    /// The static `file_system_type` of this filesystem.
    fn fs_type() -> &'static FsType<Self>;

    /// One parameter into `config`, `opt` being the [`FsParam`] it matched, `value` its
    /// string (none for a flag).
    fn parse_param(
        fc: &FsContext<Self>,
        config: &mut Self::Config,
        opt: u8,
        key: &CStr,
        value: Option<&CStr>,
    ) -> Result;

    /// A remount of an existing superblock with the parsed parameters.
    fn reconfigure(fc: &FsContext<Self>) -> Result;

    /// The state of a new superblock from the parsed configuration, and its stacking depth
    /// (`s_stack_depth`).
    fn new_super(
        fc: &FsContext<Self>,
        config: &mut Self::Config,
    ) -> Result<(KBox<Self::Data>, i32)>;

    /// The root inode of a new superblock (whose state is set up).
    fn root_inode(sb: &SuperBlock) -> Result<ARef<Inode>>;

    /// Eviction of an inode with state `data`: gives back what the state holds (each
    /// [`super_ops::EvictRef`]) while RCU-walk callbacks may still read it.  The state
    /// itself is dropped an RCU grace period later, in softirq context, where dropping a
    /// reference that was not released could sleep: so every filesystem must say what it
    /// releases (no default).
    fn evict_inode(data: &Self::InodeData, ev: &super_ops::Evicting<'_>);

    /// `statfs` of the filesystem of `d`.
    fn statfs(_d: &super::Dentry, _buf: &mut super::Kstatfs) -> Result {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// `sync_fs`: writes the filesystem's data out, waiting for it if `wait`.
    fn sync_fs(_sb: &SuperBlock, _wait: bool) -> Result {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// `show_options`: the options of the mount with root `root` for /proc/mounts.
    fn show_options(_root: &super::Dentry, _m: &super_ops::SeqFile<'_>) -> Result {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }
}

/// The `struct file_system_type` of a [`FileSystem`], in static memory.
///
/// # Invariants
///
/// Only [`Registration::<T>::new`] writes the type, with `T`'s callbacks
/// (`init_fs_context::<T>`, `kill_sb::<T>`), and only while it holds `claimed`, which it
/// keeps for as long as the type is registered: every superblock and `fs_context` of
/// this type is one those callbacks set up, so its private data is `T`'s.
pub(crate) struct FsType<T: FileSystem> {
    fst: Opaque<bindings::file_system_type>,
    claimed: AtomicBool,
    _fs: PhantomData<T>,
}

// SAFETY: Written only by the one `Registration` that holds `claimed`, before
// `register_filesystem` publishes it; then only read by the VFS (and compared by
// address).
unsafe impl<T: FileSystem> Sync for FsType<T> {}

impl<T: FileSystem> FsType<T> {
    /// A type not registered yet.
    pub(crate) const fn new() -> Self {
        Self {
            fst: Opaque::uninit(),
            claimed: AtomicBool::new(false),
            _fs: PhantomData,
        }
    }

    /// The raw pointer.
    pub(crate) fn as_ptr(&self) -> *mut bindings::file_system_type {
        self.fst.get()
    }
}

/// One mount parameter (`struct fs_parameter_spec`).
#[repr(transparent)]
pub(crate) struct FsParam(sys::fs_parameter_spec);

// SAFETY: The spec points to static strings and the static `fs_param_is_string` only.
unsafe impl Sync for FsParam {}

impl FsParam {
    /// `name=string` (`fsparam_string`), reported to `parse_param` as `opt`.
    pub(crate) const fn string(name: &'static CStr, opt: u8) -> Self {
        Self(sys::fs_parameter_spec {
            name: name.to_bytes_with_nul().as_ptr().cast(),
            type_: Some(sys::fs_param_is_string),
            opt,
            flags: 0,
            data: ptr::null(),
        })
    }

    /// `name` without a value (`fsparam_flag`), reported to `parse_param` as `opt`.
    pub(crate) const fn flag(name: &'static CStr, opt: u8) -> Self {
        Self(sys::fs_parameter_spec {
            name: name.to_bytes_with_nul().as_ptr().cast(),
            type_: None,
            opt,
            flags: 0,
            data: ptr::null(),
        })
    }

    /// The end of a parameter table.
    pub(crate) const END: Self = Self(sys::fs_parameter_spec {
        name: ptr::null(),
        type_: None,
        opt: 0,
        flags: 0,
        data: ptr::null(),
    });
}

/// The registration of a [`FileSystem`]; unregisters it on drop.
///
/// # Invariants
///
/// `ty` is registered and claimed by this registration.
pub(crate) struct Registration<T: FileSystem> {
    ty: &'static FsType<T>,
}

impl<T: FileSystem> Registration<T> {
    /// Registers `T`, owned by `module`; `EBUSY` if its type is registered already.
    pub(crate) fn new(module: &'static ThisModule) -> Result<Self> {
        if T::PARAMS.last().is_none_or(|p| !p.0.name.is_null()) {
            pr_err!(
                "parameter table of {:?} does not end with FsParam::END\n",
                T::NAME
            );
            return Err(EINVAL);
        }
        let ty = T::fs_type();
        if ty.claimed.swap(true, Ordering::AcqRel) {
            return Err(EBUSY);
        }
        let fst = ty.as_ptr();
        // SAFETY: We hold `claimed`, so no other registration writes the static, and it is
        // not registered (a registration releases the claim only after unregistering), so
        // the VFS does not read it; all-zero is a valid `file_system_type` and we fill the
        // fields the VFS needs, with `T`'s callbacks (the invariant of `FsType`).
        unsafe {
            fst.write(MaybeUninit::zeroed().assume_init());
            (*fst).name = T::NAME.as_char_ptr();
            (*fst).owner = module.as_ptr();
            (*fst).init_fs_context = Some(init_fs_context::<T>);
            (*fst).parameters = T::PARAMS.as_ptr().cast();
            (*fst).kill_sb = Some(super_ops::kill_sb::<T>);
        }
        // SAFETY: `fst` is fully initialised and static.
        if let Err(e) = to_result(unsafe { bindings::register_filesystem(fst) }) {
            ty.claimed.store(false, Ordering::Release);
            return Err(e);
        }
        // INVARIANT: Registered and claimed above.
        Ok(Self { ty })
    }
}

impl<T: FileSystem> Drop for Registration<T> {
    fn drop(&mut self) {
        // SAFETY: Registered by `new` (type invariant).  A registration lives in the module
        // that owns the type, which cannot be unloaded while a superblock of the type lives
        // (`owner` pins it), so none uses the type any more.
        unsafe { bindings::unregister_filesystem(self.ty.as_ptr()) };
        // The inodes of the type's last superblocks may still wait for `free_inode::<T>`
        // (an RCU callback in this module's code): let them run before the module goes.
        // SAFETY: Process context, no lock held (module exit).
        unsafe { sys::union_rcu_barrier() };
        self.ty.claimed.store(false, Ordering::Release);
    }
}

/// A `struct fs_context` of a `T` filesystem being set up by `fsopen`/`mount`.
///
/// # Invariants
///
/// The context is valid, of type `T` (its `fs_private` is null or `T`'s `KBox<Config>`
/// made by `init_fs_context::<T>`), and used by one task at a time (the VFS serialises
/// `fsconfig` on `uapi_mutex`, and mount/remount run in one task).
#[repr(transparent)]
pub(crate) struct FsContext<T: FileSystem>(Opaque<sys::fs_context>, PhantomData<T>);

impl<T: FileSystem> FsContext<T> {
    /// # Safety
    ///
    /// `ptr` must be a valid fs_context of type `T` (one `init_fs_context::<T>` set up),
    /// used only by the current task for `'a`.
    unsafe fn from_raw<'a>(ptr: *mut sys::fs_context) -> &'a Self {
        // SAFETY: Transparent wrapper; validity and type promised by the caller.
        unsafe { &*ptr.cast() }
    }

    fn as_ptr(&self) -> *mut sys::fs_context {
        self.0.get()
    }

    /// Logs `msg` as an error in the fs_context log and the kernel log.
    pub(crate) fn error(&self, msg: &CStr) {
        // SAFETY: A valid fs_context (type invariant) and a NUL-terminated message.
        unsafe { sys::union_fc_error(self.as_ptr(), msg.as_char_ptr()) };
    }

    /// Whether this context reconfigures an existing mount (remount).
    pub(crate) fn is_reconfigure(&self) -> bool {
        // SAFETY: A valid fs_context (type invariant).
        unsafe { sys::union_fc_purpose_is_reconfigure(self.as_ptr()) != 0 }
    }

    /// Whether the superblock is to be read-only (`mount -o ro`, `remount,ro`).
    pub(crate) fn wants_rdonly(&self) -> bool {
        // SAFETY: A valid fs_context (type invariant).
        unsafe { sys::union_fc_wants_rdonly(self.as_ptr()) }
    }

    /// The state of the superblock being reconfigured (remount), if any.
    pub(crate) fn reconfigured(&self) -> Option<&T::Data> {
        // SAFETY: A valid fs_context (type invariant).
        let sb = unsafe { sys::union_fc_root_sb(self.as_ptr()) };
        if sb.is_null() {
            return None;
        }
        // SAFETY: During reconfiguration `fc->root` holds a reference to the mount's root
        // dentry, which pins its superblock for as long as the context (and so `&self`)
        // lives.
        let sb = unsafe { SuperBlock::from_raw(sb.cast()) };
        sb.data::<T>()
    }

    /// The mount configuration being built.
    ///
    /// # Safety
    ///
    /// The caller must not hold another reference to the configuration while the result
    /// lives.  (The trampolines call this once per callback, and hand the result to `T`
    /// as an argument; the context is used by one task at a time, type invariant.)
    #[expect(clippy::mut_from_ref)]
    unsafe fn config(&self) -> Option<&mut T::Config> {
        // SAFETY: A valid fs_context (type invariant).
        let p = unsafe { sys::union_fc_fs_private(self.as_ptr()) }.cast::<T::Config>();
        // SAFETY: `fs_private` is null or the `KBox<T::Config>` set by
        // `init_fs_context::<T>` (type invariant), freed only by `fc_free::<T>` after
        // every callback; exclusive as the caller promises.
        unsafe { p.as_mut() }
    }
}

/// The `fs_context_operations` of `T`.
struct ContextVtable<T: FileSystem>(PhantomData<T>);

impl<T: FileSystem> ContextVtable<T> {
    const OPS: sys::fs_context_operations = sys::fs_context_operations {
        free: Some(fc_free::<T>),
        dup: None,
        parse_param: Some(fc_parse_param::<T>),
        parse_monolithic: None,
        get_tree: Some(fc_get_tree::<T>),
        reconfigure: Some(fc_reconfigure::<T>),
    };

    /// The static table.
    const fn build() -> &'static sys::fs_context_operations {
        &Self::OPS
    }
}

/// # Safety
///
/// Called by the VFS (`alloc_fs_context`) with a new fs_context of type `T`.
unsafe extern "C" fn init_fs_context<T: FileSystem>(fc: *mut bindings::fs_context) -> c_int {
    from_result(|| {
        let config = KBox::new(T::Config::default(), GFP_KERNEL)?;
        // SAFETY: `fc` is the new, valid fs_context the VFS passes; ownership of the box
        // moves into `fs_private` and is taken back in `fc_free` (or kept by the config
        // until then).  The ops table is static.
        unsafe {
            sys::union_fc_set_fs_private(fc.cast(), KBox::into_raw(config).cast());
            sys::union_fc_set_ops(fc.cast(), ContextVtable::<T>::build());
        }
        Ok(0)
    })
}

/// # Safety
///
/// Called by the VFS once, when an fs_context of type `T` is freed.
unsafe extern "C" fn fc_free<T: FileSystem>(fc: *mut sys::fs_context) {
    // SAFETY: `fc` is the valid fs_context being freed.
    let p = unsafe { sys::union_fc_fs_private(fc) }.cast::<T::Config>();
    if !p.is_null() {
        // SAFETY: `p` came from `KBox::into_raw` in `init_fs_context::<T>` and is
        // reclaimed once: the field is cleared right after.
        drop(unsafe { KBox::from_raw(p) });
        // SAFETY: `fc` is the valid fs_context being freed.
        unsafe { sys::union_fc_set_fs_private(fc, ptr::null_mut()) };
    }
}

/// # Safety
///
/// Called by the VFS (`vfs_parse_fs_param`, under `uapi_mutex` for `fsconfig`) with a
/// valid fs_context of type `T` and a valid parameter.
unsafe extern "C" fn fc_parse_param<T: FileSystem>(
    fc: *mut sys::fs_context,
    param: *mut sys::fs_parameter,
) -> c_int {
    from_result(|| {
        // SAFETY: The VFS passes a context made by `T`'s `init_fs_context`, which only
        // this task uses while `vfs_parse_fs_param` runs (`fsconfig` holds `uapi_mutex`).
        let ctx = unsafe { FsContext::<T>::from_raw(fc) };
        let mut result = MaybeUninit::<sys::fs_parse_result>::zeroed();
        // SAFETY: Valid context, table and parameter; `result` is writable.  `fs_parse`
        // logs unknown or malformed parameters itself.
        let opt = unsafe {
            sys::union_fs_parse(fc, T::PARAMS.as_ptr().cast(), param, result.as_mut_ptr())
        };
        if opt < 0 {
            return Err(Error::from_errno(opt));
        }
        // SAFETY: `vfs_parse_fs_param`'s caller owns `param` until this callback returns;
        // its key is a NUL-terminated string, its string value null or NUL-terminated, both
        // owned by the parameter.
        let (key, value) = unsafe {
            let k = sys::union_param_key(param);
            let v = sys::union_param_string(param);
            (
                CStr::from_char_ptr(k),
                (!v.is_null()).then(|| CStr::from_char_ptr(v)),
            )
        };
        // SAFETY: The only reference to the configuration during this callback.
        let config = unsafe { ctx.config() }.ok_or(EINVAL)?;
        T::parse_param(ctx, config, opt as u8, key, value)?;
        Ok(0)
    })
}

/// # Safety
///
/// Called by the VFS (`reconfigure_super`) for a remount, with `s_umount` held and a parsed
/// fs_context of type `T`.
unsafe extern "C" fn fc_reconfigure<T: FileSystem>(fc: *mut sys::fs_context) -> c_int {
    from_result(|| {
        // SAFETY: `fc` is a valid context of type `T` used by this task.
        T::reconfigure(unsafe { FsContext::<T>::from_raw(fc) })?;
        Ok(0)
    })
}

/// # Safety
///
/// Called by the VFS (`vfs_get_tree`) with a valid, fully parsed fs_context of type `T`.
unsafe extern "C" fn fc_get_tree<T: FileSystem>(fc: *mut sys::fs_context) -> c_int {
    // SAFETY: `fc` is valid; `fill_super::<T>` matches the callback type.
    unsafe { sys::union_get_tree_nodev(fc, Some(fill_super::<T>)) }
}

/// # Safety
///
/// Called by `get_tree_nodev` with a new superblock of type `T`, locked and not yet
/// visible to anyone else, and the fs_context of `fc_get_tree`.
unsafe extern "C" fn fill_super<T: FileSystem>(
    sb: *mut bindings::super_block,
    fc: *mut sys::fs_context,
) -> c_int {
    from_result(|| {
        // SAFETY: `fc` is the valid context of type `T` of `fc_get_tree`.
        let ctx = unsafe { FsContext::<T>::from_raw(fc) };
        // SAFETY: `sb` is a new superblock, valid until `kill_sb`, which cannot run before
        // this returns.
        let sbw = unsafe { SuperBlock::from_raw(sb) };
        // SAFETY: The only reference to the configuration during this callback.
        let config = unsafe { ctx.config() }.ok_or(EINVAL)?;
        let (data, depth) = T::new_super(ctx, config)?;
        // SAFETY: The superblock is ours to set up (nobody else sees it yet); the tables
        // are static; the data box is leaked into `s_fs_info` and reclaimed in
        // `kill_sb::<T>` (also if this fails: the VFS then calls `kill_sb`).
        unsafe {
            (*sb).s_magic = T::MAGIC;
            (*sb).s_op = super_ops::SuperVtable::<T>::build();
            (*sb).s_xattr = super::xattr_handler::XattrVtable::<T::Xattrs>::build();
            (*sb).s_time_gran = 1;
            (*sb).s_stack_depth = depth;
            sys::union_sb_setup(sb);
            (*sb).s_fs_info = KBox::into_raw(data).cast();
        }
        let root = T::root_inode(sbw)?;
        // SAFETY: `d_make_root` consumes the inode reference (also on failure).
        let root_dentry = unsafe { bindings::d_make_root(ARef::into_raw(root).as_ptr().cast()) };
        if root_dentry.is_null() {
            return Err(ENOMEM);
        }
        // SAFETY: Setting the root of our new superblock, not yet visible.
        unsafe { (*sb).s_root = root_dentry };
        Ok(0)
    })
}
