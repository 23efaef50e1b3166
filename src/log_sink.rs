//! The log writer: request threads append finished lines to one shared buffer (a short lock
//! and a copy, no allocation per line) and a writer thread takes the whole buffer at once and
//! writes it to standard error in one call. The writer sleeps ten milliseconds after each write
//! so lines gather into batches under load (at most a hundred writes a second), and is woken
//! only when it has gone idle — not once per line. At most
//! [`LOG_BUFFER_LINES`](crate::LOG_BUFFER_LINES) lines wait; past that, new lines are dropped
//! and counted (`keyward_log_lines_dropped`), so the request path never waits for standard
//! error.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::thread::{self, JoinHandle, Thread};
use std::time::Duration;

/// After writing a batch, the writer waits this long before taking the next one.
const GATHER: Duration = Duration::from_millis(10);

/// A batch buffer grown past this by a burst is given back after the burst is written.
const KEEP_CAPACITY: usize = 1024 * 1024;

pub struct Sink {
    queue: Mutex<Queue>,
    limit: usize,
    dropped: AtomicU64,
    /// The writer thread, to wake when it is idle.
    writer: OnceLock<Thread>,
}

#[derive(Default)]
struct Queue {
    buf: Vec<u8>,
    lines: usize,
    /// The writer found nothing to write and is parked (or about to park).
    idle: bool,
    closed: bool,
}

impl Sink {
    fn queue(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues one finished line (or several, written together); drops it when the queue is
    /// full.
    pub fn push(&self, line: &[u8]) {
        let mut q = self.queue();
        if q.lines >= self.limit {
            drop(q);
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        q.buf.extend_from_slice(line);
        q.lines += 1;
        let wake = std::mem::take(&mut q.idle);
        drop(q);
        if wake && let Some(writer) = self.writer.get() {
            writer.unpark();
        }
    }

    /// Lines dropped because the queue was full.
    pub fn dropped_lines(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// Starts the writer thread on `out`; lines past `limit` waiting are dropped. Keep the guard
/// until exit: dropping it writes what is still queued and stops the thread.
pub fn start<W: Write + Send + 'static>(out: W, limit: usize) -> (Arc<Sink>, Guard) {
    let sink = Arc::new(Sink {
        queue: Mutex::new(Queue::default()),
        limit,
        dropped: AtomicU64::new(0),
        writer: OnceLock::new(),
    });
    let thread = {
        let sink = sink.clone();
        thread::Builder::new()
            .name("keyward-log".into())
            .spawn(move || run(&sink, out))
            .ok()
    };
    let guard = Guard {
        sink: sink.clone(),
        thread,
    };
    (sink, guard)
}

fn run<W: Write>(sink: &Sink, mut out: W) {
    // Set before the writer can first mark itself idle, so no wake-up is lost.
    let _ = sink.writer.set(thread::current());
    let mut batch = Vec::with_capacity(64 * 1024);
    loop {
        {
            let mut q = sink.queue();
            if q.buf.is_empty() {
                if q.closed {
                    break;
                }
                q.idle = true;
                drop(q);
                thread::park();
                continue;
            }
            std::mem::swap(&mut q.buf, &mut batch);
            q.lines = 0;
        }
        let _ = out.write_all(&batch);
        let _ = out.flush();
        batch.clear();
        batch.shrink_to(KEEP_CAPACITY);
        thread::sleep(GATHER);
    }
    let _ = out.flush();
}

/// Writes what is still queued and stops the writer thread when dropped.
pub struct Guard {
    sink: Arc<Sink>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.sink.queue().closed = true;
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}

/// The sink as the `tracing` formatter's writer: each formatted event is one `write_all`,
/// queued as one line.
#[derive(Clone)]
pub struct SinkWriter(pub Arc<Sink>);

impl Write for SinkWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.push(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for SinkWriter {
    type Writer = SinkWriter;

    fn make_writer(&'a self) -> SinkWriter {
        self.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn lines_are_written_in_order_and_all_written_when_the_guard_drops() {
        let out = Shared::default();
        let (sink, guard) = start(out.clone(), 1000);
        for i in 0..500 {
            sink.push(format!("line {i}\n").as_bytes());
            if i % 100 == 0 {
                thread::sleep(Duration::from_millis(3));
            }
        }
        drop(guard);
        let text = String::from_utf8(out.0.lock().unwrap_or_else(PoisonError::into_inner).clone())
            .unwrap_or_default();
        let expected: String = (0..500).map(|i| format!("line {i}\n")).collect();
        assert_eq!(text, expected);
        assert_eq!(sink.dropped_lines(), 0);
    }

    #[test]
    fn a_full_queue_drops_and_counts_new_lines() {
        let sink = Sink {
            queue: Mutex::new(Queue::default()),
            limit: 3,
            dropped: AtomicU64::new(0),
            writer: OnceLock::new(),
        };
        for _ in 0..5 {
            sink.push(b"x\n");
        }
        assert_eq!(sink.queue().buf, b"x\nx\nx\n");
        assert_eq!(sink.dropped_lines(), 2);
    }
}
