//! The spill files of [`crate::ntk::store::SignalStore`]: each written once, sequentially, by a
//! background thread while the next block's signals are computed, and read back in ranges. A
//! reader waits only for the appends of the layer it reads ([`Writer::wait_for`], [`Ready`]): the
//! last block, handed over when the forward + backward ends, is still being written, layer by
//! layer, while the first layers are contracted (SmolLM2, N = 32: that wait was 2.6–3.5 s).
//!
//! On Linux a file is opened with `O_DIRECT` where the file system allows it: the bytes go
//! between the process's buffers and the disk without passing through the page cache. A buffered
//! spill of N = 512 MiniLM signals (11 GB) made the kernel allocate, zero and copy 11 GB of page
//! cache, the largest item of the run's system time (docs/ntk.md "Memory"); a direct write costs
//! the copy into one aligned staging buffer and the I/O. Direct I/O needs aligned offsets,
//! lengths and buffers ([`ALIGN`]): the writer writes whole aligned blocks and keeps each file's
//! unaligned tail (< [`ALIGN`] bytes) in RAM, where reads find it. Where `O_DIRECT` is refused
//! (tmpfs, other systems) the file is an ordinary buffered one and everything else is the same.
//!
//! Each file is unlinked right after it is opened (Unix), so its blocks are freed when the
//! process ends, even when it is killed; the directory itself is removed by the store.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

use crate::error::{Error, Result};

/// Alignment of direct I/O offsets, lengths and buffers (a page: every block device's logical
/// block size divides it).
pub const ALIGN: usize = 4096;

/// Bytes of one direct write or read (staging buffer size).
const STAGE: usize = 8 << 20;

/// One aligned block of bytes.
#[derive(Clone, Copy, bytemuck::Zeroable, bytemuck::Pod)]
#[repr(C, align(4096))]
struct Block([u8; ALIGN]);

/// A reusable buffer aligned for direct I/O.
#[derive(Default)]
pub struct Staging(Vec<Block>);

impl Staging {
    fn new(bytes: usize) -> Self {
        Self(vec![Block([0; ALIGN]); bytes.div_ceil(ALIGN)])
    }

    fn bytes(&mut self) -> &mut [u8] {
        bytemuck::cast_slice_mut(&mut self.0)
    }
}

struct State {
    file: File,
    direct: bool,
    /// Bytes on disk (a multiple of [`ALIGN`] when direct).
    written: usize,
    /// Bytes appended after `written`, not yet on disk (< [`ALIGN`] once a write completes).
    tail: Vec<u8>,
}

/// One spill file.
pub struct SpillFile {
    path: PathBuf,
    state: Mutex<State>,
}

/// Lock `m`, a poisoned lock being an internal error of the spill.
pub(crate) fn lock<T>(m: &Mutex<T>) -> Result<MutexGuard<'_, T>> {
    m.lock().map_err(|_| Error::internal("signal spill", "lock poisoned"))
}

/// Bytes free for an unprivileged user on the file system holding `dir` (`u64::MAX` where the
/// platform does not say).
///
/// # Errors
/// [`Error::Write`] naming `dir` when it cannot be queried (e.g. it does not exist).
#[cfg(unix)]
pub fn free_bytes(dir: &Path) -> Result<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes())
        .map_err(|_| Error::write(dir, std::io::Error::from(std::io::ErrorKind::InvalidInput)))?;
    // SAFETY: `path` is a NUL-terminated string and `stat` a plain-data struct statvfs fills.
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are valid for the call.
    if unsafe { libc::statvfs(path.as_ptr(), &mut stat) } != 0 {
        return Err(Error::write(dir, std::io::Error::last_os_error()));
    }
    // Both are u64 on 64-bit Linux, narrower on some other targets.
    #[allow(clippy::useless_conversion)]
    let (blocks, size) = (u64::from(stat.f_bavail), u64::from(stat.f_frsize));
    Ok(blocks.saturating_mul(size))
}

/// Bytes free for an unprivileged user on the file system holding `dir` (`u64::MAX` where the
/// platform does not say).
///
/// # Errors
/// Never on this platform.
#[cfg(not(unix))]
pub fn free_bytes(_: &Path) -> Result<u64> {
    Ok(u64::MAX)
}

#[cfg(target_os = "linux")]
fn open_direct(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = OpenOptions::new().read(true).write(true).custom_flags(libc::O_DIRECT).open(path)?;
    // Some file systems accept the flag and refuse the I/O: try one aligned block.
    (&file).write_all(Staging::new(ALIGN).bytes())?;
    Ok(file)
}

#[cfg(not(target_os = "linux"))]
fn open_direct(_: &Path) -> std::io::Result<File> {
    Err(std::io::ErrorKind::Unsupported.into())
}

