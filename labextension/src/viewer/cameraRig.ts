/**
 * The viewer's camera: free orbit (OrbitControls), following a body, or looking through one of
 * the scene's cameras. The sim is z up, so the camera's up is +z.
 */
import { DirectionalLight, Matrix4, Object3D, PerspectiveCamera, Vector3 } from 'three';
import { OrbitControls } from 'three/examples/jsm/controls/OrbitControls.js';

import { BuiltScene } from './sceneBuilder';

export type Viewpoint =
  { kind: 'free' } | { kind: 'follow'; body: number } | { kind: 'camera'; index: number };

const FREE_FOV = 45;
const tmpMatrix = new Matrix4();
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
    this.controls.addEventListener('change', onChange);
  }

  get viewpoint(): Viewpoint {
    return this._viewpoint;
  }

  /** The default view of a scene of this size, looking at the origin from the front right. */
  frame(extent: number): void {
    this.camera.near = extent / 200;
    this.camera.far = extent * 200;
    this.camera.fov = FREE_FOV;
    this.camera.position
      .set(1.0, -1.4, 0.9)
      .normalize()
      .multiplyScalar(2.2 * extent);
    this.controls.target.set(0, 0, 0);
    this.controls.minDistance = extent / 50;
    this.controls.maxDistance = extent * 50;
    this.camera.updateProjectionMatrix();
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

  dispose(): void {
    this.controls.dispose();
    this.camera.traverse(o => (o instanceof DirectionalLight ? o.dispose() : undefined));
  }

  private _viewpoint: Viewpoint = { kind: 'free' };
  private _saved: { position: Vector3; target: Vector3 } | null = null;
}
