/**
 * Presenter follow for recordings: a presenter publishes the playhead of the recording they show
 * in the shared awareness of the Jupyter server (jupyter-collaboration's global awareness, the one
 * every collaborator's Lab is connected to); collaborators who open the same recording pick the
 * presenter from a list and their timeline shows the same time. No Jupyter imports: the host
 * passes the awareness in.
 *
 * State on the root for tests: data-presenting, data-following (client id or '').
 */

/** The part of a y-protocols Awareness used here. */
export interface IAwarenessLike {
  clientID: number;
  getStates(): Map<number, Record<string, unknown>>;
  setLocalStateField(field: string, value: unknown): void;
  on(event: 'change', listener: () => void): void;
  off(event: 'change', listener: () => void): void;
}

/** What a presenter publishes under `PLAYHEAD_FIELD`. */
export interface IPlayhead {
  path: string;
  /** Sim time shown, seconds. */
  time: number;
}

export const PLAYHEAD_FIELD = 'cosimPlayhead';
const PUBLISH_MS = 100;

export interface IPresenterFollowOptions {
  awareness: IAwarenessLike;
  /** The recording's workspace path: only presenters of the same file are listed. */
  path: string;
  /** The time shown now, and showing a presenter's time. */
  currentTime: () => number;
  showTime: (time: number) => void;
}

function userName(state: Record<string, unknown>): string {
  const user = (state.user ?? {}) as Record<string, unknown>;
  return String(user.display_name || user.name || user.username || 'someone');
}

export class PresenterFollow {
  /** `.cosim-Follow`: a Present toggle and the list of presenters to follow. */
  readonly element: HTMLDivElement;

  constructor(private _opts: IPresenterFollowOptions) {
    this.element = document.createElement('div');
    this.element.className = 'cosim-Follow';
    this._present = document.createElement('button');
    this._present.type = 'button';
    this._present.className = 'cosim-Viewer-button cosim-Follow-present';
    this._present.onclick = () => this._setPresenting(!this._presenting);
    this._select = document.createElement('select');
    this._select.className = 'cosim-Follow-select';
    this._select.title = "Follow a presenter's playhead in this recording";
    this._select.onchange = () => this._follow(Number(this._select.value) || 0);
    this.element.append(this._present, this._select);
    _opts.awareness.on('change', this._onChange);
    this._onChange();
  }

  /** The host calls this whenever its playhead moved. */
  moved(): void {
    if (!this._presenting || this._timer !== undefined) {
      return;
    }
    this._publish();
    this._timer = setTimeout(() => {
      this._timer = undefined;
      this._publish(); // the trailing position after a burst of moves
    }, PUBLISH_MS);
  }

  dispose(): void {
    clearTimeout(this._timer);
    this._opts.awareness.off('change', this._onChange);
    if (this._presenting) {
      this._opts.awareness.setLocalStateField(PLAYHEAD_FIELD, null);
    }
  }

  private _setPresenting(on: boolean): void {
    this._presenting = on;
    if (on) {
      this._follow(0);
      this._publish();
    } else {
      this._opts.awareness.setLocalStateField(PLAYHEAD_FIELD, null);
    }
    this._update();
  }

  private _publish(): void {
    const playhead: IPlayhead = { path: this._opts.path, time: this._opts.currentTime() };
    this._opts.awareness.setLocalStateField(PLAYHEAD_FIELD, playhead);
  }

  private _follow(client: number): void {
    this._following = client;
    if (client && this._presenting) {
      this._setPresenting(false);
    }
    this._onChange();
  }

  /** Someone's awareness changed: refresh the list and follow the chosen presenter's time. */
  private _onChange = (): void => {
    const { awareness, path } = this._opts;
    const presenters: [number, string, IPlayhead][] = [];
    awareness.getStates().forEach((state, client) => {
      const playhead = state[PLAYHEAD_FIELD] as IPlayhead | null | undefined;
      if (client !== awareness.clientID && playhead && playhead.path === path) {
        presenters.push([client, userName(state), playhead]);
      }
    });
    const followed = presenters.find(([client]) => client === this._following);
    if (this._following && !followed) {
      this._following = 0; // the presenter stopped or left
    }
    const options = [new Option('Follow nobody', '0')];
    for (const [client, name] of presenters) {
      options.push(new Option(`Follow ${name}`, String(client)));
    }
    this._select.replaceChildren(...options);
    this._select.value = String(this._following);
    this._select.hidden = presenters.length === 0 && !this._following;
    if (followed && Math.abs(followed[2].time - this._opts.currentTime()) > 1e-9) {
      this._opts.showTime(followed[2].time);
    }
    this._update();
  };

  private _update(): void {
    this._present.textContent = this._presenting ? 'Stop presenting' : 'Present';
    this._present.title = this._presenting
      ? 'Collaborators following you see your playhead'
      : 'Let collaborators who open this recording follow your playhead';
    this._present.setAttribute('aria-pressed', String(this._presenting));
    Object.assign(this.element.dataset, {
      presenting: String(this._presenting),
      following: this._following ? String(this._following) : ''
    });
  }

  private _present: HTMLButtonElement;
  private _select: HTMLSelectElement;
  private _presenting = false;
  private _following = 0;
  private _timer: ReturnType<typeof setTimeout> | undefined = undefined;
}
