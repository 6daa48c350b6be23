/**
 * SimView: the 3D view of one sim (three.js, no Jupyter imports). It owns the renderer, the camera
 * rig and the overlay, renders only when something changed, and shows its state on its root
 * element for tests: data-sim-id, data-state, data-frame (last applied), data-reconnects.
 */
import { Box3, Color, NeutralToneMapping, Scene, Vector3, WebGLRenderer } from 'three';

import { CameraRig, Viewpoint } from './cameraRig';
import { Frame, IScene } from './codec';
import { ConnectionState } from './connection';
import { softwareWebGL } from './glProbe';
import { captureInput, IInputCapture } from './inputCapture';
import { BuiltScene } from './sceneBuilder';

export type { Viewpoint };

const STATE_TEXT: Record<ConnectionState, string> = {
  connecting: 'connecting…',
  live: 'live',
  reconnecting: 'reconnecting…',
  ended: 'sim ended'
};
const OVERLAY_MS = 250;
const LATENCY_SAMPLES = 1000;

/** Where the camera is, for tests (`element.cosimCamera()`). */
export interface ICameraState {
  position: number[];
  target: number[];
  groundTop: number;
  /** The framed bodies' screen-space box, as shares of the canvas: [left, top, right, bottom]. */
  focusRect: number[];
}

/** Counters for tests and benchmarks (`element.cosimStats()`). */
export interface IViewStats {
  received: number;
  applied: number;
  renders: number;
  drawCalls: number;
  /**
   * publish (`v.sync()`) to paint, ms, for the most recent painted pose frames. Paint = the end
   * of the browser task that drew the frame (rAF, then commit): in Chromium's software
   * compositing (no GPU) the commit waits for the WebGL draw and reads its pixels back.
   */
  latencyMs: number[];
  /** publish to the frame's arrival in this view, ms, for the same frames as `latencyMs`. */
  receivedMs: number[];
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, cls: string, parent: HTMLElement) {
  const node = document.createElement(tag);
  node.className = cls;
  parent.appendChild(node);
  return node;
}

export class SimView {
  /** The root, `.cosim-Viewer`. */
  readonly element: HTMLDivElement;
  /** An empty bar at the top of the root for the host's controls. */
  readonly toolbar: HTMLDivElement;

  constructor(simId: string) {
    this.element = document.createElement('div');
    this.element.className = 'cosim-Viewer';
    Object.assign(this.element.dataset, { simId, frame: '0', reconnects: '0', scene: '0' });
    this.toolbar = el('div', 'cosim-Viewer-toolbar', this.element);
    this._stage = el('div', 'cosim-Viewer-stage', this.element);
    this._image = el('img', 'cosim-Viewer-pixels', this._stage);
    this._image.alt = 'sim camera image';
    this._image.hidden = true;
    const overlay = el('div', 'cosim-Viewer-overlay', this._stage);
    this._statsLine = el('div', 'cosim-Viewer-stats', overlay);
    this._stateLine = el('div', 'cosim-Viewer-stateline', overlay);
    Object.assign(this.element, {
      cosimStats: () => this.stats,
      cosimCamera: () => this.cameraState
    });

    this._three.background = new Color(0xe8ecf1);
    this._three.add(this._rig.camera);
    this._resize = new ResizeObserver(() => this._fit());
    this._resize.observe(this._stage);
    this._painted.port1.onmessage = () => this._onPainted();
    this.setState('connecting', '');
  }

  get state(): ConnectionState {
    return this._state;
  }

  get stats(): IViewStats {
    return {
      ...this._stats,
      drawCalls: this._built?.drawCalls ?? 0,
      latencyMs: [...this._lat],
      receivedMs: [...this._arrived]
    };
  }

  /** Where the camera can be put: free, following a moving body, or a scene camera. */
  get viewpoints(): { label: string; viewpoint: Viewpoint }[] {
    const built = this._built;
    if (!built) {
      return [];
    }
    return [
      { label: 'Free camera', viewpoint: { kind: 'free' } },
      ...built.dynamicBodies.map(body => ({
        label: `Follow ${built.bodyNames[body]}`,
        viewpoint: { kind: 'follow', body } as Viewpoint
      })),
      ...built.cameras.map((camera, index) => ({
        label: `Camera ${camera.name || index}`,
        viewpoint: { kind: 'camera', index } as Viewpoint
      }))
    ];
  }

  get cameraState(): ICameraState | null {
    if (!this._built) {
      return null;
    }
    const camera = this._rig.camera;
    camera.updateMatrixWorld();
    const box = this._built.focusBox(new Box3());
    const rect = [Infinity, Infinity, -Infinity, -Infinity];
    const corner = new Vector3();
    for (let i = 0; i < 8; i++) {
      corner.set(i & 1 ? box.max.x : box.min.x, i & 2 ? box.max.y : box.min.y,
        i & 4 ? box.max.z : box.min.z).project(camera); // prettier-ignore
      const x = (corner.x + 1) / 2;
      const y = (1 - corner.y) / 2;
      rect[0] = Math.min(rect[0], x);
      rect[1] = Math.min(rect[1], y);
      rect[2] = Math.max(rect[2], x);
      rect[3] = Math.max(rect[3], y);
    }
    return {
      position: camera.position.toArray(),
      target: this._rig.controls.target.toArray(),
      groundTop: this._built.groundTop,
      focusRect: rect
    };
  }

