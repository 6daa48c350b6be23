/**
 * Live rewind: the live viewer keeps the frames of the last minute in memory, so a collaborator
 * can drag back to replay a moment while the sim keeps running, then jump back to live. No
 * Jupyter imports. Frames keep arriving while rewound: they are stored, not drawn.
 *
 * State on the root for tests: data-live ("true" while showing the newest frame), data-live-frame
 * (number of the newest frame received), data-shown-frame (number of the frame drawn),
 * data-buffered (frames kept).
 */
import { Frame } from './codec';

export interface ILiveRewindOptions {
  /** Draw a frame in the view. */
  draw: (frame: Frame) => void;
  /** How far back frames are kept, in seconds of wall time (default 60). */
  windowSeconds?: number;
  /** Byte cap on kept frames, for pixel-mode sims (default 64 MiB). */
  maxBytes?: number;
}

interface IKept {
  frame: Frame;
  /** performance.now() when it arrived. */
  at: number;
  bytes: number;
}

const DEFAULT_WINDOW_S = 60;
const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;

function frameBytes(frame: Frame): number {
  return frame.kind === 'poses' ? frame.poses.byteLength : frame.jpeg.byteLength;
}

export class LiveRewind {
  /** The bar under the view, `.cosim-Rewind`. */
  readonly element: HTMLDivElement;

  constructor(private _opts: ILiveRewindOptions) {
    this._windowMs = 1000 * (_opts.windowSeconds ?? DEFAULT_WINDOW_S);
    this._maxBytes = _opts.maxBytes ?? DEFAULT_MAX_BYTES;
    this.element = document.createElement('div');
    this.element.className = 'cosim-Rewind';
    this._replay = document.createElement('button');
    this._replay.className = 'cosim-Rewind-replay';
    this._replay.title = 'Replay from here at real speed (back to live at the end)';
    this._replay.onclick = () => this._toggleReplay();
    this._scrub = document.createElement('input');
    this._scrub.type = 'range';
    this._scrub.className = 'cosim-Rewind-scrub';
    this._scrub.title = 'Drag back to replay the last minute; the sim keeps running';
    this._scrub.min = '0';
    this._scrub.step = '1';
    this._scrub.oninput = () => this.showIndex(Number(this._scrub.value));
    this._label = document.createElement('span');
    this._label.className = 'cosim-Rewind-label';
    this._goLive = document.createElement('button');
    this._goLive.className = 'cosim-Rewind-live';
    this._goLive.textContent = 'Live';
    this._goLive.title = 'Back to the running sim';
    this._goLive.onclick = () => this.goLive();
    this.element.append(this._replay, this._scrub, this._label, this._goLive);
    this._update();
  }

  /** True while the view follows the newest frame. */
  get live(): boolean {
    return this._shown === null;
  }

  /** Frames kept now. */
  get length(): number {
    return this._kept.length;
  }

  /** A frame from the connection: kept, and drawn when live. */
  push(frame: Frame): void {
    const now = performance.now();
    const bytes = frameBytes(frame);
    this._kept.push({ frame, at: now, bytes });
    this._bytes += bytes;
    this._liveNumber = frame.number;
    while (
      this._kept.length > 1 &&
      (now - this._kept[0].at > this._windowMs || this._bytes > this._maxBytes)
    ) {
      this._bytes -= this._kept.shift()!.bytes;
      this._base++;
    }
    if (this._shown === null) {
      this._opts.draw(frame);
    } else if (this._shown < this._base) {
      this._show(this._base); // the shown frame fell out of the window
    }
    this._scheduleUpdate();
  }

  /** Show the kept frame at `index` (0 = oldest); the newest index goes back to live. */
  showIndex(index: number): void {
    const last = this._kept.length - 1;
    if (last < 0) {
      return;
    }
    const i = Math.min(Math.max(0, Math.round(index)), last);
    if (i === last && this._replayRaf === 0) {
      this.goLive();
      return;
    }
    this._show(this._base + i);
  }

  /** Follow the running sim again. */
  goLive(): void {
    this._stopReplay();
    this._shown = null;
    const newest = this._kept[this._kept.length - 1];
    if (newest) {
      this._opts.draw(newest.frame);
    }
    this._update();
  }

  dispose(): void {
    this._stopReplay();
    clearTimeout(this._updateTimer);
    this._kept = [];
  }

  private _show(seq: number): void {
    this._shown = seq;
    this._opts.draw(this._kept[seq - this._base].frame);
    this._update();
  }

  /** Play the kept frames from the shown one at the pace they arrived; live again at the end. */
  private _toggleReplay(): void {
    if (this._replayRaf !== 0) {
      this._stopReplay();
      this._update();
      return;
    }
    if (this._shown === null) {
      return; // live already plays
    }
    const startSeq = this._shown;
    const startAt = this._kept[startSeq - this._base].at;
    const t0 = performance.now();
    const tick = (now: number) => {
      const target = startAt + (now - t0);
      let seq = Math.max(this._shown ?? startSeq, this._base);
      while (
        seq - this._base + 1 < this._kept.length &&
        this._kept[seq - this._base + 1].at <= target
      ) {
        seq++;
      }
      if (seq - this._base >= this._kept.length - 1) {
        this.goLive();
        return;
      }
      if (seq !== this._shown) {
        this._show(seq);
      }
      this._replayRaf = requestAnimationFrame(tick);
    };
    this._replayRaf = requestAnimationFrame(tick);
    this._update();
  }

  private _stopReplay(): void {
    if (this._replayRaf !== 0) {
      cancelAnimationFrame(this._replayRaf);
      this._replayRaf = 0;
    }
  }

  /** The bar is text and a slider: refresh it a few times a second while frames stream. */
  private _scheduleUpdate(): void {
    if (this._updateTimer === undefined) {
      this._updateTimer = setTimeout(() => {
        this._updateTimer = undefined;
        this._update();
      }, 200);
    }
  }

  private _update(): void {
    const count = this._kept.length;
    const live = this._shown === null;
    const index = live ? count - 1 : this._shown! - this._base;
    this._scrub.max = String(Math.max(0, count - 1));
    this._scrub.value = String(Math.max(0, index));
    this._scrub.disabled = count < 2;
    const newest = this._kept[count - 1];
    const shown = this._kept[index];
    const behind = newest && shown ? (newest.at - shown.at) / 1000 : 0;
    this._label.textContent = live ? 'live' : `−${behind.toFixed(1)} s`;
    this._goLive.disabled = live;
    this._replay.textContent = this._replayRaf !== 0 ? 'Pause' : 'Replay';
    this._replay.disabled = live;
    Object.assign(this.element.dataset, {
      live: String(live),
      liveFrame: String(this._liveNumber),
      shownFrame: shown ? String(shown.frame.number) : '0',
      buffered: String(count)
    });
  }

  private _windowMs: number;
  private _maxBytes: number;
  private _kept: IKept[] = [];
  private _bytes = 0;
  /** Sequence number of `_kept[0]`; `_shown` is a sequence number too (null: live). */
  private _base = 0;
  private _shown: number | null = null;
  private _liveNumber = 0;
  private _replayRaf = 0;
  private _updateTimer: ReturnType<typeof setTimeout> | undefined = undefined;
  private _replay: HTMLButtonElement;
  private _scrub: HTMLInputElement;
  private _label: HTMLSpanElement;
  private _goLive: HTMLButtonElement;
}
