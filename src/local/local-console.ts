/**
 * The terminal of a local-mode supervisor: prefixed output lines of children and one status
 * line (a spinner) at the bottom on a TTY. Lines written while the status line shows clear it
 * first and redraw it after, so they never interleave.
 */
import type { Writable } from 'node:stream';

export interface ConsoleOptions {
  out?: Writable;
  err?: Writable;
  /** draw the status line in place; default: out is a TTY */
  tty?: boolean;
  /** also called for every status change (used to forward progress over IPC) */
  onStatus?: (text: string | undefined) => void;
  /** also called for every info line */
  onInfo?: (text: string) => void;
}

const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

export class LocalConsole {
  readonly out: Writable;
  readonly err: Writable;
  readonly tty: boolean;
  private status: string | undefined;
  private frame = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: ConsoleOptions = {}) {
    this.out = opts.out ?? process.stdout;
    this.err = opts.err ?? process.stderr;
    this.tty = opts.tty ?? Boolean((this.out as NodeJS.WriteStream).isTTY);
  }

  /** A line for the user (our own messages). */
  info(text: string): void {
    this.write(this.out, text);
    this.opts.onInfo?.(text);
  }

  /** A line of a child's output, already prefixed. */
  line(text: string, stderr = false): void {
    this.write(stderr ? this.err : this.out, text);
  }

  /** Shows (or with undefined, clears) the status line. Off a TTY it is not drawn at all. */
  setStatus(text: string | undefined): void {
    this.opts.onStatus?.(text);
    if (!this.tty) return;
    this.clear();
    this.status = text;
    if (text === undefined) {
      if (this.timer) clearInterval(this.timer);
      this.timer = undefined;
      return;
    }
    this.draw();
    if (!this.timer) {
      this.timer = setInterval(() => {
        this.frame = (this.frame + 1) % SPINNER.length;
        this.clear();
        this.draw();
      }, 100);
      this.timer.unref();
    }
  }

  private write(stream: Writable, text: string): void {
    if (this.status !== undefined) this.clear();
    stream.write(text.endsWith('\n') ? text : `${text}\n`);
    if (this.status !== undefined) this.draw();
  }

  private clear(): void {
    if (this.tty && this.status !== undefined) this.out.write('\r\x1b[2K');
  }

  private draw(): void {
    if (this.status === undefined) return;
    const cols = (this.out as NodeJS.WriteStream).columns ?? 100;
    const text = `${SPINNER[this.frame]} ${this.status}`;
    this.out.write(text.length > cols - 1 ? `${text.slice(0, cols - 2)}…` : text);
  }
}