impl SpillFile {
    /// Create `path` (it must not exist), direct where allowed, and unlink it (Unix).
    ///
    /// # Errors
    /// [`Error::Write`] when it cannot be created or opened.
    pub fn create(path: PathBuf) -> Result<Self> {
        Self::create_with(path, true)
    }

    /// As [`SpillFile::create`], buffered unless `try_direct`.
    fn create_with(path: PathBuf, try_direct: bool) -> Result<Self> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| Error::write(&path, e))?;
        let (file, direct) = match try_direct.then(|| open_direct(&path)) {
            Some(Ok(direct)) => (direct, true),
            _ => (file, false),
        };
        #[cfg(unix)]
        let _ = std::fs::remove_file(&path);
        Ok(Self { path, state: Mutex::new(State { file, direct, written: 0, tail: Vec::new() }) })
    }

    /// True when the file bypasses the page cache.
    pub fn direct(&self) -> Result<bool> {
        Ok(lock(&self.state)?.direct)
    }

    /// Append `bytes` through `stage` (whole aligned blocks go to disk, the rest waits in RAM).
    fn append(&self, bytes: &[u8], stage: &mut Staging) -> Result<()> {
        let mut guard = lock(&self.state)?;
        let State { file, direct, written, tail } = &mut *guard;
        let err = |e| Error::write(self.path.clone(), e);
        let buf = stage.bytes();
        let mut rest = bytes;
        loop {
            let pending = tail.len() + rest.len();
            let whole = if *direct { pending / ALIGN * ALIGN } else { pending };
            if whole == 0 {
                break;
            }
            // The tail is shorter than one block, the buffer a whole number of blocks.
            let piece = whole.min(buf.len());
            let from_tail = tail.len();
            let take = piece - from_tail;
            buf[..from_tail].copy_from_slice(tail);
            buf[from_tail..piece].copy_from_slice(&rest[..take]);
            file.seek(SeekFrom::Start(*written as u64)).map_err(err)?;
            file.write_all(&buf[..piece]).map_err(err)?;
            *written += piece;
            tail.clear();
            rest = &rest[take..];
        }
        tail.extend_from_slice(rest);
        Ok(())
    }

    /// Bytes `range` into `out` (its length), through `stage`.
    ///
    /// # Errors
    /// [`Error::Write`] when the file cannot be read (or the range was never written).
    pub fn read(&self, range: Range<usize>, out: &mut [u8], stage: &mut Staging) -> Result<()> {
        let mut guard = lock(&self.state)?;
        let State { file, written, tail, .. } = &mut *guard;
        let err = |e| Error::write(self.path.clone(), e);
        if range.end > *written + tail.len() {
            let reason = format!("bytes {range:?} of {} were never written", *written + tail.len());
            return Err(Error::internal("signal spill", reason));
        }
        if stage.0.len() * ALIGN < STAGE {
            *stage = Staging::new(STAGE);
        }
        let buf = stage.bytes();
        let mut at = range.start;
        while at < range.end.min(*written) {
            let from = at / ALIGN * ALIGN;
            let len = (range.end.min(*written).div_ceil(ALIGN) * ALIGN - from).min(buf.len()).min(*written - from);
            file.seek(SeekFrom::Start(from as u64)).map_err(err)?;
            file.read_exact(&mut buf[..len]).map_err(err)?;
            let got = (from + len).min(range.end) - at;
            out[at - range.start..at - range.start + got].copy_from_slice(&buf[at - from..at - from + got]);
            at += got;
        }
        if at < range.end {
            out[at - range.start..].copy_from_slice(&tail[at - *written..range.end - *written]);
        }
        Ok(())
    }
}

/// Appends to spill files on a background thread, one block's buffers per message, so that the
/// next block is computed while the last one is written; [`Writer::wait_for`] lets a reader go
/// on as soon as the appends it needs are done (the last block's later layers are written while
/// the first ones are contracted).
pub struct Writer {
    sender: Option<SyncSender<Vec<(Arc<SpillFile>, Vec<f32>)>>>,
    thread: Option<JoinHandle<Result<()>>>,
    /// Appends queued so far.
    sent: usize,
    /// Appends done so far, and whether the thread has stopped (a write error, or the end).
    progress: Arc<(Mutex<Progress>, Condvar)>,
}

#[derive(Default)]
struct Progress {
    done: usize,
    stopped: bool,
}

/// Marks the writer thread stopped when it ends, however it ends, and wakes the readers.
struct StopOnDrop(Arc<(Mutex<Progress>, Condvar)>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        let (state, wake) = &*self.0;
        if let Ok(mut p) = state.lock() {
            p.stopped = true;
        }
        wake.notify_all();
    }
}

