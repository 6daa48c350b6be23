/**
 * The live-control row of a viewer: pause/run, step, reset, seed, speed, param sliders, the
 * last change ("bob paused at t = 3.20 s") and who is watching (avatars). It only renders the
 * server's control document and sends changes; the server validates and applies them in order.
 */
import { el } from '../dom';
import { IControlChange, IControlDocument, IControlEvent } from '../protocol/control';

const SPEEDS = [0.1, 0.25, 0.5, 1, 2, 4, 0];

/** A stable colour per hub name, so each person looks the same in every viewer. */
export function colourOf(name: string): string {
  let hash = 0;
  for (const ch of name) {
    hash = (hash * 31 + ch.charCodeAt(0)) >>> 0;
  }
  return `hsl(${hash % 360}, 60%, 45%)`;
}

export function describeEvent(event: IControlEvent): string {
  const at = typeof event.sim_time === 'number' ? ` at t = ${event.sim_time.toFixed(2)} s` : '';
  return `${event.who} ${event.what}${at}`;
}

export class ControlToolbar {
  readonly element: HTMLDivElement;

  constructor(private readonly _send: (change: IControlChange) => boolean) {
    this.element = el('div', 'cosim-Control');
    this._controls = el('div', 'cosim-Control-buttons', undefined);
    this._controls.hidden = true;
    this.element.appendChild(this._controls);
    this._pauseRun = this._button('cosim-Control-pauseRun', 'Pause', 'Pause the sim for everyone');
    this._pauseRun.onclick = () =>
      this._change({ state: this._doc?.state === 'paused' ? 'running' : 'paused' });
    this._step = this._button('cosim-Control-step', 'Step', 'Advance one sync() while paused');
    this._step.onclick = () => this._change({ step: 1 });
    this._reset = this._button('cosim-Control-reset', 'Reset', 'Reset the sim with this seed');
    this._reset.onclick = () => this._change({ reset: 1 });
    this._seed = el('input', 'cosim-Control-seed');
    this._seed.type = 'number';
    this._seed.min = '0';
    this._seed.title = 'Seed passed to on_reset(seed)';
    this._seed.onchange = () => this._change({ seed: Number(this._seed.value) });
    this._controls.append(el('label', 'cosim-Control-label', 'seed'), this._seed);
    this._speed = el('select', 'cosim-Control-speed');
    this._speed.title = 'Speed: real-time factor';
    for (const speed of SPEEDS) {
      this._speed.appendChild(new Option(speed ? `${speed}×` : 'free', String(speed)));
    }
    this._speed.onchange = () => this._change({ speed: Number(this._speed.value) });
    this._controls.appendChild(this._speed);
    this._params = el('div', 'cosim-Control-params');
    this._controls.appendChild(this._params);
    this._viewOnly = el('span', 'cosim-Control-viewOnly', 'view only');
    this._viewOnly.title = 'This server is shared with you view-only: you may watch, not control';
    this._viewOnly.hidden = true;
    this.element.appendChild(this._viewOnly);
    this._status = el('span', 'cosim-Control-status');
    this.element.appendChild(this._status);
    this._avatars = el('div', 'cosim-Presence');
    this.element.appendChild(this._avatars);
  }

  get document(): IControlDocument | null {
    return this._doc;
  }

  /** A JSON message from the viewer socket; true when it was for this toolbar. */
  handle(message: Record<string, unknown>): boolean {
    if (message.type === 'control' && message.doc && typeof message.doc === 'object') {
      if (typeof message.writable === 'boolean') {
        this.setWritable(message.writable); // the server's answer, on each (re)join
      }
      this.render(message.doc as IControlDocument);
      return true;
    }
    if (message.type === 'presence' && Array.isArray(message.users)) {
      this.renderPresence(message.users.map(String));
      return true;
    }
    return false;
  }

