/**
 * Opening a `.cosimrec` file in Lab: a document widget that reads the file, builds its scene
 * in a SimView and plays its frames with a Timeline. A file it cannot read shows the reader's
 * message in place of the view; nothing is thrown into the page.
 */
import { PathExt } from '@jupyterlab/coreutils';
import { ABCWidgetFactory, DocumentRegistry, DocumentWidget } from '@jupyterlab/docregistry';
import { Widget } from '@lumino/widgets';

import { viewerIcon } from './icons';
import { IAwarenessLike, PresenterFollow } from './viewer/presenterFollow';
import { RecordingReader } from './viewer/recordingReader';
import { Timeline } from './viewer/timeline';
import { VideoExport } from './viewer/videoExport';
import { saveWorkspaceFile } from './workspaceFiles';

export const RECORDING_FACTORY = 'CoSim Recording';
export const RECORDING_FILE_TYPE = 'cosim-recording';

function base64Bytes(text: string): ArrayBuffer {
  const binary = atob(text.replace(/\s/g, ''));
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) {
    bytes[i] = binary.charCodeAt(i);
  }
  return bytes.buffer;
}

/** The view and timeline of one recording. */
export class RecordingPlayer extends Widget {
  constructor(
    private _context: DocumentRegistry.Context,
    private _awareness: IAwarenessLike | null = null
  ) {
    super();
    this.addClass('cosim-RecordingPlayer');
    void _context.ready.then(() => this._load());
  }

  dispose(): void {
    this._follow?.dispose();
    this._video?.dispose();
    this._timeline?.dispose();
    this._view?.dispose();
    super.dispose();
  }

  private async _load(): Promise<void> {
    const { SimView, decodeScene } = await import('./viewer');
    if (this.isDisposed) {
      return;
    }
    let reader: RecordingReader;
    try {
      reader = new RecordingReader(base64Bytes(this._context.model.toString()));
    } catch (err) {
      const error = document.createElement('div');
      error.className = 'cosim-RecordingPlayer-error';
      error.textContent = `Cannot open this recording: ${(err as Error).message}`;
      this.node.appendChild(error);
      return;
    }
    const view = new SimView(reader.header.sim_id ?? 'recording');
    this._view = view;
    this.node.appendChild(view.element);
    const name = document.createElement('span');
    name.className = 'cosim-Viewer-title';
    name.textContent = `${reader.header.title} · ${reader.header.engine} · recording`;
    view.toolbar.appendChild(name);
    try {
      view.setScene(decodeScene(reader.sceneBuffer));
    } catch (err) {
      view.note(`scene: ${(err as Error).message}`);
    }
    view.setState('ended', reader.truncated ? 'recording cut short' : 'recording');
    const follow = document.createElement('select');
    follow.className = 'cosim-Viewer-follow';
    const viewpoints = view.viewpoints;
    viewpoints.forEach((v, i) => follow.appendChild(new Option(v.label, String(i))));
    follow.onchange = () => view.setViewpoint(viewpoints[Number(follow.value)].viewpoint);
    view.toolbar.appendChild(follow);
    const simId = reader.header.sim_id ?? '';
    const timeline = new Timeline({
      frameCount: reader.frameCount,
      startTime: reader.startTime,
      endTime: reader.endTime,
      timeOf: j => reader.frame(j).time,
      frameAt: t => reader.frameAt(t),
      seek: j => {
        this._follow?.moved();
        try {
          const frame = reader.frame(j);
          view.applyFrame({
            kind: 'poses',
            number: frame.number,
            simTime: frame.time,
            wallTime: Date.now() / 1000,
            simId,
            count: reader.bodies,
            poses: frame.poses
          });
        } catch (err) {
          timeline.pause();
          view.note(`frame ${j + 1}: ${(err as Error).message}`);
        }
      },
      marks: reader.events.map(e => ({ t: e.t, label: e.user ? `${e.kind} (${e.user})` : e.kind }))
    });
    this._timeline = timeline;
    // Export video: plays from the current frame; saved next to the recording.
    const video = new VideoExport({
      canvas: () => view.element.querySelector('canvas'),
      save: (blob, file) => saveWorkspaceFile(PathExt.dirname(this._context.path), file, blob),
      stem: () => PathExt.basename(this._context.path, '.cosimrec'),
      onStart: () => timeline.play(),
      onMessage: message => view.note(message)
    });
    this._video = video;
    view.toolbar.appendChild(video.element);
    // Presenter follow over the server's shared awareness (absent without jupyter-collaboration).
    if (this._awareness) {
      this._follow = new PresenterFollow({
        awareness: this._awareness,
        path: this._context.path,
        currentTime: () => (reader.frameCount ? reader.frame(timeline.frame).time : 0),
        showTime: t => {
          timeline.pause();
          timeline.show(reader.frameAt(t));
        }
      });
      view.toolbar.appendChild(this._follow.element);
    }
    this.node.appendChild(timeline.element);
    if (reader.frameCount > 0) {
      timeline.show(0);
    }
  }

  private _view: { dispose(): void; element: HTMLElement } | null = null;
  private _timeline: Timeline | null = null;
  private _video: VideoExport | null = null;
  private _follow: PresenterFollow | null = null;
}

export class RecordingDocument extends DocumentWidget<RecordingPlayer> {}

export class RecordingFactory extends ABCWidgetFactory<RecordingDocument> {
  /** The server's shared awareness, for presenter follow (null: no follow). */
  awareness: IAwarenessLike | null = null;

  protected createNewWidget(context: DocumentRegistry.Context): RecordingDocument {
    const content = new RecordingPlayer(context, this.awareness);
    const widget = new RecordingDocument({ content, context });
    widget.title.icon = viewerIcon;
    return widget;
  }
}
