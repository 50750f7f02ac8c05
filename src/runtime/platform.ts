/**
 * The one seam between gguf-stream and the JavaScript runtime it runs in: what each
 * runtime provides (files, standard streams, worker threads, cores), described once. One
 * adapter per runtime implements it (`deno.ts`, `bun.ts`, `node.ts`, `web.ts`) and
 * `current.ts` picks one; everything else reads the runtime through this interface only.
 * A capability a runtime lacks is absent (`undefined`), never a stub that pretends.
 *
 * @module
 */
import type { ByteSource } from "../model/byte_source.ts";

/** A JavaScript runtime gguf-stream tells apart. */
export type Runtime = "deno" | "bun" | "node" | "workerd" | "browser";

/** What a path names, as `stat` tells it. */
export type FileKind =
  | "file"
  | "directory"
  | "symlink"
  | "fifo"
  | "socket"
  | "character-device"
  | "block-device"
  | "other";

/** A file's metadata. */
export interface FileInfo {
  /** What the path names. */
  kind: FileKind;
  /** The size in bytes. */
  size: number;
  /** The device the file lives on (with `ino`, the file's identity). */
  dev: number;
  /** The file's inode number on its device. */
  ino: number;
}

/** A file opened for reads at given positions. */
export interface ReadHandle {
  /**
   * Reads up to `length` bytes at file position `position` into `into` at `at`; resolves
   * with the count read (0 at the end of the file).
   */
  read(into: Uint8Array, at: number, length: number, position: number): Promise<number>;
  /** The open file's metadata. */
  stat(): Promise<FileInfo>;
  /** Closes the file. */
  close(): Promise<void>;
}

/** A new file opened for appending writes. */
export interface OutputFile {
  /** Writes at the end; resolves with the bytes written (possibly fewer than given). */
  write(bytes: Uint8Array): Promise<number>;
  /** Flushes the file's data to the disk (may be called while writes go on). */
  datasync(): Promise<void>;
  /**
   * Writes a range already written back to the disk and waits for it, without the journal
   * commit and disk-cache flush of `datasync()` (Linux `sync_file_range`): keeps the page
   * cache's unwritten bytes few while the file grows; it makes nothing durable. Absent
   * where the system has no such call; rejects when the call fails (`datasync()` then).
   */
  writeBack?(offset: number, length: number): Promise<void>;
  /** Closes the file. */
  close(): Promise<void>;
}

/**
 * Files and paths. Failures are thrown as the runtime raises them, with the system's
 * error `code` (`ENOENT`, `EEXIST`, …) where it has one: callers word the message.
 */
export interface FileSystem {
  /** Metadata of a path, following symbolic links. */
  stat(path: string): Promise<FileInfo>;
  /** Metadata of a path, following symbolic links only with `follow`. */
  statSync(path: string, follow: boolean): FileInfo;
  /** The path with every symbolic link resolved. */
  realPath(path: string): string;
  /** The names in a directory. */
  listDirectory(path: string): string[];
  /**
   * Opens a regular file for positional reads (non-blocking where the system allows, so
   * that a path that became a pipe cannot block the open).
   */
  openRead(path: string): Promise<ReadHandle>;
  /**
   * Creates a file that must not exist yet and opens it for writing; writes run on the
   * runtime's thread pool where it has one, so that work goes on meanwhile.
   */
  createNew(path: string): Promise<OutputFile>;
  /** Renames a file, replacing the target. */
  rename(from: string, to: string): Promise<void>;
  /** Gives a file a second name, failing with `EEXIST` when that name is taken. */
  link(existing: string, name: string): Promise<void>;
  /** Removes a file; a missing file is no error. */
  remove(path: string): Promise<void>;
  /** Removes a file at once; a missing file is no error. */
  removeSync(path: string): void;
  /** Opens a directory and flushes its entries to the disk. */
  syncDirectory(path: string): Promise<void>;
  /** The directory part of a path. */
  dirname(path: string): string;
  /** The last part of a path. */
  basename(path: string): string;
  /** Joins path parts with the system's separator. */
  join(...parts: string[]): string;
}

/** Standard input and output of the process. */
export interface StandardStreams {
  /** Standard input as a byte stream. */
  stdin(): ReadableStream<Uint8Array>;
  /** Writes all of `bytes` to standard output; resolves once the system has them. */
  writeStdout(bytes: Uint8Array): Promise<void>;
  /** Metadata of standard input (0) or output (1); throws where it cannot be told. */
  stat(fd: 0 | 1): FileInfo;
  /**
   * Reads up to `into.length` bytes of standard input, blocking this thread until at
   * least one arrives; 0 at the end. For a thread that may wait (a worker). Absent where
   * the runtime cannot.
   */
  readStdinSync?(into: Uint8Array): number;
  /**
   * Writes all of `bytes` to standard output, blocking this thread as long as the reader
   * takes. For a thread that may wait (a worker); never mixed with
   * {@linkcode StandardStreams.writeStdout} on one output. Absent where the runtime cannot.
   */
  writeStdoutSync?(bytes: Uint8Array): void;
}

