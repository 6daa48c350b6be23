/**
 * three.js objects for a CoSim scene: one InstancedMesh per distinct geometry, so a scene of
 * hundreds of bodies costs one draw call per shape rather than one per body. Each instance's
 * matrix is (body world pose) x (geom local pose); pose frames move only the dynamic bodies.
 */
import {
  AmbientLight,
  Box3,
  BufferGeometry,
  Color,
  DirectionalLight,
  DoubleSide,
  DynamicDrawUsage,
  FrontSide,
  Group,
  HemisphereLight,
  InstancedMesh,
  LineBasicMaterial,
  LineSegments,
  Matrix4,
  MeshStandardMaterial,
  Quaternion,
  SpotLight,
  SRGBColorSpace,
  Vector3
} from 'three';

import { IScene, ISceneCamera, ISceneGeom } from './codec';
import { geomGeometry, GRID_REACH, gridGeometry, gridStep, isFlatGround } from './geometry';

/** MuJoCo's viewer hides geom groups 3 and up (collision shapes, by convention). */
const FIRST_HIDDEN_GROUP = 3;

interface IInstanceRef {
  mesh: InstancedMesh;
  index: number;
  local: Matrix4;
  /** A ground (plane or flat floor mesh): never part of what the camera frames. */
  ground: boolean;
}

/** Something carried by a body that is not an instance: a plane's grid, a light. */
interface IAttachment {
  place(world: Matrix4): void;
}

const tmpMatrix = new Matrix4();
const tmpPos = new Vector3();
const tmpQuat = new Quaternion();
const unitScale = new Vector3(1, 1, 1);
const tmpColor = new Color();
const tmpBox = new Box3();
const tmpWorld = new Matrix4();

/** A rigid transform from a position and an (x, y, z, w) quaternion. */
export function poseMatrix(pos: ArrayLike<number>, quat: ArrayLike<number>, out: Matrix4) {
  tmpPos.set(pos[0], pos[1], pos[2]);
  tmpQuat.set(quat[0], quat[1], quat[2], quat[3]);
  if (tmpQuat.lengthSq() === 0) {
    tmpQuat.identity();
  }
  return out.compose(tmpPos, tmpQuat.normalize(), unitScale);
}

function geometryKey(geom: ISceneGeom): string {
  const size = geom.size.map(v => v.toPrecision(6)).join(',');
  return `${geom.type}|${size}|${geom.mesh ?? ''}|${(geom.rgba[3] ?? 1).toFixed(3)}`;
}

function sceneLight(
  light: IScene['json']['lights'][number],
  intensity: number,
  root: Group
): IAttachment {
  const object = light.directional
    ? new DirectionalLight(0xffffff, intensity)
    : new SpotLight(0xffffff, intensity, 0, Math.PI / 3.5, 0.5, 0);
  root.add(object, object.target);
  const local = new Vector3().fromArray(light.pos);
  const dir = new Vector3().fromArray(light.dir);
  if (!(dir.lengthSq() > 0)) {
    dir.set(0, 0, -1);
  }
  const worldDir = new Vector3();
  return {
    place(world: Matrix4) {
      object.position.copy(local).applyMatrix4(world);
      worldDir.copy(dir).transformDirection(world);
      object.target.position.copy(object.position).add(worldDir);
    }
  };
}

/** The built scene: add `root` to a THREE.Scene and feed it pose frames. */
export class BuiltScene {
  readonly root = new Group();
  readonly extent: number;
  readonly bodyNames: string[];
  /** Scene body indices of the moving bodies, in frame order. */
  readonly dynamicBodies: number[];
  readonly cameras: ISceneCamera[];

  constructor(scene: IScene) {
    const json = scene.json;
    this.extent = json.extent;
    this.bodyNames = json.bodies.map((b, i) => b.name || `body ${i}`);
    this.dynamicBodies = json.bodies.flatMap((b, i) => (b.dynamic ? [i] : []));
    this._dynamic = new Set(this.dynamicBodies);
    this.cameras = json.cameras;
    this._world = json.bodies.map(() => new Matrix4());
    this._instances = json.bodies.map(() => []);
    this._attachments = json.bodies.map(() => []);

    const groups = new Map<string, ISceneGeom[]>();
    for (const geom of json.geoms) {
      if ((geom.group ?? 0) >= FIRST_HIDDEN_GROUP || !json.bodies[geom.body]) {
        continue;
      }
      const key = geometryKey(geom);
      const list = groups.get(key) ?? [];
      list.push(geom);
      groups.set(key, list);
    }
    for (const geoms of groups.values()) {
      this._addGroup(geoms, scene);
    }
    this._addLights(scene);
    json.bodies.forEach((body, i) => this._placeBody(i, body.pos, body.quat));
    for (const mesh of this._meshes) {
      mesh.instanceMatrix.needsUpdate = true;
    }
  }

