//! A small blocking pool of database connections, shared by the backends.
//!
//! Why one pool for both backends: SQLite's read-only connections and PostgreSQL's
//! connections are lent the same way (a transaction takes one, gives it back when done,
//! and waits only while every one is in use, so a long read never holds up a short one
//! while another connection is idle). PostgreSQL adds two needs, met here for both:
//! connections are opened on demand up to the pool's size (an idle instance holds few
//! connections), and a broken one is discarded instead of returned ([`Lent::discard`]),
//! so that the next transaction opens a new one: a database restart or failover costs
//! the requests in flight, not a dead server.

use std::sync::{Condvar, Mutex};

use super::StoreError;

/// Opens one new connection for the pool.
pub(crate) type Connect<C> = Box<dyn Fn() -> Result<C, StoreError> + Send + Sync>;

/// Idle connections, and how many are lent.
struct State<C> {
    idle: Vec<C>,
    lent: usize,
}

/// Connections lent to one transaction at a time.
pub(crate) struct Pool<C> {
    state: Mutex<State<C>>,
    /// Signalled when a connection comes back or a slot frees.
    returned: Condvar,
    /// Most connections the pool owns (idle or lent).
    size: usize,
    /// Opens a connection when none is idle and the pool is not full; `None`: the pool
    /// holds only the connections it was given.
    connect: Option<Connect<C>>,
}

impl<C> Pool<C> {
    /// A pool of exactly these connections (none is ever opened).
    pub(crate) fn fixed(conns: Vec<C>) -> Self {
        Self {
            size: conns.len(),
            state: Mutex::new(State {
                idle: conns,
                lent: 0,
            }),
            returned: Condvar::new(),
            connect: None,
        }
    }

    /// A pool that opens up to `size` connections with `connect`, when first needed.
    pub(crate) fn on_demand(size: usize, connect: Connect<C>) -> Self {
        Self {
            size,
            state: Mutex::new(State {
                idle: Vec::new(),
                lent: 0,
            }),
            returned: Condvar::new(),
            connect: Some(connect),
        }
    }

    /// The most connections the pool holds.
    pub(crate) fn size(&self) -> usize {
        self.size
    }

    /// An idle connection, a new one if the pool may open one, or (waiting) the next one
    /// given back. `usable` screens an idle connection: one it refuses (closed by the
    /// server, say) is dropped and another taken.
    pub(crate) fn take(&self, usable: impl Fn(&C) -> bool) -> Result<Lent<'_, C>, StoreError> {
        let mut state = self.state.lock().map_err(|_| StoreError::Poisoned)?;
        loop {
            while let Some(conn) = state.idle.pop() {
                if usable(&conn) {
                    state.lent += 1;
                    return Ok(Lent {
                        pool: self,
                        conn: Some(conn),
                    });
                }
                // Dropped: its slot is free for a new connection below.
            }
            if let Some(connect) = &self.connect
                && state.lent < self.size
            {
                state.lent += 1;
                drop(state);
                return match connect() {
                    Ok(conn) => Ok(Lent {
                        pool: self,
                        conn: Some(conn),
                    }),
                    Err(e) => {
                        self.release_slot();
                        Err(e)
                    }
                };
            }
            state = self
                .returned
                .wait(state)
                .map_err(|_| StoreError::Poisoned)?;
        }
    }

    fn give_back(&self, conn: C) {
        match self.state.lock() {
            Ok(mut state) => {
                state.lent = state.lent.saturating_sub(1);
                state.idle.push(conn);
            }
            // A poisoned pool is never used again (take fails); dropping closes the
            // connection.
            Err(_) => return,
        }
        self.returned.notify_one();
    }

    /// A lent connection was dropped: its slot is free.
    fn release_slot(&self) {
        if let Ok(mut state) = self.state.lock() {
            state.lent = state.lent.saturating_sub(1);
        }
        self.returned.notify_one();
    }
}

/// A connection lent by a [`Pool`]; given back when dropped, unless discarded.
pub(crate) struct Lent<'p, C> {
    pool: &'p Pool<C>,
    /// Always `Some` until dropped or discarded.
    conn: Option<C>,
}

impl<C> Lent<'_, C> {
    /// Drops the connection instead of giving it back (it is broken, or in a state no
    /// other transaction may inherit); the pool opens a new one when needed.
    pub(crate) fn discard(mut self) {
        self.conn = None;
        self.pool.release_slot();
    }
}

impl<C> std::ops::Deref for Lent<'_, C> {
    type Target = C;
    fn deref(&self) -> &C {
        // `conn` is Some from `take` until `drop` or `discard` (which consumes the
        // Lent), the only places that empty it.
        #[allow(clippy::expect_used)]
        self.conn
            .as_ref()
            .expect("a lent connection is present until dropped")
    }
}

impl<C> std::ops::DerefMut for Lent<'_, C> {
    fn deref_mut(&mut self) -> &mut C {
        #[allow(clippy::expect_used)]
        self.conn
            .as_mut()
            .expect("a lent connection is present until dropped")
    }
}

impl<C> Drop for Lent<'_, C> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            self.pool.give_back(conn);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn opens_on_demand_up_to_its_size_and_replaces_discarded_ones() {
        let opened = Arc::new(AtomicUsize::new(0));
        let counter = opened.clone();
        let pool: Pool<usize> = Pool::on_demand(
            2,
            Box::new(move || Ok(counter.fetch_add(1, Ordering::SeqCst))),
        );
        let a = pool.take(|_| true).expect("a");
        let b = pool.take(|_| true).expect("b");
        assert_eq!((*a, *b), (0, 1));
        drop(a);
        // The idle one is reused, not a third opened.
        let c = pool.take(|_| true).expect("c");
        assert_eq!(*c, 0);
        c.discard();
        // A discarded connection's slot opens a new one.
        let d = pool.take(|_| true).expect("d");
        assert_eq!(*d, 2);
        drop((b, d));
        // An idle connection refused by the screen is dropped and replaced.
        let e = pool.take(|c| *c != 1 && *c != 2).expect("e");
        assert_eq!(*e, 3);
        assert_eq!(opened.load(Ordering::SeqCst), 4);
    }

    #[test]
    fn a_failed_open_frees_its_slot() {
        let pool: Pool<u8> =
            Pool::on_demand(1, Box::new(|| Err(StoreError::Backend("down".into()))));
        assert!(pool.take(|_| true).is_err());
        assert!(
            pool.take(|_| true).is_err(),
            "the slot was freed, not leaked"
        );
    }
}
