/** The sim viewer without Jupyter: wire codecs, three.js scene, view and connection. */
export * from './codec';
export * from './connection';
export * from './cameraRig';
export * from './sceneBuilder';
export * from './simView';
