/** A Lumino widget showing one sim live: SimView + SimConnection, with stop, pause and follow. */
import { Widget } from '@lumino/widgets';

import { ControlDocumentLink } from './controlDocument';
import { viewerIcon } from './icons';
import { ISimMeta, simPresence, viewerSocketUrl } from './simApi';
import { SimConnection, SimView, Viewpoint } from './viewer';
import { ControlToolbar } from './viewer/controlToolbar';
import { LiveRewind } from './viewer/liveRewind';
import { VideoExport } from './viewer/videoExport';
import { saveWorkspaceFile } from './workspaceFiles';

export interface IViewerWidgetOptions {
  simId: string;
  /** Shown until the server's hello says better. */
  title?: string;
  engine?: string;
}

/** Test hooks on the `.cosim-Viewer` element. */
export interface IViewerElement extends HTMLDivElement {
  /** Close the socket as a network drop would; the viewer reconnects. */
  cosimDrop(): void;
}

function button(parent: HTMLElement, cls: string, label: string, title: string) {
  const node = document.createElement('button');
  node.type = 'button';
  node.className = `cosim-Viewer-button ${cls}`;
  node.textContent = label;
  node.title = title;
  parent.appendChild(node);
  return node;
}

export class SimViewerWidget extends Widget {
  readonly simId: string;

  constructor(options: IViewerWidgetOptions) {
    super();
    this.simId = options.simId;
    this.addClass('cosim-ViewerWidget');
    this.title.caption = `CoSim sim ${this.simId}`;
    this.title.icon = viewerIcon;
    this._view = new SimView(this.simId);
    this.node.appendChild(this._view.element);

    const bar = this._view.toolbar;
    this._name = document.createElement('span');
    this._name.className = 'cosim-Viewer-title';
    bar.appendChild(this._name);
    this._stop = button(bar, 'cosim-Viewer-stop', 'Stop sim', 'Ask the kernel to stop this sim');
    this._stop.disabled = true;
    this._stop.onclick = () => this._stopSim();
    this._pause = button(bar, 'cosim-Viewer-pause', 'Pause display', 'Freeze this view only');
    this._pause.onclick = () => this._togglePause();
    this._follow = document.createElement('select');
    this._follow.className = 'cosim-Viewer-follow';
    this._follow.title = 'Camera: free, following a moving body, or a camera of the scene';
    this._follow.onchange = () => this._onViewpoint();
    this._follow.hidden = true; // until the scene says what there is to follow
    bar.appendChild(this._follow);
    const reset = button(bar, 'cosim-Viewer-resetView', 'Reset view',
      'Frame the robot again (or double-click the view)'); // prettier-ignore
    reset.onclick = () => this._view.resetView();
    // Export video (viewer/videoExport.ts) into the workspace's top folder.
    this._video = new VideoExport({
      canvas: () => this._view.element.querySelector('canvas'),
      save: (video, name) => saveWorkspaceFile('', name, video),
      stem: () => this.title.label,
      onMessage: message => this._view.note(message)
    });
    bar.appendChild(this._video.element);
    const help = button(bar, 'cosim-Viewer-helpButton', '?', 'Mouse and key bindings');
    help.onclick = () => this._view.toggleHelp();
    this._view.element.addEventListener('cosim-view-reset', () => {
      this._follow.selectedIndex = 0; // the reset view is the free camera
    });
    this._setTitle(options.title || `sim ${this.simId.slice(0, 8)}`, options.engine ?? '');
    // Live control and presence (viewer/controlToolbar.ts), a row under the view's toolbar.
    // A press goes through sim-control.json's RTC document (controlDocument.ts) when it can,
    // else over this viewer's socket.
    this._control = new ControlToolbar(change => {
      return (
        this._controlDocument.send(change) || this._connection.send({ type: 'control', change })
      );
    });
    bar.after(this._control.element);
    // The last minute of frames, for rewinding while the sim runs (viewer/liveRewind.ts).
    this._rewind = new LiveRewind({ draw: frame => this._view.applyFrame(frame) });
    this.node.appendChild(this._rewind.element);

    this._connection = new SimConnection({
      url: () => viewerSocketUrl(this.simId),
      presence: () => simPresence(this.simId),
      handlers: {
        onHello: meta => this._onHello(meta as Partial<ISimMeta>),
        onScene: scene => {
          if (this._view.setScene(scene)) {
            this._fillViewpoints();
          }
        },
        onFrame: frame => this._rewind.push(frame),
        onMessage: message => {
          // The first control message says whether this user may write (then presses go
          // through the file's RTC document); later ones only carry the document.
          if (
            message.type === 'control' &&
            message.writable === true &&
            typeof message.file === 'string'
          ) {
            this._controlDocument.open(message.file);
          }
          if (message.type === 'control' && typeof message.writable === 'boolean') {
            this._readOnly = !message.writable; // view-only: no Stop either (the server says)
            this._stop.disabled =
              this._readOnly || this._stopping || this._connection.state !== 'live';
          }
          this._control.handle(message);
        },
        onState: (state, detail) => {
          if (state === 'live') {
            this._connection.send({ type: 'join' }); // presence + the control document
          }
          this._view.setState(state, detail);
          this._view.setReconnects(this._connection.reconnects);
          this._stop.disabled = state !== 'live' || this._stopping || this._readOnly;
          if (state === 'ended') {
            this._stop.textContent = 'Sim ended';
            this._pause.disabled = true;
          }
        },
        onError: message => {
          this._view.note(message);
          this._control.note(message);
          console.warn(`CoSim viewer ${this.simId}: ${message}`);
        }
      }
    });
    Object.assign(this._view.element, { cosimDrop: () => this._connection.drop() });
  }