/** What the command line asks of the process it runs in. */
export interface ProcessControl {
  /** Whether standard input is a terminal. */
  stdinIsTerminal(): boolean;
  /** The width of the terminal standard error goes to; `undefined` when it is none. */
  stderrColumns(): number | undefined;
  /** The peak resident memory in bytes (the current size where the peak is unknown). */
  peakMemory(): number;
  /**
   * Calls `listener` when the process receives signal `name` (`"SIGINT"`, …); returns the
   * function that removes it. Throws for a signal this system does not have.
   */
  onSignal(name: string, listener: () => void): () => void;
  /**
   * Where exiting would wait for ever, ends the process at once as signal `name`'s default
   * action does (its handlers removed); else returns, and the caller exits as usual. Only
   * Node has it: its `exit()` first joins its thread pool, where a write to standard output
   * into a pipe no one reads blocks until the reader goes, and its worker threads, where a
   * blocking write into such a pipe does.
   */
  endBySignal?(name: string): void;
}

/** A started worker thread. */
export interface WorkerThread {
  /**
   * Sends a message (views of `SharedArrayBuffer`s are shared, not copied); the buffers in
   * `transfer` move to the thread (unusable here from then on).
   */
  postMessage(message: unknown, transfer?: ArrayBuffer[]): void;
  /** Stops the thread at once. */
  terminate(): void;
  /**
   * Whether the thread keeps the process alive: `true` while the caller waits for an
   * answer, `false` while it idles (where the runtime can tell them apart; Deno cannot,
   * so there an idle worker must be terminated).
   */
  keepAlive(alive: boolean): void;
}

/** What a started worker reports. */
export interface WorkerEvents {
  /** Each message the worker posts. */
  onMessage(data: unknown): void;
  /** The worker failed: its module did not load, or it threw outside a message. */
  onError(error: Error): void;
  /**
   * The thread stopped: it exited, was ended by the runtime, or was terminated. Node and
   * Bun tell; Deno and browsers do not, so there a thread that exits without an error is
   * noticed only by waiting on it.
   */
  onExit?(): void;
}

/** What one runtime provides; optional members are capabilities some runtimes lack. */
export interface Platform {
  /** The runtime's name. */
  readonly name: Runtime;
  /** How messages name the runtime (`"Deno"`, `"Bun"`, `"Node"`, …). */
  readonly displayName: string;
  /** The operating system as Node's `process.platform` names it; `undefined` on the web. */
  readonly os: string | undefined;
  /** This process's id (0 where there is none). */
  readonly pid: number;
  /** Files and paths; absent where there are none (browsers, workerd). */
  readonly files?: FileSystem;
  /**
   * Maps a file (of `reader.size` > 0 bytes) into memory as a source whose `kind` is
   * `"mmap"`; `read()` goes through `reader`, which `close()` closes. Throws when the
   * mapping is refused (Deno: `NotCapable` without `--allow-ffi`), so the caller can read
   * by position instead. Absent where the runtime cannot map files.
   */
  readonly mapFile?: (path: string, reader: ByteSource) => ByteSource;
  /**
   * Asks the kernel to drop a file's cached pages (the file is untouched); `true` if it
   * took the advice. Absent where advice cannot be given.
   */
  readonly dropCachedPages?: (path: string) => boolean;
  /**
   * Asks for a 1 MiB buffer on standard input or output, which the caller knows to be a
   * pipe (fewer hand-overs between the two processes); `true` if it was granted. Absent
   * where it cannot be asked.
   */
  readonly growPipe?: (fd: 0 | 1) => boolean;
  /**
   * Has the kernel back a new buffer's memory now, in one call, instead of one page fault
   * per page as it is first written (`madvise(MADV_POPULATE_WRITE)`, Linux 5.14 and
   * later); the bytes are unchanged. `true` if it took the advice. Absent where advice
   * cannot be given.
   */
  readonly prefault?: (bytes: Uint8Array) => boolean;
  /** Standard input and output; absent where the process has none. */
  readonly stdio?: StandardStreams;
  /**
   * `true` where the global `fetch` hands a compressed body over undecoded once the request
   * names its own `Accept-Encoding` (Deno); the web's `fetch` decodes it (Bun, Node,
   * browsers).
   */
  readonly fetchKeepsEncoding?: boolean;
  /** The terminal, memory and signals of the process; absent where there is none. */
  readonly process?: ProcessControl;
  /** Whether a process with this id runs (a process of another user counts). */
  processAlive(pid: number): boolean;
  /**
   * Whether worker threads sharing memory with this one can be started, running the
   * module at `module` when given (Deno needs read access to a file module: without it a
   * worker fails to load, and Deno prints an error of its own).
   */
  canStartWorkers(module?: URL): boolean;
  /**
   * Starts a worker thread running the ES module at `url`, which talks through the web
   * globals `onmessage` and `postMessage`; the thread does not keep the process alive
   * until `keepAlive(true)` where the runtime allows that. `undefined` where there are no
   * worker threads.
   */
  startWorker(url: URL, events: WorkerEvents): WorkerThread | undefined;
  /** The number of cores this process may use (at least 1). */
  availableCores(): number;
}
