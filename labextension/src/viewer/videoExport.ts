/**
 * "Export video": records the view's canvas with the browser's own MediaRecorder
 * (canvas.captureStream, WebM, no ffmpeg) and hands the finished file to a `save` callback (the
 * Lab side writes it into the workspace). No Jupyter imports.
 *
 * State on the button for tests: data-exporting ("true" while recording), data-bytes (bytes
 * recorded so far), data-saved (the path of the last saved file).
 */

export interface IVideoExportOptions {
  /** The canvas to record (null while the view has none yet). */
  canvas: () => HTMLCanvasElement | null;
  /** Write the video; resolves to where it went. */
  save: (video: Blob, name: string) => Promise<string>;
  /** A file name stem, e.g. the sim's title. */
  stem: () => string;
  /** Called when recording starts (a player starts playing) and with any message to show. */
  onStart?: () => void;
  onMessage: (message: string) => void;
  fps?: number;
}

/** The first WebM type this browser records, or '' when it records none. */
export function webmType(): string {
  if (typeof MediaRecorder === 'undefined') {
    return '';
  }
  const types = ['video/webm;codecs=vp9', 'video/webm;codecs=vp8', 'video/webm'];
  return types.find(t => MediaRecorder.isTypeSupported(t)) ?? '';
}

function fileStem(text: string): string {
  return text.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '') || 'cosim';
}

function timestamp(): string {
  return new Date().toISOString().slice(0, 19).replace(/[-:]/g, '').replace('T', '-');
}

export class VideoExport {
  /** The toggle button, `.cosim-Viewer-exportVideo`. */
  readonly element: HTMLButtonElement;

  constructor(private _opts: IVideoExportOptions) {
    this.element = document.createElement('button');
    this.element.type = 'button';
    this.element.className = 'cosim-Viewer-button cosim-Viewer-exportVideo';
    this.element.onclick = () => (this.recording ? this.stop() : this.start());
    this._update();
  }

  get recording(): boolean {
    return this._recorder !== null;
  }

  start(): void {
    const canvas = this._opts.canvas();
    const type = webmType();
    if (!canvas || !type || typeof canvas.captureStream !== 'function') {
      this._opts.onMessage(
        !canvas ? 'no 3D view to record yet' : 'this browser cannot record WebM video'
      );
      return;
    }
    const stream = canvas.captureStream(this._opts.fps ?? 30);
    const recorder = new MediaRecorder(stream, { mimeType: type });
    this._chunks = [];
    this._bytes = 0;
    recorder.ondataavailable = event => {
      if (event.data.size > 0) {
        this._chunks.push(event.data);
        this._bytes += event.data.size;
        this._update();
      }
    };
    recorder.onstop = () => {
      stream.getTracks().forEach(track => track.stop());
      void this._save(new Blob(this._chunks, { type: 'video/webm' }));
    };
    this._recorder = recorder;
    recorder.start(250); // a chunk every 250 ms: the button shows progress
    this._opts.onStart?.();
    this._update();
  }

  stop(): void {
    const recorder = this._recorder;
    this._recorder = null;
    if (recorder && recorder.state !== 'inactive') {
      recorder.stop();
    }
    this._update();
  }

  dispose(): void {
    const recorder = this._recorder;
    this._recorder = null;
    if (recorder && recorder.state !== 'inactive') {
      recorder.onstop = null; // closing the view drops an unfinished video
      recorder.stop();
      recorder.stream.getTracks().forEach(track => track.stop());
    }
  }

  private async _save(video: Blob): Promise<void> {
    this._chunks = [];
    if (video.size === 0) {
      this._opts.onMessage('the video is empty: nothing was drawn while recording');
      return;
    }
    const name = `${fileStem(this._opts.stem())}-${timestamp()}.webm`;
    this.element.disabled = true;
    try {
      const path = await this._opts.save(video, name);
      this.element.dataset.saved = path;
      this._opts.onMessage(`video saved to ${path}`);
    } catch (err) {
      this._opts.onMessage(`video not saved: ${(err as Error).message}`);
    } finally {
      this.element.disabled = false;
      this._update();
    }
  }

  private _update(): void {
    const on = this.recording;
    this.element.textContent = on
      ? `Stop video (${(this._bytes / 1024).toFixed(0)} kB)`
      : 'Export video';
    this.element.title = on
      ? 'Stop recording and save the WebM into the workspace'
      : 'Record this view as a WebM video into the workspace';
    this.element.setAttribute('aria-pressed', String(on));
    Object.assign(this.element.dataset, { exporting: String(on), bytes: String(this._bytes) });
  }

  private _recorder: MediaRecorder | null = null;
  private _chunks: Blob[] = [];
  private _bytes = 0;
}
