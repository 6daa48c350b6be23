/** Every command id the CoSim Lab extension registers, in one place (plugins and tests use these). */
export const CommandIDs = {
  // launcher.ts
  newSimNotebook: 'cosim:new-sim-notebook',
  openStarter: 'cosim:open-starter',
  help: 'cosim:help',
  showStatus: 'cosim:show-status',
  // viewerPlugin.ts
  openViewer: 'cosim:open-viewer',
  showViewerPanel: 'cosim:show-viewer-panel',
  // jobsPlugin.ts
  newJob: 'cosim:new-job',
  showJobsPanel: 'cosim:show-jobs-panel',
  openTensorBoard: 'cosim:open-tensorboard',
  // snapshotsPlugin.ts
  showSnapshotsPanel: 'cosim:show-snapshots-panel',
  snapshotDiff: 'cosim:snapshot-diff',
  // buildPlugin.ts
  buildCppFolder: 'cosim:build-cpp-folder',
  // coursesPlugin.ts
  showCoursesPanel: 'cosim:show-courses-panel',
  // shareDialog.ts
  share: 'cosim:share'
} as const;
