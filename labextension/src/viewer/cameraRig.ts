/**
 * The viewer's camera: free orbit (OrbitControls), following a body, or looking through one of
 * the scene's cameras. The sim is z up, so the camera's up is +z.
 */
import {
  Box3,
  DirectionalLight,
  MathUtils,
  Matrix4,
  Object3D,
  PerspectiveCamera,
  Sphere,
  Vector3
} from 'three';
import { OrbitControls } from 'three/examples/jsm/controls/OrbitControls.js';

import { BuiltScene } from './sceneBuilder';

export type Viewpoint =
  { kind: 'free' } | { kind: 'follow'; body: number } | { kind: 'camera'; index: number };

const FREE_FOV = 45;
/** Where the default view looks from: front right, a little above (z up). */
const VIEW_DIRECTION = new Vector3(1.0, -1.4, 0.9).normalize();
/** Keep the eye this far above the ground's top, as a share of the framed radius. */
const ABOVE_GROUND = 0.02;
/** Never orbit past looking straight along the ground (radians from straight down to up). */
const MAX_POLAR = Math.PI / 2 - 0.02;
const tmpMatrix = new Matrix4();
const tmpSphere = new Sphere();
const tmpVector = new Vector3();
const tmpScale = new Vector3();

export class CameraRig {
  readonly camera = new PerspectiveCamera(FREE_FOV, 1, 0.01, 1000);
  readonly controls: OrbitControls;

  /** Call `controls.connect(canvas)` once there is a canvas. */
  constructor(onChange: () => void) {
    this.camera.up.set(0, 0, 1); // before OrbitControls, which reads it once
    this.camera.position.set(3, -4, 2.5);
    // A headlight, as in MuJoCo's viewer: whatever the camera sees is lit.
    const headlight = new DirectionalLight(0xffffff, 0.6);
    const ahead = new Object3D();
    ahead.position.set(0, 0, -1);
    headlight.target = ahead;
    this.camera.add(headlight, ahead);
    this.controls = new OrbitControls(this.camera);
    this.controls.maxPolarAngle = MAX_POLAR;
    this.controls.addEventListener('change', () => {
      this._keepAboveGround();
      onChange();
    });
  }

  get viewpoint(): Viewpoint {
    return this._viewpoint;
  }

  /**
   * The default view: looking at `focus` (the robot, not the floor) from the front right, close
   * enough that it fills most of the view. `extent` (the whole scene's size) bounds the zoom.
   * `groundTop` is the floor's height; the eye never goes below it. This view is what
   * `resetView()` goes back to.
   */
  frame(focus: Box3, extent: number, groundTop = -Infinity): void {
    const sphere = focus.isEmpty()
      ? tmpSphere.set(new Vector3(), extent / 2)
      : focus.getBoundingSphere(tmpSphere);
    const radius = Math.max(sphere.radius, extent / 1000, 1e-3);
    this._ground = groundTop;
    this._radius = radius;
    this.camera.fov = FREE_FOV;
    const half = MathUtils.degToRad(FREE_FOV / 2);
    const distance = (1.15 * radius) / Math.sin(half);
    this.camera.near = radius / 100;
    this.camera.far = Math.max(extent, distance) * 100;
    this.controls.target.copy(sphere.center);
    this.camera.position.copy(VIEW_DIRECTION).multiplyScalar(distance).add(sphere.center);
    this.controls.minDistance = radius / 20;
    this.controls.maxDistance = Math.max(extent, radius) * 50;
    this.camera.updateProjectionMatrix();
    this.controls.update();
    this._home = { position: this.camera.position.clone(), target: sphere.center.clone() };
  }

  /** Back to the framing of `frame()`, free camera. */
  resetView(): void {
    if (!this._home) {
      return;
    }
    this._viewpoint = { kind: 'free' };
    this._saved = null;
    this.controls.enabled = true;
    this.camera.fov = FREE_FOV;
    this.camera.updateProjectionMatrix();
    this.camera.position.copy(this._home.position);
    this.controls.target.copy(this._home.target);
    this.controls.update();
  }

  setAspect(aspect: number): void {
    this.camera.aspect = aspect;
    this.camera.updateProjectionMatrix();
  }

  setViewpoint(viewpoint: Viewpoint, scene: BuiltScene | null): void {
    const leaving = this._viewpoint;
    if (leaving.kind === 'camera' && viewpoint.kind !== 'camera' && this._saved) {
      this.camera.position.copy(this._saved.position);
      this.controls.target.copy(this._saved.target);
      this.camera.fov = FREE_FOV;
      this.camera.updateProjectionMatrix();
      this._saved = null;
    } else if (leaving.kind !== 'camera' && viewpoint.kind === 'camera') {
      this._saved = {
        position: this.camera.position.clone(),
        target: this.controls.target.clone()
      };
    }
    this._viewpoint = viewpoint;
    this.controls.enabled = viewpoint.kind !== 'camera';
    if (viewpoint.kind !== 'camera') {
      this.controls.update();
    }
    if (scene) {
      this.track(scene);
    }
  }

  /** Keep up with the scene after a pose frame: move with the followed body or camera. */
  track(scene: BuiltScene): void {
    const viewpoint = this._viewpoint;
    if (viewpoint.kind === 'follow') {
      const delta = scene.bodyPosition(viewpoint.body, tmpVector).sub(this.controls.target);
      this.controls.target.add(delta);
      this.camera.position.add(delta);
      this.controls.update();
    } else if (viewpoint.kind === 'camera') {
      const fovy = scene.cameras[viewpoint.index]?.fovy;
      scene
        .cameraMatrix(viewpoint.index, tmpMatrix)
        .decompose(this.camera.position, this.camera.quaternion, tmpScale);
      this.camera.fov = fovy > 0 && fovy < 180 ? fovy : FREE_FOV;
      this.camera.updateProjectionMatrix();
    }
  }

  /** Orbiting and panning never take the eye under the floor (a solid wall of ground). */
  private _keepAboveGround(): void {
    const floor = this._ground + ABOVE_GROUND * this._radius;
    if (this._viewpoint.kind !== 'camera' && this.camera.position.z < floor) {
      this.camera.position.z = floor;
    }
  }

  dispose(): void {
    this.controls.dispose();
    this.camera.traverse(o => (o instanceof DirectionalLight ? o.dispose() : undefined));
  }

  private _viewpoint: Viewpoint = { kind: 'free' };
  private _saved: { position: Vector3; target: Vector3 } | null = null;
  private _home: { position: Vector3; target: Vector3 } | null = null;
  private _ground = -Infinity;
  private _radius = 1;
}
