/**
 * The playback timeline under a SimView: play/pause, speed, frame step, scrub, loop range and
 * event marks. No Jupyter imports; it drives a `seek(frameIndex)` callback and shows its state
 * on its root for tests: data-frame (0-based index shown), data-time (sim seconds), data-playing.
 */
export interface ITimelineOptions {
  frameCount: number;
  startTime: number;
  endTime: number;
  /** Sim time of frame `j` and the last frame at or before time `t`. */
  timeOf: (j: number) => number;
  frameAt: (t: number) => number;
  /** Draw frame `j`. */
  seek: (j: number) => void;
  marks: { t: number; label: string }[];
}

export const SPEEDS = [0.1, 0.25, 0.5, 1, 2, 5, 10];

function control<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  cls: string,
  parent: HTMLElement,
  title = ''
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  node.className = `cosim-Timeline-${cls}`;
  node.title = title;
  parent.appendChild(node);
  return node;
}

export class Timeline {
  readonly element: HTMLDivElement;

  constructor(private _opts: ITimelineOptions) {
    this.element = document.createElement('div');
    this.element.className = 'cosim-Timeline';
    const bar = control('div', 'bar', this.element);
    this._play = control('button', 'play', bar, 'Play or pause (space)');
    this._play.onclick = () => this.toggle();
    const back = control('button', 'back', bar, 'One frame back');
    back.textContent = '◀';
    back.onclick = () => this.step(-1);
    const fwd = control('button', 'forward', bar, 'One frame forward');
    fwd.textContent = '▶';
    fwd.onclick = () => this.step(1);
    this._speed = control('select', 'speed', bar, 'Playback speed');
    for (const s of SPEEDS) {
      this._speed.appendChild(new Option(`${s}×`, String(s), s === 1, s === 1));
    }
    this._loop = control('input', 'loop', bar, 'Loop between the marked in and out points');
    this._loop.type = 'checkbox';
    const loopLabel = control('label', 'loopLabel', bar);
    loopLabel.textContent = 'loop';
    const setIn = control('button', 'in', bar, 'Loop from here');
    setIn.textContent = '[';
    setIn.onclick = () => (this._in = this._frame);
    const setOut = control('button', 'out', bar, 'Loop to here');
    setOut.textContent = ']';
    setOut.onclick = () => (this._out = this._frame);
    this._time = control('span', 'time', bar);
    const track = control('div', 'track', this.element);
    this._scrub = control('input', 'scrub', track, 'Drag to scrub');
    this._scrub.type = 'range';
    this._scrub.min = '0';
    this._scrub.max = String(Math.max(0, _opts.frameCount - 1));
    this._scrub.step = '1';
    this._scrub.oninput = () => {
      const target = Number(this._scrub.value); // before pause() redraws the slider
      this.pause();
      this.show(target);
    };
    const span = Math.max(_opts.endTime - _opts.startTime, 1e-9);
    for (const mark of _opts.marks) {
      const tick = control('div', 'mark', track, `${mark.label} at ${mark.t.toFixed(2)} s`);
      tick.style.left = `${(100 * (mark.t - _opts.startTime)) / span}%`;
    }
    this._out = Math.max(0, _opts.frameCount - 1);
    this._update();
  }

  get frame(): number {
    return this._frame;
  }

  get playing(): boolean {
    return this._raf !== 0;
  }

  show(j: number): void {
    this._frame = Math.min(Math.max(0, Math.round(j)), Math.max(0, this._opts.frameCount - 1));
    this._opts.seek(this._frame);
    this._update();
  }

  step(delta: number): void {
    this.pause();
    this.show(this._frame + delta);
  }

  toggle(): void {
    if (this.playing) {
      this.pause();
    } else {
      this.play();
    }
  }

  play(): void {
    if (this.playing || this._opts.frameCount === 0) {
      return;
    }
    if (this._frame >= this._opts.frameCount - 1) {
      this.show(0);
    }
    let last = performance.now();
    let simTime = this._opts.timeOf(this._frame);
    const tick = (now: number) => {
      simTime += ((now - last) / 1000) * Number(this._speed.value);
      last = now;
      const looping = this._loop.checked && this._out > this._in;
      const end = looping ? this._out : this._opts.frameCount - 1;
      let j = this._opts.frameAt(simTime);
      if (j >= end && simTime >= this._opts.timeOf(end)) {
        if (!looping) {
          this.show(end);
          this.pause();
          return;
        }
        j = this._in;
        simTime = this._opts.timeOf(j);
      }
      if (j !== this._frame) {
        this.show(j);
      }
      this._raf = requestAnimationFrame(tick);
    };
    this._raf = requestAnimationFrame(tick);
    this._update();
  }

  pause(): void {
    if (this._raf) {
      cancelAnimationFrame(this._raf);
      this._raf = 0;
    }
    this._update();
  }

  dispose(): void {
    this.pause();
  }

  private _update(): void {
    const t = this._opts.frameCount ? this._opts.timeOf(this._frame) : 0;
    this._play.textContent = this.playing ? 'Pause' : 'Play';
    this._scrub.value = String(this._frame);
    this._time.textContent = `${t.toFixed(3)} s · frame ${this._frame + 1} / ${this._opts.frameCount}`;
    Object.assign(this.element.dataset, {
      frame: String(this._frame),
      time: t.toFixed(6),
      playing: String(this.playing)
    });
  }

  private _play: HTMLButtonElement;
  private _speed: HTMLSelectElement;
  private _loop: HTMLInputElement;
  private _time: HTMLSpanElement;
  private _scrub: HTMLInputElement;
  private _frame = 0;
  private _in = 0;
  private _out = 0;
  private _raf = 0;
}
