//! The runtime each store handle runs its queries on.

/// A store's own single-threaded runtime, which its blocking calls enter.
///
/// The last handle on a store may be dropped inside another runtime (a front end's task
/// holding the portal's handle, at shutdown). Tokio refuses to block there, and dropping
/// a runtime blocks on its blocking pool, which panicked the server's shutdown: so it is
/// shut down without waiting there. Nothing is lost: every write was awaited before the
/// call that made it returned.
pub(crate) struct StoreRuntime(Option<tokio::runtime::Runtime>);

impl StoreRuntime {
    pub(crate) fn new(rt: tokio::runtime::Runtime) -> Self {
        StoreRuntime(Some(rt))
    }
}

impl std::ops::Deref for StoreRuntime {
    type Target = tokio::runtime::Runtime;
    fn deref(&self) -> &Self::Target {
        self.0
            .as_ref()
            .expect("the runtime lives until the store is dropped")
    }
}

impl Drop for StoreRuntime {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            if tokio::runtime::Handle::try_current().is_ok() {
                rt.shutdown_background();
            }
        }
    }
}
