//! The listener: HTTP/1 connections under limits, so that idle, slow or too many clients
//! cannot starve the others. A connection must send a complete request head within the header
//! read timeout, counted from its opening and again from each response (so the same timer
//! closes idle keep-alive connections); a request must be read and answered within the request
//! timeout; and at most `connections` are open at once. At the cap, a new connection takes the
//! place of the oldest one with no request in progress (one that never sent a complete request
//! head is such a connection), else of the oldest one still sending its request's body (a slow
//! upload holds no work of ours yet); when every one is answering a request, it is closed at
//! once. Either way, the server never holds more sockets than the cap plus one, whatever the
//! clients do, and a real request is answered at once.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response, StatusCode};
use axum::response::IntoResponse as _;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tower_service::Service as _;

/// The limits of `dispatch serve`; tests use small ones.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Time to send a complete request head, from the opening of the connection or from the
    /// previous response: also how long an idle keep-alive connection stays open.
    pub header_read: Duration,
    /// Time to read a request's body and answer it.
    pub request: Duration,
    /// Connections open at once; well under the usual limit of 1,024 open files.
    pub connections: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            header_read: Duration::from_secs(10),
            request: Duration::from_secs(30),
            connections: 256,
        }
    }
}

/// One open connection.
#[derive(Default)]
struct Slot {
    /// Requests in progress on it.
    busy: AtomicUsize,
    /// Of those, the ones whose body is still arriving.
    uploading: AtomicUsize,
    /// Closes it to make room for a new one.
    evict: Notify,
}

/// The open connections, oldest first.
#[derive(Default)]
struct Slots {
    next: u64,
    open: BTreeMap<u64, Arc<Slot>>,
}

fn lock(slots: &Mutex<Slots>) -> MutexGuard<'_, Slots> {
    // A panic elsewhere cannot leave the map half-changed: every change is one call.
    slots
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A place for a new connection: a free one, or the oldest idle connection's (which is told
/// to close); `None` when the cap is reached and every connection is answering a request.
fn admit(slots: &Mutex<Slots>, cap: usize) -> Option<(u64, Arc<Slot>)> {
    let mut slots = lock(slots);
    if slots.open.len() >= cap {
        let idle = |slot: &Arc<Slot>| slot.busy.load(Ordering::SeqCst) == 0;
        let uploading = |slot: &Arc<Slot>| {
            slot.busy.load(Ordering::SeqCst) == slot.uploading.load(Ordering::SeqCst)
        };
        let idle = slots
            .open
            .iter()
            .find(|(_, slot)| idle(slot))
            .or_else(|| slots.open.iter().find(|(_, slot)| uploading(slot)))
            .map(|(id, _)| *id)?;
        if let Some(slot) = slots.open.remove(&idle) {
            slot.evict.notify_one();
        }
    }
    let id = slots.next;
    slots.next += 1;
    let slot = Arc::new(Slot::default());
    slots.open.insert(id, slot.clone());
    Some((id, slot))
}

/// A request's body that counts as arriving on its connection until its end (or an error, or
/// the request's end) is read.
struct Upload {
    inner: Incoming,
    slot: Option<Arc<Slot>>,
}

impl Upload {
    fn new(inner: Incoming, slot: &Arc<Slot>) -> Upload {
        use hyper::body::Body as _;
        let slot = (!inner.is_end_stream()).then(|| {
            slot.uploading.fetch_add(1, Ordering::SeqCst);
            slot.clone()
        });
        Upload { inner, slot }
    }

    fn arrived(&mut self) {
        if let Some(slot) = self.slot.take() {
            slot.uploading.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        self.arrived();
    }
}

impl hyper::body::Body for Upload {
    type Data = axum::body::Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        let polled = std::pin::Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(polled, std::task::Poll::Ready(None | Some(Err(_))))
            || self.inner.is_end_stream()
        {
            self.arrived();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

/// Counts a request as in progress on its connection until it is answered or dropped.
struct Busy(Arc<Slot>);

impl Busy {
    fn start(slot: &Arc<Slot>) -> Busy {
        slot.busy.fetch_add(1, Ordering::SeqCst);
        Busy(slot.clone())
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.busy.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Serves `router` on `listener` under `limits` until `shutdown` completes; then accepts no
/// more connections and waits, for at most `grace`, until the requests under way are answered.
pub async fn run(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) {
    let slots = Arc::new(Mutex::new(Slots::default()));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read);
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors or a connection reset before it was accepted: wait a
                // moment rather than spin.
                tracing::warn!("serve: cannot accept a connection: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Some((id, slot)) = admit(&slots, limits.connections) else {
            drop(stream);
            continue;
        };
        let service = {
            let router = router.clone();
            let slot = slot.clone();
            hyper::service::service_fn(move |request: Request<Incoming>| {
                let busy = Busy::start(&slot);
                let mut request = request.map(|body| Body::new(Upload::new(body, &slot)));
                // The peer's address, for a server that limits clients by address.
                request
                    .extensions_mut()
                    .insert(axum::extract::ConnectInfo(peer));
                let answer = router.clone().call(request);
                async move {
                    let response = tokio::time::timeout(limits.request, answer)
                        .await
                        .unwrap_or_else(|_| Ok(too_slow()));
                    drop(busy);
                    response
                }
            })
        };
        let connection = http.serve_connection(TokioIo::new(stream), service);
        let slots = slots.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = connection => {}
                () = slot.evict.notified() => {}
            }
            lock(&slots).open.remove(&id);
        });
    }
    drop(listener);
    let deadline = tokio::time::Instant::now() + grace;
    while answering(&slots) && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Whether a request is in progress on any connection.
fn answering(slots: &Mutex<Slots>) -> bool {
    lock(slots)
        .open
        .values()
        .any(|slot| slot.busy.load(Ordering::SeqCst) > 0)
}

fn too_slow() -> Response<Body> {
    (
        StatusCode::REQUEST_TIMEOUT,
        "The request took too long and was not handled.",
    )
        .into_response()
}