  /** Back to the first framing of the robot (the Reset view button, double-click). */
  resetView(): void {
    this._rig.resetView();
    this.element.dispatchEvent(new CustomEvent('cosim-view-reset'));
    this._requestRender();
  }

  /** Show or hide the overlay listing the mouse and key bindings. */
  toggleHelp(): void {
    this._input?.toggleHelp();
  }

  setState(state: ConnectionState, detail: string): void {
    this._state = state;
    this._detail = detail;
    this.element.dataset.state = state;
    this._updateOverlay();
  }

  setReconnects(count: number): void {
    this.element.dataset.reconnects = String(count);
  }

  /** A problem worth showing (bad message, failed command); cleared by the next state change. */
  note(message: string): void {
    this._detail = message;
    this._updateOverlay();
  }

  /** A pixel-mode sim only sends JPEG frames: skip its scene and the WebGL context it needs. */
  set pixelsOnly(value: boolean) {
    this._pixelsOnly = value;
  }

  /** Build the scene; the same scene again (sent on every reconnect) keeps the current view. */
  setScene(scene: IScene): boolean {
    if (this._pixelsOnly || scene.key === this._sceneKey || !this._ensureRenderer()) {
      return false;
    }
    const first = this._built === null;
    if (this._built) {
      this._three.remove(this._built.root);
      this._built.dispose();
    }
    this._sceneKey = scene.key;
    this.element.dataset.scene = '1';
    this._built = new BuiltScene(scene);
    this._three.add(this._built.root);
    if (first) {
      this._frameRobot();
      this._frameOnPoses = true; // again on the first live poses, unless the user moved first
    }
    this._rig.setViewpoint({ kind: 'free' }, this._built);
    this._requestRender();
    return true;
  }

  /** Apply a frame, unless the display is paused (then the latest is kept for the resume). */
  applyFrame(frame: Frame): void {
    this._stats.received++;
    if (this._paused) {
      this._pending = frame;
      return;
    }
    this._apply(frame);
  }

  get paused(): boolean {
    return this._paused;
  }

  set paused(value: boolean) {
    this._paused = value;
    const pending = this._pending;
    this._pending = null;
    if (!value && pending) {
      this._apply(pending);
    }
    this._updateOverlay();
  }

  setViewpoint(viewpoint: Viewpoint): void {
    this._rig.setViewpoint(viewpoint, this._built);
    this._requestRender();
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    this._resize.disconnect();
    clearTimeout(this._overlayTimer);
    cancelAnimationFrame(this._raf);
    this._painted.port1.close();
    this._painted.port2.close();
    this._input?.dispose();
    this._rig.dispose();
    this._built?.dispose();
    this._renderer?.dispose();
    this._renderer?.forceContextLoss(); // browsers cap live WebGL contexts: give ours back now
    if (this._imageUrl) {
      URL.revokeObjectURL(this._imageUrl);
    }
  }

  private _apply(frame: Frame): void {
    this._stats.applied++;
    this._frameTimes.push(performance.now());
    this._simTime = frame.simTime;
    this.element.dataset.frame = String(frame.number);
    if (frame.kind === 'pixels') {
      this._showPixels(frame.jpeg);
    } else {
      this._showCanvas();
      if (this._built) {
        const expected = this._built.dynamicBodies.length;
        if (frame.count !== expected && !this._countWarned) {
          this._countWarned = true;
          this.note(`frames carry ${frame.count} bodies, the scene moves ${expected}`);
        }
        this._built.applyPoses(frame.poses, frame.count);
        if (this._frameOnPoses) {
          this._frameOnPoses = false;
          this._frameRobot();
        }
        this._rig.track(this._built);
        this._paintWallTime = frame.wallTime;
        this._paintArrived = Date.now();
        this._requestRender();
      }
    }
    this._scheduleOverlay();
  }

  /** The WebGL renderer is made with the first scene, so ended sims cost no GL context. */
  private _ensureRenderer(): boolean {
    if (this._renderer) {
      return true;
    }
    try {
      // No MSAA where WebGL runs in software: there it doubled each frame's cost (glProbe.ts).
      const antialias = !softwareWebGL();
      this._renderer = new WebGLRenderer({ antialias, preserveDrawingBuffer: true });
    } catch (error) {
      this._glError = `3D view unavailable: ${error instanceof Error ? error.message : error}`;
      this._updateOverlay();
      return false;
    }
    this._renderer.setPixelRatio(Math.min(window.devicePixelRatio || 1, 2));
    this._renderer.toneMapping = NeutralToneMapping; // bright white parts keep their shading
    this._stage.insertBefore(this._renderer.domElement, this._image);
    this._rig.controls.connect(this._renderer.domElement);
    this._rig.controls.addEventListener('start', () => (this._frameOnPoses = false));
    this._input = captureInput(this._stage, this._renderer.domElement, this);
    this._fit();
    return true;
  }

