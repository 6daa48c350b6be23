/**
 * The viewer toolbar's road to `sim-control.json` (issue 18): toolbar -> the file's RTC document
 * (jupyter-collaboration) -> the server observes it -> Redis -> the kernel.
 *
 * The file's shared model is opened headlessly through jupyter-collaboration's content provider
 * (the same room Lab's editor of the file joins; no editor is shown). A press is queued in that
 * Y document's press array (`PRESSES`) as one JSON change; the server takes it, credited to the
 * hub user whose room socket sent it, validates it and applies it in order, then empties the
 * array. Queued increments (step, reset) let two people pressing at once both count.
 *
 * Presses go this way only while the room is synced and the server says it observes it
 * (`ROOM_STATE[ROOM_SERVER_KEY]`); otherwise (no jupyter-collaboration, the room still loading)
 * `send` returns false and the caller presses over the viewer socket, which the server checks
 * for write permission as well. A read-only visitor's viewer never opens the room (the server's
 * first control message says `writable: false`); the server drops their updates anyway.
 */
import { ICollaborativeContentProvider } from '@jupyter/collaborative-drive';
import { JupyterFrontEndPlugin } from '@jupyterlab/application';

import { PRESSES, ROOM_SERVER_KEY, ROOM_STATE } from './protocol/control';
import type { IControlChange } from './protocol/control';

/** The parts of a Y document this module uses (Lab shares one yjs; no import of our own). */
interface IYDocLike {
  getArray<T>(name: string): { push(items: T[]): void };
  getMap<T>(name: string): { get(key: string): T | undefined; observe(f: () => void): void };
}

interface ISharedFileLike {
  readonly ydoc: IYDocLike;
  readonly isDisposed: boolean;
  dispose(): void;
}

let collaboration: ICollaborativeContentProvider | null = null;

/** Hands jupyter-collaboration's content provider to the viewers (a MIME renderer cannot ask
 * for tokens itself); without jupyter-collaboration toolbars press over their sockets. */
export const controlDocumentPlugin: JupyterFrontEndPlugin<void> = {
  id: '@cosim/labextension:control-document',
  description: 'Lets viewer toolbars press through the RTC document of sim-control.json.',
  autoStart: true,
  optional: [ICollaborativeContentProvider],
  activate: (_app, provider: ICollaborativeContentProvider | null) => {
    collaboration = provider;
  }
};

export class ControlDocumentLink {
  /** `onRoad(true)` once presses go through the document, `onRoad(false)` when they stop. */
  constructor(private readonly _onRoad: (viaDocument: boolean) => void = () => undefined) {}

  /** Open (or switch to) the RTC document of `path` (relative to the server's root). */
  open(path: string): void {
    if (path === this._path || !collaboration) {
      return;
    }
    this.dispose();
    this._path = path;
    const options = { path, format: 'text' as const, contentType: 'file', collaborative: true };
    const model = collaboration.sharedModelFactory.createNew(options) as unknown as
      ISharedFileLike | undefined;
    if (!model) {
      return; // collaboration off, or no shared model for plain files
    }
    this._model = model;
    const provider = collaboration.providers.get(`text:file:${path}`);
    if (!provider) {
      return;
    }
    provider.ready.then(
      () => {
        if (this._model === model && !model.isDisposed) {
          this._synced = true;
          model.ydoc.getMap<boolean>(ROOM_STATE).observe(() => this._update());
          this._update();
        }
      },
      () => undefined // refused (read-only) or failed: presses stay on the socket
    );
  }

  /** Queue `change` in the document; false when this road is not open (use the socket). */
  send(change: IControlChange): boolean {
    const model = this._model;
    if (!this._usable() || !model) {
      return false;
    }
    model.ydoc.getArray<string>(PRESSES).push([JSON.stringify(change)]);
    return true;
  }

  dispose(): void {
    this._model?.dispose();
    this._model = null;
    this._synced = false;
    this._path = '';
    this._update();
  }

  /** Synced, and the server says it takes presses from the room. */
  private _usable(): boolean {
    const model = this._model;
    return (
      !!model &&
      !model.isDisposed &&
      this._synced &&
      model.ydoc.getMap<boolean>(ROOM_STATE).get(ROOM_SERVER_KEY) === true
    );
  }

  private _update(): void {
    const road = this._usable();
    if (road !== this._road) {
      this._road = road;
      this._onRoad(road);
    }
  }

  private _path = '';
  private _model: ISharedFileLike | null = null;
  private _synced = false;
  private _road = false;
}