impl Writer {
    /// A writer thread with room for one block waiting.
    pub fn start() -> Self {
        let (sender, receiver) = sync_channel::<Vec<(Arc<SpillFile>, Vec<f32>)>>(1);
        let progress = Arc::new((Mutex::new(Progress::default()), Condvar::new()));
        let shared = Arc::clone(&progress);
        let thread = std::thread::spawn(move || {
            let stop = StopOnDrop(shared);
            let mut stage = Staging::new(STAGE);
            for block in receiver {
                for (file, values) in block {
                    file.append(bytemuck::cast_slice(&values), &mut stage)?;
                    drop(values);
                    let (state, wake) = &*stop.0;
                    lock(state)?.done += 1;
                    wake.notify_all();
                }
            }
            Ok(())
        });
        Self { sender: Some(sender), thread: Some(thread), sent: 0, progress }
    }

    /// A handle that waits, on any thread, until the first `appends` queued appends are done.
    /// (More appends than were queued: a handle whose wait fails at once.)
    pub fn ready(&self, appends: usize) -> Ready {
        Ready { progress: Arc::clone(&self.progress), appends, queued: appends <= self.sent }
    }

    /// Appends queued so far: the ones of the next [`Writer::send`] are numbered from here.
    pub fn sent(&self) -> usize {
        self.sent
    }

    /// Queue one block's appends (in order).
    ///
    /// # Errors
    /// The first write error of an earlier block.
    pub fn send(&mut self, block: Vec<(Arc<SpillFile>, Vec<f32>)>) -> Result<()> {
        let count = block.len();
        let failed = match &self.sender {
            Some(sender) => sender.send(block).is_err(),
            None => return Err(Error::internal("signal spill", "append after the writer finished")),
        };
        if failed {
            // The thread stopped early: only a write error stops it.
            self.finish()?;
            return Err(Error::internal("signal spill", "the writer stopped"));
        }
        self.sent += count;
        Ok(())
    }

    /// Wait until the first `appends` queued appends are on disk (or in their files' tails).
    ///
    /// # Errors
    /// The first write error, when the thread stopped before.
    pub fn wait_for(&mut self, appends: usize) -> Result<()> {
        if appends > self.sent {
            return Err(Error::internal("signal spill", format!("{appends} appends awaited, {} queued", self.sent)));
        }
        if self.ready(appends).wait() {
            return Ok(());
        }
        self.finish()?;
        Err(Error::internal("signal spill", "the writer stopped before the signals were written"))
    }

    /// Wait until everything queued is written.
    ///
    /// # Errors
    /// The first write error.
    pub fn finish(&mut self) -> Result<()> {
        self.sender = None;
        match self.thread.take() {
            Some(thread) => thread.join().map_err(|_| Error::internal("signal spill", "the writer panicked"))?,
            None => Ok(()),
        }
    }
}

/// The point in a [`Writer`]'s queue up to which a reader needs the appends done.
pub struct Ready {
    progress: Arc<(Mutex<Progress>, Condvar)>,
    appends: usize,
    /// False when the appends were never queued.
    queued: bool,
}