  get view(): SimView {
    return this._view;
  }

  get connection(): SimConnection {
    return this._connection;
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    window.removeEventListener('online', this._online);
    this._controlDocument.dispose();
    this._connection.dispose();
    this._video.dispose();
    this._rewind.dispose();
    this._view.dispose();
    super.dispose();
  }

  /** Connect on first attach; a detach (notebook windowing, tab moves) keeps the connection. */
  protected onAfterAttach(): void {
    if (!this._started) {
      this._started = true;
      window.addEventListener('online', this._online);
      void this._connection.start();
    }
  }

  private _onHello(meta: Partial<ISimMeta>): void {
    this._view.pixelsOnly = meta.mode === 'pixels';
    if (typeof meta.title === 'string' && meta.title) {
      this._setTitle(meta.title, typeof meta.engine === 'string' ? meta.engine : '');
    }
  }

  private _setTitle(title: string, engine: string): void {
    this._name.textContent = engine ? `${title} · ${engine}` : title;
    this.title.label = title;
  }

  private _stopSim(): void {
    if (this._connection.send({ type: 'stop' })) {
      this._stopping = true;
      this._stop.disabled = true;
      this._stop.textContent = 'Stopping…';
    } else {
      this._view.note('not connected: the stop was not sent');
    }
  }

  private _togglePause(): void {
    const paused = !this._view.paused;
    this._view.paused = paused;
    this._pause.textContent = paused ? 'Resume display' : 'Pause display';
    this._pause.setAttribute('aria-pressed', String(paused));
  }

  private _fillViewpoints(): void {
    this._viewpoints = this._view.viewpoints.map(v => v.viewpoint);
    this._follow.replaceChildren(
      ...this._view.viewpoints.map((v, i) => new Option(v.label, String(i)))
    );
    this._follow.hidden = this._viewpoints.length < 2;
  }

  private _onViewpoint(): void {
    const viewpoint = this._viewpoints[Number(this._follow.value)];
    if (viewpoint) {
      this._view.setViewpoint(viewpoint);
    }
  }

  private _online = () => this._connection.retryNow();
  private _view: SimView;
  private _control: ControlToolbar;
  // data-road on the control row says which road presses take now (a test hook, and a hint).
  private _controlDocument = new ControlDocumentLink(viaDocument => {
    this._control.element.dataset.road = viaDocument ? 'document' : 'socket';
  });
  private _rewind: LiveRewind;
  private _video: VideoExport;
  private _connection: SimConnection;
  private _name: HTMLSpanElement;
  private _stop: HTMLButtonElement;
  private _pause: HTMLButtonElement;
  private _follow: HTMLSelectElement;
  private _viewpoints: Viewpoint[] = [];
  private _started = false;
  private _stopping = false;
  private _readOnly = false;
}