  render(doc: IControlDocument): void {
    this._doc = doc;
    this._controls.hidden = false;
    const paused = doc.state === 'paused';
    this._pauseRun.textContent = paused ? 'Run' : 'Pause';
    this._pauseRun.setAttribute('aria-pressed', String(paused));
    this._step.disabled = !paused || !this._writable;
    if (document.activeElement !== this._seed) {
      this._seed.value = String(doc.seed);
    }
    const speed = String(doc.speed);
    if (!Array.from(this._speed.options).some(o => o.value === speed)) {
      this._speed.appendChild(new Option(`${doc.speed}×`, speed));
    }
    this._speed.value = speed;
    this._renderParams(doc);
    const last = doc.events[doc.events.length - 1];
    this._status.textContent = last ? describeEvent(last) : '';
    this.element.dataset.state = doc.state;
  }

  /**
   * Whether this user may press (the server says so when the viewer joins; the server also
   * refuses a view-only user's presses). Read-only: every control disabled, with a hint.
   */
  setWritable(writable: boolean): void {
    this._writable = writable;
    this.element.dataset.access = writable ? 'write' : 'view-only';
    this._viewOnly.hidden = writable;
    for (const node of Array.from(
      this._controls.querySelectorAll<HTMLButtonElement | HTMLInputElement | HTMLSelectElement>(
        'button, input, select'
      )
    )) {
      node.disabled = !writable || (node === this._step && this._doc?.state !== 'paused');
    }
  }

  renderPresence(users: string[]): void {
    this._avatars.replaceChildren(
      ...users.map(name => {
        const avatar = el('span', 'cosim-Avatar', name.slice(0, 2).toUpperCase());
        avatar.title = `${name} is watching`;
        avatar.dataset.user = name;
        avatar.style.background = colourOf(name);
        return avatar;
      })
    );
  }

  /** A refusal from the server (read-only, out of range): shown where the last change was. */
  note(message: string): void {
    this._status.textContent = message;
  }

  private _renderParams(doc: IControlDocument): void {
    const names = Object.keys(doc.params).sort();
    if (names.join('\n') !== this._paramNames) {
      this._paramNames = names.join('\n');
      this._params.replaceChildren(
        ...names.map(name => {
          const spec = doc.params[name];
          const label = el('label', 'cosim-Control-param');
          const slider = el('input', 'cosim-Control-slider');
          slider.type = 'range';
          slider.min = String(spec.min);
          slider.max = String(spec.max);
          slider.step = String((spec.max - spec.min) / 1000 || 1);
          slider.dataset.name = name;
          slider.disabled = !this._writable;
          const value = el('span', 'cosim-Control-value');
          slider.oninput = () => (value.textContent = Number(slider.value).toPrecision(4));
          slider.onchange = () => this._change({ params: { [name]: Number(slider.value) } });
          label.append(el('span', 'cosim-Control-name', name), slider, value);
          return label;
        })
      );
    }
    for (const slider of Array.from(this._params.querySelectorAll<HTMLInputElement>('input'))) {
      const spec = doc.params[slider.dataset.name ?? ''];
      if (spec && document.activeElement !== slider) {
        slider.value = String(spec.value);
        const value = slider.nextElementSibling;
        if (value) {
          value.textContent = spec.value.toPrecision(4);
        }
      }
    }
  }

  private _button(cls: string, label: string, title: string): HTMLButtonElement {
    const node = el('button', `cosim-Viewer-button ${cls}`, label);
    node.type = 'button';
    node.title = title;
    this._controls.appendChild(node);
    return node;
  }

  private _change(change: IControlChange): void {
    if (!this._send(change)) {
      this.note('not connected: the change was not sent');
    }
  }

  private _doc: IControlDocument | null = null;
  private _writable = true;
  private _viewOnly: HTMLSpanElement;
  private _paramNames = '';
  private _controls: HTMLDivElement;
  private _pauseRun: HTMLButtonElement;
  private _step: HTMLButtonElement;
  private _reset: HTMLButtonElement;
  private _seed: HTMLInputElement;
  private _speed: HTMLSelectElement;
  private _params: HTMLDivElement;
  private _status: HTMLSpanElement;
  private _avatars: HTMLDivElement;
}
