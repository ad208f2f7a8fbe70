/**
 * A runtime process's output cut into lines, in linear time and with a
 * bounded line: Lambda's lines end up as CloudWatch Logs events, whose
 * largest size is 256 KiB, so lrp keeps at most the first
 * {@linkcode MAX_LINE_BYTES} of a line and counts the rest (a line of
 * 100 MB without a newline costs 256 KiB of memory, not 100 MB nor a
 * quadratic copy).
 *
 * @module
 */

/** The most bytes of one output line kept: a CloudWatch Logs event's largest size, 256 KiB. */
export const MAX_LINE_BYTES = 256 * 1024;

/** One output line. */
export interface OutputLine {
  /** The line without its newline (and `\r`), decoded as UTF-8; its first {@linkcode MAX_LINE_BYTES} when cut. */
  text: string;
  /** The whole line's length in bytes (without the newline). */
  bytes: number;
  /** Whether `text` is only the start of the line. */
  truncated: boolean;
}

/** Cuts a byte stream into {@linkcode OutputLine}s. */
export class LineSplitter {
  #max: number;
  #parts: Uint8Array[] = [];
  #kept = 0;
  #bytes = 0;
  #decoder = new TextDecoder();

  /** A splitter keeping at most `maxLineBytes` of each line. */
  constructor(maxLineBytes = MAX_LINE_BYTES) {
    this.#max = maxLineBytes;
  }

  /** Adds one chunk; calls `emit` for each line it completes. */
  push(chunk: Uint8Array, emit: (line: OutputLine) => void): void {
    let start = 0;
    for (let nl; (nl = chunk.indexOf(10, start)) !== -1; start = nl + 1) {
      this.#add(chunk.subarray(start, nl));
      emit(this.#take());
    }
    if (start < chunk.length) this.#add(chunk.subarray(start));
  }

  /** Ends the stream: emits the last line when it is not empty. */
  end(emit: (line: OutputLine) => void): void {
    if (this.#bytes > 0) emit(this.#take());
  }

  #add(part: Uint8Array): void {
    this.#bytes += part.length;
    const room = this.#max - this.#kept;
    if (room <= 0 || part.length === 0) return;
    // A copy: the chunk's buffer is not kept alive for a few bytes of it.
    const kept = part.length > room ? part.slice(0, room) : part.slice();
    this.#parts.push(kept);
    this.#kept += kept.length;
  }

  #take(): OutputLine {
    const bytes = this.#bytes;
    const truncated = bytes > this.#kept;
    let all: Uint8Array;
    if (this.#parts.length === 1) all = this.#parts[0]!;
    else {
      all = new Uint8Array(this.#kept);
      let o = 0;
      for (const p of this.#parts) {
        all.set(p, o);
        o += p.length;
      }
    }
    let end = all.length;
    if (truncated) {
      // Cut at a character boundary: back over UTF-8 continuation bytes, then the lead byte.
      let i = end;
      while (i > 0 && (all[i - 1]! & 0xc0) === 0x80) i--;
      if (i > 0 && all[i - 1]! >= 0xc0) {
        const lead = all[i - 1]!;
        const need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
        if (end - (i - 1) < need) end = i - 1;
      }
    } else if (end > 0 && all[end - 1] === 13) end--;
    this.#parts = [];
    this.#kept = 0;
    this.#bytes = 0;
    return { text: this.#decoder.decode(all.subarray(0, end)), bytes, truncated };
  }
}