impl Ready {
    /// Wait for the appends; false when the writer stopped before them (a write error, which
    /// [`Writer::wait_for`] reports) or they were never queued.
    pub fn wait(&self) -> bool {
        if !self.queued {
            return false;
        }
        let (state, wake) = &*self.progress;
        let Ok(mut p) = state.lock() else { return false };
        while p.done < self.appends && !p.stopped {
            match wake.wait(p) {
                Ok(next) => p = next,
                Err(_) => return false,
            }
        }
        p.done >= self.appends
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

/// Whole ranges of spill files read on a background thread into reused buffers: the next
/// layer's signals are read while the current one is contracted.
pub struct Prefetch {
    key: usize,
    thread: JoinHandle<(Result<()>, Vec<Vec<f32>>, Staging)>,
}

impl Prefetch {
    /// Read each `(file, byte range)` into the buffer at its place in `buffers` (reused; more
    /// are made when there are fewer), through `stage`, once the writer's appends `ready` names
    /// are done; `key` names the read.
    pub fn start(
        key: usize,
        reads: Vec<(Arc<SpillFile>, Range<usize>)>,
        ready: Option<Ready>,
        mut buffers: Vec<Vec<f32>>,
        mut stage: Staging,
    ) -> Self {
        buffers.resize_with(buffers.len().max(reads.len()), Vec::new);
        let thread = std::thread::spawn(move || {
            let mut result = Ok(());
            if ready.is_some_and(|r| !r.wait()) {
                result = Err(Error::internal("signal spill", "the writer stopped before the signals were written"));
            }
            for ((file, range), buf) in reads.iter().zip(buffers.iter_mut()) {
                buf.clear();
                buf.resize(range.len() / 4, 0.0);
                if result.is_ok() {
                    result = file.read(range.clone(), bytemuck::cast_slice_mut(buf), &mut stage);
                }
            }
            (result, buffers, stage)
        });
        Self { key, thread }
    }

    /// The key given to [`Prefetch::start`].
    pub fn key(&self) -> usize {
        self.key
    }

    /// Wait for the reads: the buffers in the order of the reads, and the staging buffer.
    ///
    /// # Errors
    /// The first read error.
    pub fn join(self) -> Result<(Vec<Vec<f32>>, Staging)> {
        let (result, buffers, stage) =
            self.thread.join().map_err(|_| Error::internal("signal spill", "the prefetch panicked"))?;
        result.map(|()| (buffers, stage))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_of_any_length_read_back_at_any_offset() {
        let dir = tempfile::tempdir().unwrap();
        for try_direct in [true, false] {
            let path = dir.path().join(format!("x{try_direct}"));
            let file = Arc::new(SpillFile::create_with(path.clone(), try_direct).unwrap());
            assert!(try_direct || !file.direct().unwrap());
            let values: Vec<f32> = (0..3 * STAGE / 4 + 777).map(|v| v as f32).collect();
            let mut writer = Writer::start();
            // Unaligned pieces, one larger than the staging buffer.
            let cuts = [0, 1, 1000, 1001, 5000, STAGE / 4 + 3, values.len()];
            for w in cuts.windows(2) {
                writer.send(vec![(Arc::clone(&file), values[w[0]..w[1]].to_vec())]).unwrap();
            }
            writer.finish().unwrap();
            let mut stage = Staging::default();
            let total = 4 * values.len();
            for range in [0..4, 4..total, 4092..4104, total - 12..total, 4 * 1001..4 * 5003, 0..total] {
                let mut out = vec![0u8; range.len()];
                file.read(range.clone(), &mut out, &mut stage).unwrap();
                let want = &bytemuck::cast_slice::<f32, u8>(&values)[range.clone()];
                assert!(out == want, "direct {} range {range:?}", file.direct().unwrap());
            }
            let mut out = vec![0u8; 8];
            assert!(file.read(total - 4..total + 4, &mut out, &mut stage).is_err());
            let reads = vec![(Arc::clone(&file), 4..total), (Arc::clone(&file), 0..8)];
            let (got, _) = Prefetch::start(7, reads, None, vec![vec![1.0; 3]], stage).join().unwrap();
            assert_eq!((got[0].as_slice(), got[1].as_slice()), (&values[1..], &values[..2]));
            #[cfg(unix)]
            assert!(!path.exists(), "unlinked after opening");
        }
    }

    #[test]
    fn readers_wait_for_the_appends_they_need_and_never_past_a_stopped_writer() {
        let dir = tempfile::tempdir().unwrap();
        let files: Vec<Arc<SpillFile>> =
            (0..2).map(|k| Arc::new(SpillFile::create(dir.path().join(format!("f{k}"))).unwrap())).collect();
        let values: Vec<f32> = (0..STAGE / 2 + 5).map(|v| v as f32).collect();
        let mut writer = Writer::start();
        assert_eq!(writer.sent(), 0);
        writer.send(files.iter().map(|f| (Arc::clone(f), values.clone())).collect()).unwrap();
        assert_eq!(writer.sent(), 2);
        // The first file is whole once the first append is done, whatever the second's state.
        writer.wait_for(1).unwrap();
        let mut out = vec![0u8; 4 * values.len()];
        files[0].read(0..out.len(), &mut out, &mut Staging::default()).unwrap();
        assert!(out == bytemuck::cast_slice::<f32, u8>(&values));
        // A prefetch waits on its own thread for the second.
        let reads = vec![(Arc::clone(&files[1]), 0..out.len())];
        let (got, _) = Prefetch::start(1, reads, Some(writer.ready(2)), Vec::new(), Staging::default()).join().unwrap();
        assert_eq!(got[0], values);
        writer.wait_for(2).unwrap();
        // Appends that were never queued, or will never come once the writer has stopped: an
        // error, not a wait without end.
        assert!(writer.wait_for(3).is_err());
        assert!(!writer.ready(3).wait());
        let reads = vec![(Arc::clone(&files[0]), 0..8)];
        assert!(Prefetch::start(2, reads, Some(writer.ready(3)), Vec::new(), Staging::default()).join().is_err());
        let ready = writer.ready(2);
        writer.finish().unwrap();
        assert!(ready.wait(), "done before the writer stopped");
        writer.sent += 1; // as if an append had been queued that the stopped thread never took
        assert!(!writer.ready(3).wait());
        assert!(writer.wait_for(3).is_err());
    }
}