  private _frameRobot(): void {
    const built = this._built;
    if (built) {
      this._rig.frame(built.focusBox(new Box3()), built.extent, built.groundTop);
      this._requestRender();
    }
  }

  private _showPixels(jpeg: Uint8Array): void {
    const previous = this._imageUrl;
    this._imageUrl = URL.createObjectURL(new Blob([jpeg as BlobPart], { type: 'image/jpeg' }));
    this._image.src = this._imageUrl;
    if (previous) {
      URL.revokeObjectURL(previous);
    }
    this._image.hidden = false;
    if (this._renderer) {
      this._renderer.domElement.hidden = true;
    }
  }

  private _showCanvas(): void {
    if (!this._image.hidden) {
      this._image.hidden = true;
      if (this._renderer) {
        this._renderer.domElement.hidden = false;
      }
    }
  }

  private _fit(): void {
    const width = this._stage.clientWidth;
    const height = this._stage.clientHeight;
    if (!this._renderer || width === 0 || height === 0) {
      return; // hidden: fit again when shown
    }
    this._renderer.setSize(width, height, false);
    this._rig.setAspect(width / height);
    this._requestRender();
  }

  private _requestRender(): void {
    if (this._raf !== 0 || this._disposed || !this._renderer) {
      return;
    }
    this._raf = requestAnimationFrame(() => {
      this._raf = 0;
      if (this._disposed || !this._renderer) {
        return;
      }
      this._renderer.render(this._three, this._rig.camera);
      this._stats.renders++;
      if (this._paintWallTime > 0) {
        // The frame is painted when this task (rAF callbacks, then the commit) has ended: the
        // next task stamps it.
        this._painting.push([this._paintWallTime * 1000, this._paintArrived]);
        this._painted.port2.postMessage(null);
        this._paintWallTime = 0;
      }
    });
  }

  private _onPainted(): void {
    const now = Date.now();
    for (const [wall, arrived] of this._painting) {
      this._lat.push(now - wall);
      this._arrived.push(arrived - wall);
    }
    this._painting = [];
    if (this._lat.length > LATENCY_SAMPLES) {
      this._lat.splice(0, this._lat.length - LATENCY_SAMPLES);
      this._arrived.splice(0, this._arrived.length - LATENCY_SAMPLES);
    }
  }

  /** The overlay is text: refresh it a few times a second at most, and once after frames stop. */
  private _scheduleOverlay(): void {
    if (this._overlayTimer === undefined) {
      this._overlayTimer = setTimeout(() => {
        this._overlayTimer = undefined;
        this._updateOverlay();
        if (this._frameTimes.length > 0) {
          this._scheduleOverlay(); // let the fps decay to 0
        }
      }, OVERLAY_MS);
    }
  }

  private _updateOverlay(): void {
    const now = performance.now();
    while (this._frameTimes.length > 0 && now - this._frameTimes[0] > 1000) {
      this._frameTimes.shift();
    }
    const frame = this.element.dataset.frame;
    this._statsLine.hidden = this._stats.applied === 0;
    this._statsLine.textContent =
      `t = ${this._simTime.toFixed(2)} s · ` +
      (this._state === 'ended' ? '' : `${this._frameTimes.length} fps · `) +
      `frame ${frame}` +
      (this._paused ? ' · display paused' : '');
    const state = STATE_TEXT[this._state];
    const detail = this._detail ? ` (${this._detail})` : '';
    this._stateLine.textContent = [state + detail, this._glError].filter(Boolean).join(' · ');
  }

  private _stage: HTMLDivElement;
  private _image: HTMLImageElement;
  private _statsLine: HTMLDivElement;
  private _stateLine: HTMLDivElement;
  private _resize: ResizeObserver;
  private _renderer: WebGLRenderer | null = null;
  private _three = new Scene();
  private _rig = new CameraRig(() => this._requestRender());
  private _built: BuiltScene | null = null;
  private _sceneKey = '';
  private _countWarned = false;
  private _frameOnPoses = false;
  private _input: IInputCapture | null = null;
  private _state: ConnectionState = 'connecting';
  private _detail = '';
  private _glError = '';
  private _paused = false;
  private _pixelsOnly = false;
  private _pending: Frame | null = null;
  private _simTime = 0;
  private _frameTimes: number[] = [];
  private _stats = { received: 0, applied: 0, renders: 0 };
  private _lat: number[] = [];
  private _arrived: number[] = [];
  private _paintWallTime = 0;
  private _paintArrived = 0;
  /** [publish, arrival] of rendered frames whose paint is not stamped yet. */
  private _painting: [number, number][] = [];
  private _painted = new MessageChannel();
  private _imageUrl = '';
  private _raf = 0;
  private _overlayTimer: ReturnType<typeof setTimeout> | undefined = undefined;
  private _disposed = false;
}
