//! The registry of content in flight: digests that a submission stored (or
//! found stored) and has not yet committed to the catalog, or given up.
//!
//! Invariant (with the sweeper, see `crate::sweeper`): content is removed
//! only by the catalog writer, for a digest that no catalog row references
//! at that moment and that is not pinned here, checked and removed under
//! this registry's lock. A submission pins its digests *before* it looks
//! whether the content is already stored, and unpins them only after the
//! writer answered (its rows are committed, or never will be), so the
//! sweeper either sees the pin or the committed row, never neither.
//! After a restart nothing is in flight: no upload survives the process.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

/// The in-flight registry (cheap to clone; one per store).
#[derive(Clone, Default)]
pub struct InFlight(Arc<Mutex<HashMap<[u8; 32], u32>>>);

impl InFlight {
    fn lock(&self) -> MutexGuard<'_, HashMap<[u8; 32], u32>> {
        // a panic while holding it only ever left a count unchanged or changed by one
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// An empty set of pins on this registry.
    pub fn pins(&self) -> Pins {
        Pins {
            registry: self.clone(),
            held: Vec::new(),
        }
    }

    /// Runs `remove` for `sha256` unless it is pinned, holding the lock, so
    /// that no submission can pin it (and find it stored) meanwhile.
    /// `None`: it was pinned, nothing ran.
    pub fn unless_pinned<R>(&self, sha256: &[u8; 32], remove: impl FnOnce() -> R) -> Option<R> {
        let g = self.lock();
        if g.contains_key(sha256) {
            return None;
        }
        let r = remove();
        drop(g);
        Some(r)
    }

    /// How many distinct digests are pinned now.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Digests pinned by one submission; dropping it unpins them.
pub struct Pins {
    registry: InFlight,
    held: Vec<[u8; 32]>,
}

impl Pins {
    /// Pins `sha256` (again, if already held: each hold is released on drop).
    pub fn hold(&mut self, sha256: [u8; 32]) {
        *self.registry.lock().entry(sha256).or_insert(0) += 1;
        self.held.push(sha256);
    }

    /// Moves `other`'s pins into this set.
    pub fn absorb(&mut self, mut other: Pins) {
        self.held.append(&mut other.held);
    }
}

impl Drop for Pins {
    fn drop(&mut self) {
        if self.held.is_empty() {
            return;
        }
        let mut g = self.registry.lock();
        for sha in self.held.drain(..) {
            if let Some(n) = g.get_mut(&sha) {
                *n -= 1;
                if *n == 0 {
                    g.remove(&sha);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinned_content_is_not_removed_until_every_pin_is_gone() {
        let r = InFlight::default();
        let mut a = r.pins();
        a.hold([1; 32]);
        let mut b = r.pins();
        b.hold([1; 32]);
        b.hold([2; 32]);
        assert_eq!(r.unless_pinned(&[1; 32], || ()), None);
        assert_eq!(r.unless_pinned(&[3; 32], || 7), Some(7));
        drop(a);
        assert_eq!(r.unless_pinned(&[1; 32], || ()), None, "b still holds it");
        let mut c = r.pins();
        c.absorb(b);
        assert_eq!(r.len(), 2);
        drop(c);
        assert!(r.is_empty());
        assert_eq!(r.unless_pinned(&[1; 32], || 1), Some(1));
    }
}