  /** One draw call per instanced mesh (grids add one each). */
  get drawCalls(): number {
    return this.root.children.filter(o => o instanceof InstancedMesh || o instanceof LineSegments)
      .length;
  }

  /** Apply one pose frame: count x 7 floats in dynamic-body order. */
  applyPoses(poses: Float32Array, count: number): void {
    const n = Math.min(count, this.dynamicBodies.length);
    for (let row = 0; row < n; row++) {
      const o = row * 7;
      this._placeBody(
        this.dynamicBodies[row],
        poses.subarray(o, o + 3),
        poses.subarray(o + 3, o + 7)
      );
    }
    for (const mesh of this._movingMeshes) {
      mesh.instanceMatrix.needsUpdate = true;
    }
  }

  /** A body's current world position. */
  bodyPosition(body: number, out: Vector3): Vector3 {
    const world = this._world[body];
    return world ? out.setFromMatrixPosition(world) : out.set(0, 0, 0);
  }

  /**
   * The world box the view should frame: the moving bodies' shapes (every shape when nothing
   * moves), never a ground plane, whose size says nothing about where the robot is.
   */
  focusBox(out: Box3): Box3 {
    out.makeEmpty();
    const moving = this.dynamicBodies.length > 0;
    this._instances.forEach((refs, body) => {
      if (moving && !this._dynamic.has(body)) {
        return;
      }
      for (const ref of refs) {
        if (!ref.ground) {
          out.union(this._instanceBox(body, ref));
        }
      }
    });
    return out;
  }

  /** The height of the highest ground's top surface, or -Infinity when there is no ground. */
  get groundTop(): number {
    let top = -Infinity;
    this._instances.forEach((refs, body) => {
      for (const ref of refs) {
        if (ref.ground && !this._dynamic.has(body)) {
          top = Math.max(top, this._instanceBox(body, ref).max.z);
        }
      }
    });
    return top;
  }

  /** A scene camera's current world pose (it looks along its -z, y up, as three's cameras do). */
  cameraMatrix(index: number, out: Matrix4): Matrix4 {
    const camera = this.cameras[index];
    const world = camera ? this._world[camera.body] : undefined;
    if (!camera || !world) {
      return out.identity();
    }
    return out.multiplyMatrices(world, poseMatrix(camera.pos, camera.quat, tmpMatrix));
  }

  dispose(): void {
    this.root.traverse(object => {
      if (object instanceof InstancedMesh || object instanceof LineSegments) {
        object.geometry.dispose();
        (object.material as MeshStandardMaterial | LineBasicMaterial).dispose();
      }
      if (object instanceof InstancedMesh) {
        object.dispose();
      }
      if (object instanceof DirectionalLight || object instanceof SpotLight) {
        object.dispose();
      }
    });
    this.root.clear();
    this._meshes = [];
    this._movingMeshes = [];
  }

  private _instanceBox(body: number, ref: IInstanceRef): Box3 {
    const geometry = ref.mesh.geometry;
    if (!geometry.boundingBox) {
      geometry.computeBoundingBox();
    }
    tmpWorld.multiplyMatrices(this._world[body], ref.local);
    return tmpBox.copy(geometry.boundingBox!).applyMatrix4(tmpWorld);
  }

