/**
 * three.js geometries for the sim's geom types. The sim's capsules and cylinders run along z;
 * three's run along y, so they are turned. Sizes follow kernels/cosim_protocol/viewer.py.
 */
import {
  BoxGeometry,
  BufferAttribute,
  BufferGeometry,
  CapsuleGeometry,
  CylinderGeometry,
  Float32BufferAttribute,
  PlaneGeometry,
  SphereGeometry
} from 'three';
import { toCreasedNormals } from 'three/examples/jsm/utils/BufferGeometryUtils.js';

import { IMeshBuffers, ISceneGeom } from './codec';

/** Faces meeting at more than this angle keep hard edges on meshes that carry no normals. */
const CREASE_ANGLE = Math.PI / 6;

/** The side of the square drawn for an infinite plane (size 0), in scene extents. */
export function infinitePlaneSize(extent: number): number {
  return Math.max(40 * extent, 20);
}

/** Plane width and height (full sizes): the geom's half sizes, or a large square for 0. */
export function planeSize(geom: ISceneGeom, extent: number): [number, number] {
  const big = infinitePlaneSize(extent);
  const [hx = 0, hy = 0] = geom.size;
  return [hx > 0 ? 2 * hx : big, hy > 0 ? 2 * hy : big];
}

function meshGeometry(geom: ISceneGeom, buffers: IMeshBuffers | undefined): BufferGeometry {
  const g = new BufferGeometry();
  if (!buffers || buffers.vertices.length === 0 || buffers.faces.length === 0) {
    return g;
  }
  const [sx = 1, sy = 1, sz = 1] = geom.type === 'mesh' ? geom.size : [];
  const scaled = sx !== 1 || sy !== 1 || sz !== 1;
  // The buffers view the scene message and may be shared by geoms of other scales: scale a copy.
  g.setAttribute(
    'position',
    new BufferAttribute(scaled ? buffers.vertices.slice() : buffers.vertices, 3)
  );
  g.setIndex(new BufferAttribute(buffers.faces, 1));
  if (buffers.normals) {
    g.setAttribute(
      'normal',
      new BufferAttribute(scaled ? buffers.normals.slice() : buffers.normals, 3)
    );
  }
  if (scaled) {
    g.scale(sx || 1, sy || 1, sz || 1); // also fixes the normals (normal matrix)
  }
  if (buffers.normals) {
    return g;
  }
  if (geom.type === 'hfield') {
    g.computeVertexNormals(); // terrain: smooth
    return g;
  }
  // CAD meshes share vertices across hard edges; averaged normals would round them off.
  const creased = toCreasedNormals(g, CREASE_ANGLE);
  g.dispose();
  return creased;
}

/** Geometry for one geom, in the geom's local frame. */
export function geomGeometry(
  geom: ISceneGeom,
  meshes: IMeshBuffers[],
  extent: number
): BufferGeometry {
  const s = geom.size;
  switch (geom.type) {
    case 'sphere':
      return new SphereGeometry(s[0], 32, 16);
    case 'ellipsoid':
      return new SphereGeometry(1, 32, 16).scale(s[0], s[1], s[2]);
    case 'box':
      return new BoxGeometry(2 * s[0], 2 * s[1], 2 * s[2]);
    case 'cylinder':
      return new CylinderGeometry(s[0], s[0], 2 * s[1], 32).rotateX(Math.PI / 2);
    case 'capsule':
      return new CapsuleGeometry(s[0], 2 * s[1], 8, 24).rotateX(Math.PI / 2);
    case 'plane': {
      const [w, h] = planeSize(geom, extent);
      return new PlaneGeometry(w, h);
    }
    case 'mesh':
    case 'hfield':
      return meshGeometry(geom, geom.mesh === null ? undefined : meshes[geom.mesh]);
    default:
      return new BufferGeometry(); // an unknown type from a newer kernel: draw nothing
  }
}

/** A nice grid spacing for a scene of this extent: 1, 2 or 5 times a power of ten. */
export function gridStep(extent: number): number {
  const raw = Math.max(extent, 1e-3) / 4;
  const power = 10 ** Math.floor(Math.log10(raw));
  const m = raw / power;
  return (m < 2 ? 1 : m < 5 ? 2 : 5) * power;
}

/** How far a ground's grid reaches from its centre, in scene extents. */
export const GRID_REACH = 5;

/**
 * Grid lines over a w x h rectangle centred on the origin, in the xy plane. Each line is cut into
 * short segments: some GL implementations drop a whole line that crosses behind the camera.
 */
export function gridGeometry(w: number, h: number, step: number): BufferGeometry {
  const positions: number[] = [];
  const nx = Math.min(Math.floor(w / 2 / step), 200);
  const ny = Math.min(Math.floor(h / 2 / step), 200);
  const piece = 5 * step;
  const segments = (a: number, b: number, emit: (p: number, q: number) => void) => {
    for (let p = a; p < b - 1e-9; p += piece) {
      emit(p, Math.min(p + piece, b));
    }
  };
  for (let i = -nx; i <= nx; i++) {
    segments(-h / 2, h / 2, (p, q) => positions.push(i * step, p, 0, i * step, q, 0));
  }
  for (let j = -ny; j <= ny; j++) {
    segments(-w / 2, w / 2, (p, q) => positions.push(p, j * step, 0, q, j * step, 0));
  }
  const g = new BufferGeometry();
  g.setAttribute('position', new Float32BufferAttribute(positions, 3));
  return g;
}

/** A flat mesh wider than the scene (PyBullet's plane.urdf is one): drawn with a grid. */
export function isFlatGround(geometry: BufferGeometry, extent: number): boolean {
  const position = geometry.getAttribute('position');
  if (!position || position.count > 1024) {
    return false;
  }
  geometry.computeBoundingBox();
  const box = geometry.boundingBox;
  if (!box) {
    return false;
  }
  const w = box.max.x - box.min.x;
  const h = box.max.y - box.min.y;
  return box.max.z - box.min.z <= 1e-6 * Math.max(w, h) && Math.min(w, h) >= 2 * extent;
}