  private _addGroup(geoms: ISceneGeom[], scene: IScene): void {
    const first = geoms[0];
    const geometry = geomGeometry(first, scene.meshes, this.extent);
    if (!geometry.getAttribute('position')) {
      geometry.dispose();
      return;
    }
    const ground = first.type === 'plane' || isFlatGround(geometry, this.extent);
    const opacity = Math.min(Math.max(first.rgba[3] ?? 1, 0), 1);
    const flat = first.type === 'plane' || first.type === 'mesh' || first.type === 'hfield';
    const material = new MeshStandardMaterial({
      roughness: ground ? 0.9 : 0.55,
      metalness: 0.05,
      transparent: opacity < 1,
      opacity,
      depthWrite: opacity >= 1,
      side: flat ? DoubleSide : FrontSide,
      // Push the ground back a little so its grid lines win the depth test.
      polygonOffset: ground,
      polygonOffsetFactor: 1,
      polygonOffsetUnits: 4
    });
    const mesh = new InstancedMesh(geometry, material, geoms.length);
    mesh.frustumCulled = false; // instances move; the base geometry's bounds do not
    const moving = geoms.some(g => this._dynamic.has(g.body));
    if (moving) {
      mesh.instanceMatrix.setUsage(DynamicDrawUsage);
      this._movingMeshes.push(mesh);
    }
    geoms.forEach((geom, index) => {
      const [r = 0.5, g = 0.5, b = 0.5] = geom.rgba;
      mesh.setColorAt(index, tmpColor.setRGB(r, g, b, SRGBColorSpace));
      const local = poseMatrix(geom.pos, geom.quat, new Matrix4());
      this._instances[geom.body].push({ mesh, index, local, ground });
      if (ground && !this._dynamic.has(geom.body)) {
        this._addGrid(geometry, geom.body, local);
      }
    });
    this.root.add(mesh);
    this._meshes.push(mesh);
  }

  /** Grid lines over a ground (a plane, or a flat mesh such as PyBullet's plane.urdf). */
  private _addGrid(geometry: BufferGeometry, body: number, local: Matrix4): void {
    if (!geometry.boundingBox) {
      geometry.computeBoundingBox();
    }
    const box = geometry.boundingBox;
    if (!box) {
      return;
    }
    const limit = 2 * GRID_REACH * this.extent;
    const w = Math.min(box.max.x - box.min.x, limit);
    const h = Math.min(box.max.y - box.min.y, limit);
    const center = new Matrix4().makeTranslation(
      (box.min.x + box.max.x) / 2,
      (box.min.y + box.max.y) / 2,
      box.max.z + 5e-4 * this.extent // a hair above the ground: no z-fighting with it
    );
    const placed = new Matrix4().multiplyMatrices(local, center);
    const material = new LineBasicMaterial({
      color: 0x000000,
      transparent: true,
      opacity: 0.18,
      depthWrite: false
    });
    const grid = new LineSegments(gridGeometry(w, h, gridStep(this.extent)), material);
    grid.matrixAutoUpdate = false;
    grid.frustumCulled = false;
    this.root.add(grid);
    this._attachments[body].push({
      place: world => {
        grid.matrix.multiplyMatrices(world, placed);
        grid.matrixWorldNeedsUpdate = true;
      }
    });
  }

  private _addLights(scene: IScene): void {
    this.root.add(new HemisphereLight(0xffffff, 0x8a8a8a, 1.0), new AmbientLight(0xffffff, 0.25));
    const lights = scene.json.lights.filter(l => scene.json.bodies[l.body]);
    if (lights.length === 0) {
      const sun = new DirectionalLight(0xffffff, 1.1);
      sun.position.set(0.6, -0.8, 1.5).multiplyScalar(this.extent);
      this.root.add(sun);
      return;
    }
    const intensity = 1.3 / Math.sqrt(lights.length);
    for (const light of lights) {
      this._attachments[light.body].push(sceneLight(light, intensity, this.root));
    }
  }

  private _placeBody(body: number, pos: ArrayLike<number>, quat: ArrayLike<number>): void {
    const world = poseMatrix(pos, quat, this._world[body]);
    for (const ref of this._instances[body]) {
      ref.mesh.setMatrixAt(ref.index, tmpMatrix.multiplyMatrices(world, ref.local));
    }
    for (const attachment of this._attachments[body]) {
      attachment.place(world);
    }
  }

  private _dynamic: Set<number>;
  private _world: Matrix4[];
  private _instances: IInstanceRef[][];
  private _attachments: IAttachment[][];
  private _meshes: InstancedMesh[] = [];
  private _movingMeshes: InstancedMesh[] = [];
}
